import time

import pytest

from common.messages.tasks import Task
from subscriber.workqueue.work import count_primes, execute


def test_count_primes() -> None:
    assert [count_primes(n) for n in (0, 2, 3, 10, 100, 1000)] == [0, 0, 1, 4, 25, 168]


def test_execute() -> None:
    assert execute(Task("t", "primes", 100)) == "25 primes"
    assert execute(Task("channel-9", "channel", note="52 News")) == "channel 52 News"
    started = time.monotonic()
    assert execute(Task("t", "spin", 0.2)).startswith("spun ")
    assert 0.2 <= time.monotonic() - started < 2
    with pytest.raises(RuntimeError, match="asked to fail"):
        execute(Task("t", "fail"))
