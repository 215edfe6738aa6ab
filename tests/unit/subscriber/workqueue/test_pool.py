"""The process pool with real worker processes (no broker needed)."""

import os
import signal
import time
from collections.abc import Iterator

import pytest

from common.messages.tasks import Task
from subscriber.workqueue.pool import Outcome, ProcessSlots


@pytest.fixture
def slots() -> Iterator[ProcessSlots]:
    pool = ProcessSlots(2)
    yield pool
    pool.close()


def collect(pool: ProcessSlots, count: int, timeout: float = 30) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    deadline = time.monotonic() + timeout
    while len(outcomes) < count:
        assert time.monotonic() < deadline, f"only {outcomes} after {timeout}s"
        outcomes.update(pool.wait(0.5))
    return outcomes


def test_tasks_run_in_parallel_processes(slots: ProcessSlots) -> None:
    assert (slots.size, slots.free()) == (2, 2)
    first = slots.start(Task("a", "primes", 1000))
    second = slots.start(Task("b", "fail"))
    assert {first, second} == {0, 1}
    assert slots.free() == 0
    outcomes = collect(slots, 2)
    assert outcomes[first] == Outcome(True, "168 primes")
    assert outcomes[second] == Outcome(False, "RuntimeError: task b asked to fail")
    assert slots.free() == 2


def test_a_killed_task_frees_its_slot_for_a_new_process(slots: ProcessSlots) -> None:
    stuck = slots.start(Task("stuck", "spin", 3600))
    assert slots.wait(0.3) == []
    slots.kill(stuck)
    assert slots.free() == 2
    again = slots.start(Task("next", "primes", 100))
    assert collect(slots, 1)[again] == Outcome(True, "25 primes")


def test_a_process_dying_under_its_task_is_reported(slots: ProcessSlots) -> None:
    number = slots.start(Task("doomed", "spin", 3600))
    os.kill(slots._slots[number].process.pid or 0, signal.SIGKILL)
    assert collect(slots, 1)[number] == Outcome(False, "the worker process died")
    assert collect_next(slots) == Outcome(True, "25 primes")


def collect_next(pool: ProcessSlots) -> Outcome:
    number = pool.start(Task("after", "primes", 100))
    return collect(pool, 1)[number]
