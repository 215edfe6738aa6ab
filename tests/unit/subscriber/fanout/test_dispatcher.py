"""The fan-out dispatcher: the handler on a pool of threads, each message settled once."""

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from common.receive import Received
from common.seams import Delivery
from subscriber.fanout.dispatcher import Dispatcher
from tests.support.fake_pubsub import received

SUBSCRIPTION = "projects/p/subscriptions/channel-r1"


class Settled:
    """Where messages' acks and nacks go, and the outcomes reported."""

    def __init__(self) -> None:
        self.done = threading.Condition()
        self.acks: dict[str, bool] = {}
        self.outcomes: list[tuple[str, str, int | None]] = []

    def settle(self, message: Received, ack: bool) -> None:
        with self.done:
            self.acks[message.message_id] = ack
            self.done.notify_all()

    def outcome(self, message_id: str, outcome: str, attempt: int | None) -> None:
        with self.done:
            self.outcomes.append((message_id, outcome, attempt))
            self.done.notify_all()

    def wait(self, count: int) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.outcomes) >= count, 5)


@pytest.fixture
def settled() -> Settled:
    return Settled()


def dispatcher_for(
    handler: object, settled: Settled, threads: int = 2, cap: float = 3600
) -> Dispatcher:
    return Dispatcher(
        handler,  # type: ignore[arg-type]
        subscription=SUBSCRIPTION,
        threads=threads,
        max_delivery_attempts=5,
        max_lease_seconds=cap,
        on_outcome=settled.outcome,
    )


def message(settled: Settled, data: bytes, message_id: str, attempt: int = 1) -> Received:
    return received(data, message_id, attempt, settle=settled.settle)


@pytest.fixture
def stopped() -> Iterator[list[Dispatcher]]:
    made: list[Dispatcher] = []
    yield made
    for dispatcher in made:
        dispatcher.stop()


def test_returning_acks_and_raising_nacks(
    settled: Settled, caplog: pytest.LogCaptureFixture, stopped: list[Dispatcher]
) -> None:
    def handler(delivery: Delivery) -> None:
        if delivery.data == b"bad":
            raise ValueError("not a channel message")

    dispatcher = dispatcher_for(handler, settled)
    stopped.append(dispatcher)
    dispatcher.submit(message(settled, b"good", "1"))
    dispatcher.submit(message(settled, b"bad", "2", attempt=5))
    settled.wait(2)
    assert settled.acks == {"1": True, "2": False}
    assert sorted(settled.outcomes) == [("1", "acked", 1), ("2", "rejected", 5)]
    assert (dispatcher.handled, dispatcher.rejected) == (1, 1)
    (line,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert getattr(line, "fields", None) == {
        "event": "rejected",
        "message_id": "2",
        "reason": "not a channel message",
        "attempt": 5,
    }
    assert "not a channel message; nacked on attempt 5 of 5: Pub/Sub now dead-letters it" in (
        line.getMessage()
    )


@pytest.mark.parametrize(
    "error",
    [SystemExit(0), KeyboardInterrupt(), asyncio.CancelledError(), GeneratorExit()],
    ids=type,
)
def test_a_base_exception_rejects_its_message_and_the_thread_goes_on(
    settled: Settled, error: BaseException, stopped: list[Dispatcher]
) -> None:
    def handler(delivery: Delivery) -> None:
        if delivery.data == b"exit":
            raise error

    dispatcher = dispatcher_for(handler, settled, threads=1)
    stopped.append(dispatcher)
    dispatcher.submit(message(settled, b"exit", "1"))
    dispatcher.submit(message(settled, b"fine", "2"))
    settled.wait(2)
    assert settled.acks == {"1": False, "2": True}, "the one thread handled the next message"


def test_a_handler_returning_a_coroutine_rejects_its_message(
    settled: Settled, stopped: list[Dispatcher]
) -> None:
    async def work() -> None:
        pass

    def handler(delivery: Delivery) -> object:
        return work()

    dispatcher = dispatcher_for(handler, settled)
    stopped.append(dispatcher)
    dispatcher.submit(message(settled, b"x", "1"))
    settled.wait(1)
    assert settled.acks == {"1": False}, "never acked undone"


def test_stop_hands_back_what_is_queued_and_lets_the_running_finish(settled: Settled) -> None:
    release, running = threading.Event(), threading.Event()

    def handler(delivery: Delivery) -> None:
        running.set()
        release.wait(5)

    dispatcher = dispatcher_for(handler, settled, threads=1)
    for n in range(3):
        dispatcher.submit(message(settled, b"x", str(n)))
    assert running.wait(5)
    dispatcher.stop()
    assert settled.acks == {"1": False, "2": False}, "queued: nacked at once"
    release.set()
    settled.wait(1)
    assert settled.acks["0"] is True, "the running handler finished and acked"


def test_stuck_when_every_thread_is_held_past_the_cap(settled: Settled) -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def handler(delivery: Delivery) -> None:
        started.release()
        release.wait(5)

    dispatcher = dispatcher_for(handler, settled, threads=2, cap=0.05)
    dispatcher.submit(message(settled, b"x", "1"))
    assert started.acquire(timeout=5)
    threading.Event().wait(0.1)
    assert dispatcher.stuck() == "", "one thread of two is still free"
    dispatcher.submit(message(settled, b"x", "2"))
    assert started.acquire(timeout=5)
    threading.Event().wait(0.1)
    assert "all 2 handler threads held" in dispatcher.stuck()
    release.set()
    settled.wait(2)
    assert dispatcher.stuck() == ""
    dispatcher.stop()


def test_the_reason_is_capped(settled: Settled, caplog: pytest.LogCaptureFixture) -> None:
    def handler(delivery: Delivery) -> None:
        raise RuntimeError("x" * 100_000)

    dispatcher = dispatcher_for(handler, settled)
    dispatcher.submit(message(settled, b"x", "1"))
    settled.wait(1)
    dispatcher.stop()
    (line,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(line.getMessage()) < 1200
    assert "(99,014 more characters)" in line.getMessage()
