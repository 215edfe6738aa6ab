"""The sink's database calls: one at a time on a thread of their own, given up when the
server stops answering. A fake store stands for PostgreSQL (the I/O boundary); the sink's
integration tests run a real server."""

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from subscriber.sink.rows import Incoming, RejectRow, Rows
from subscriber.sink.store import Store, Written
from subscriber.sink.writer import ABANDON_SECONDS, Writer


class FakeStore:
    """``Store``'s surface; each call waits until the test lets it answer."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.error: psycopg.Error | None = None
        self.calls: list[str] = []
        self.closed = 0

    def connect(self) -> None:
        self.calls.append("connect")
        self._wait()

    def write(self, rows: Rows) -> Written:
        self.calls.append(f"write {len(rows)}")
        self._wait()
        return Written(stored={"1"})

    def close(self) -> None:
        self.closed += 1

    def _wait(self) -> None:
        assert self.answer.wait(5)
        if self.error is not None:
            raise self.error


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self) -> None:
        self.stores: list[FakeStore] = []
        self.clock = Clock()
        self.woken = threading.Event()
        self.writer = Writer(
            self.new_store, "projects/p/subscriptions/s", self.woken.set, self.clock
        )

    def new_store(self) -> Store:
        self.stores.append(FakeStore())
        return self.stores[-1]  # type: ignore[return-value]


@pytest.fixture
def harness() -> Harness:
    return Harness()


def incoming() -> Incoming:
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    return Incoming("1", b"x", {}, moment, moment)


def test_a_write_runs_on_its_thread_and_its_result_is_polled(harness: Harness) -> None:
    writer, store = harness.writer, harness.stores[0]
    writer.start(None)  # connect only
    assert writer.busy
    assert writer.poll() is None, "still running"
    harness.clock.now = 3.0
    assert writer.waited() == 3.0
    store.answer.set()
    assert harness.woken.wait(5), "the sink's loop is woken when the call returns"
    assert writer.poll() == Written()
    assert not writer.busy
    assert store.calls == ["connect"]


def test_an_error_closes_the_connection_and_reaches_the_caller(harness: Harness) -> None:
    writer, store = harness.writer, harness.stores[0]
    store.error = psycopg.OperationalError("connection refused")
    store.answer.set()
    writer.start(None)
    assert harness.woken.wait(5)
    with pytest.raises(psycopg.OperationalError, match="refused"):
        writer.poll()
    assert store.closed == 1
    assert not writer.busy


def test_a_call_without_an_answer_is_given_up_for_a_fresh_connection(harness: Harness) -> None:
    writer, stuck = harness.writer, harness.stores[0]
    writer.start(None)
    harness.clock.now = ABANDON_SECONDS
    with pytest.raises(psycopg.OperationalError, match="given up"):
        writer.poll()
    assert len(harness.stores) == 2, "the next call gets a new store"
    fresh = harness.stores[1]
    fresh.answer.set()
    writer.start(None)
    assert harness.woken.wait(5)
    harness.woken.clear()
    assert writer.poll() == Written()
    stuck.answer.set()  # the abandoned call answers at last: its connection is closed
    threading.Event().wait(0.1)
    assert stuck.closed == 1


def test_poll_without_a_call_is_a_bug(harness: Harness) -> None:
    with pytest.raises(RuntimeError, match="no database call"):
        harness.writer.poll()


def test_rows_are_written(harness: Harness) -> None:
    writer, store = harness.writer, harness.stores[0]
    store.answer.set()
    writer.start(Rows([], [RejectRow(incoming(), "not a reading")]))
    assert harness.woken.wait(5)
    assert writer.poll() == Written(stored={"1"})
    assert store.calls == ["write 1"]
