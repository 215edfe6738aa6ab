import time
from datetime import UTC, datetime

import pytest

from common.messages.tasks import InvalidTask, Task
from common.seams import Delivery
from subscriber.workqueue.work import count_primes, execute, run_task


def test_count_primes() -> None:
    assert [count_primes(n) for n in (0, 2, 3, 10, 100, 1000)] == [0, 0, 1, 4, 25, 168]


def test_execute() -> None:
    assert execute(Task("t", "primes", 100)) == "25 primes"
    assert execute(Task("channel-9", "channel", note="52 News")) == "channel 52 News"
    started = time.monotonic()
    assert execute(Task("t", "spin", 0.2)).startswith("spun ")
    assert time.monotonic() - started >= 0.2, "it spins for the time asked"
    with pytest.raises(RuntimeError, match="asked to fail"):
        execute(Task("t", "fail"))


def test_the_demo_task_function_decodes_then_runs_a_task() -> None:
    def message(data: bytes) -> Delivery:
        return Delivery("m-1", data, {}, datetime(2026, 11, 22, tzinfo=UTC), 1)

    data, _ = Task("task-7", "primes", 100).encode()
    assert run_task(message(data)) == "task=task-7 primes below 100: 25 primes"
    with pytest.raises(InvalidTask, match="neither a task nor a channel message"):
        run_task(message(b"[]"))
