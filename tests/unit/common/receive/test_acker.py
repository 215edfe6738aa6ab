"""Acks, nacks and lease changes: gathered on the acker's thread, sent in batches."""

import logging

import grpc
import pytest

from common.receive.acker import MAX_IDS_PER_CALL, Acker
from common.receive.message import Received
from common.receive.rpc import Rpc
from tests.support.fake_pubsub import FakeSubscriber, received

PATH = "projects/p/subscriptions/s"


@pytest.fixture
def server() -> FakeSubscriber:
    return FakeSubscriber()


def everything_held(settled: list[Received]) -> list[Received]:
    return settled


def test_settled_messages_go_out_together(server: FakeSubscriber) -> None:
    acker = Acker(Rpc(server), PATH, everything_held)
    messages = [received(message_id=str(n)) for n in range(50)]
    for message in messages[:40]:
        acker.settle(message, True)
    for message in messages[40:]:
        acker.settle(message, False)
    assert acker.close(5)
    assert server.calls.acks == [[f"ack-{n}" for n in range(40)]], "one call for all the acks"
    assert server.calls.leases == [([f"ack-{n}" for n in range(40, 50)], 0)], "nacks: lease 0"


def test_a_call_carries_at_most_1000_ids(server: FakeSubscriber) -> None:
    acker = Acker(Rpc(server), PATH, everything_held)
    acker.modify([f"ack-{n}" for n in range(2500)], 10)
    assert acker.close(5)
    assert [len(ids) for ids, _ in server.calls.leases] == [MAX_IDS_PER_CALL, 1000, 500]


def test_a_message_settled_twice_is_sent_once(server: FakeSubscriber) -> None:
    acker = Acker(Rpc(server), PATH, everything_held)
    message = received()
    acker.settle(message, True)
    acker.settle(message, False)
    assert acker.close(5)
    assert (server.calls.acked(), server.calls.nacked()) == (["ack-1"], [])


def test_only_what_is_still_held_is_sent(server: FakeSubscriber) -> None:
    let_go = received(message_id="2")
    acker = Acker(
        Rpc(server),
        PATH,
        lambda settled: [m for m in settled if m is not let_go],
    )
    acker.settle(received(message_id="1"), True)
    acker.settle(let_go, True)
    assert acker.close(5)
    assert server.calls.acked() == ["ack-1"]


def test_batched_log_lines_are_written_before_the_ack(server: FakeSubscriber) -> None:
    written: list[str] = []

    class Recorder(logging.Handler):
        def flush(self) -> None:
            written.append(f"flushed with {len(server.calls.acks)} ack calls made")

        def emit(self, record: logging.LogRecord) -> None:
            pass

    root = logging.getLogger()
    recorder = Recorder()
    root.addHandler(recorder)
    try:
        acker = Acker(Rpc(server), PATH, everything_held)
        acker.settle(received(), True)
        assert acker.close(5)
    finally:
        root.removeHandler(recorder)
    assert written[0] == "flushed with 0 ack calls made"


def test_a_failure_is_logged_once_per_outage_and_not_retried(
    server: FakeSubscriber, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server.fail("ack", grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)
    acker = Acker(Rpc(server), PATH, everything_held)
    acker.settle(received(message_id="1"), True)
    assert acker.flush(5)
    acker.settle(received(message_id="2"), True)
    assert acker.flush(5)
    acker.settle(received(message_id="3"), True)
    assert acker.close(5)
    assert server.calls.acked() == ["ack-3"], "lost acks are not retried: leases lapse"
    found = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert found.count("unavailable") == 1
    assert found.count("available") == 1


def test_a_subscription_gone_is_no_outage(
    server: FakeSubscriber, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail("modify", grpc.StatusCode.NOT_FOUND)
    acker = Acker(Rpc(server), PATH, everything_held)
    acker.modify(["ack-1"], 10)
    assert acker.close(5)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
