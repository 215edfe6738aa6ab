"""The process pool with real worker processes (no broker needed)."""

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.messages.tasks import Task
from common.seams import Delivery
from subscriber.workqueue.pool import Outcome, ProcessSlots
from subscriber.workqueue.work import DEFAULT_TASK_FUNCTION


@pytest.fixture
def slots() -> Iterator[ProcessSlots]:
    pool = ProcessSlots(2, DEFAULT_TASK_FUNCTION)
    yield pool
    pool.close()


def message(task: Task | bytes) -> Delivery:
    """A delivery of the demo's task (or of any body), as the worker hands it over."""
    data = task if isinstance(task, bytes) else task.encode()[0]
    return Delivery("m-1", data, {}, datetime(2026, 11, 22, tzinfo=UTC), 1)


def collect(pool: ProcessSlots, count: int, timeout: float = 30) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    deadline = time.monotonic() + timeout
    while len(outcomes) < count:
        assert time.monotonic() < deadline, f"only {outcomes} after {timeout}s"
        outcomes.update(pool.wait(0.5))
    return outcomes


def test_tasks_run_in_parallel_processes(slots: ProcessSlots) -> None:
    assert (slots.size, slots.free()) == (2, 2)
    first = slots.start(message(Task("a", "primes", 1000)))
    second = slots.start(message(Task("b", "fail")))
    assert {first, second} == {0, 1}
    assert slots.free() == 0
    outcomes = collect(slots, 2)
    assert outcomes[first] == Outcome(True, "task=a primes below 1000: 168 primes")
    assert outcomes[second] == Outcome(False, "RuntimeError: task b asked to fail")
    assert slots.free() == 2


def test_a_killed_task_frees_its_slot_for_a_new_process(slots: ProcessSlots) -> None:
    stuck = slots.start(message(Task("stuck", "spin", 3600)))
    assert slots.wait(0.3) == []
    slots.kill(stuck)
    assert slots.free() == 2
    again = slots.start(message(Task("next", "primes", 100)))
    assert collect(slots, 1)[again] == Outcome(True, "task=next primes below 100: 25 primes")


def test_a_process_dying_under_its_task_is_reported(slots: ProcessSlots) -> None:
    number = slots.start(message(Task("doomed", "spin", 3600)))
    os.kill(slots._slots[number].process.pid or 0, signal.SIGKILL)
    assert collect(slots, 1)[number] == Outcome(False, "the worker process died")
    assert collect_next(slots) == Outcome(True, "task=after primes below 100: 25 primes")


def collect_next(pool: ProcessSlots) -> Outcome:
    number = pool.start(message(Task("after", "primes", 100)))
    return collect(pool, 1)[number]


def test_each_process_runs_the_task_function_it_is_given() -> None:
    # A function of the standard library as the task function: the slots care only that
    # it imports in the process and takes the message.
    pool = ProcessSlots(1, "builtins:repr")
    try:
        number = pool.start(message(b"body"))
        outcome = collect(pool, 1)[number]
        assert outcome.ok
        assert outcome.text.startswith("Delivery(message_id='m-1', data=b'body'")
    finally:
        pool.close()


def test_a_task_function_that_does_not_load_in_the_process_fails_each_task() -> None:
    pool = ProcessSlots(1, "no_such_module_here:run")
    try:
        number = pool.start(message(b"body"))
        outcome = collect(pool, 1)[number]
        assert not outcome.ok
        assert "cannot load TASK_FUNCTION=no_such_module_here:run: no module named" in (
            outcome.text
        )
    finally:
        pool.close()


def test_a_bad_body_fails_in_the_process_not_in_the_worker(slots: ProcessSlots) -> None:
    number = slots.start(message(b"\x00 not a task"))
    outcome = collect(slots, 1)[number]
    assert not outcome.ok
    assert outcome.text.startswith("InvalidTask: neither a task nor a channel message")


def test_a_process_start_up_does_not_count_against_its_first_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A task function whose module takes 1.5 s to import (a heavy library, say).
    (tmp_path / "slow_import_task.py").write_text(
        "import time\ntime.sleep(1.5)\n\ndef run(message):\n    return 'ran'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned processes get the parent's path
    started = time.monotonic()
    pool = ProcessSlots(1, "slow_import_task:run")
    try:
        assert time.monotonic() - started >= 1.5, "the pool waits for its process"
        handed_over = time.monotonic()
        number = pool.start(message(b"body"))
        assert collect(pool, 1)[number] == Outcome(True, "ran")
        # From hand-over to outcome, which is what the deadline measures: no import in it.
        assert time.monotonic() - handed_over < 1.0
    finally:
        pool.close()
