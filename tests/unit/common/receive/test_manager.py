"""The receive component end to end on a fake Pub/Sub: callbacks, recovery, shutdown."""

import logging
import threading
from collections.abc import Iterator

import grpc
import pytest
from google.api_core import exceptions
from google.pubsub_v1 import types

from common.outage import ShutdownRequested
from common.receive import FlowControl, Received, ReceiveFuture, subscribe
from common.receive import manager as manager_module
from common.receive import puller as puller_module
from tests.support.fake_pubsub import FakeSubscriber

SUBSCRIPTION = types.Subscription(name="projects/p/subscriptions/s", ack_deadline_seconds=10)


@pytest.fixture(autouse=True)
def short_pulls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(puller_module, "PULL_TIMEOUT_SECONDS", 0.2)


@pytest.fixture
def server() -> FakeSubscriber:
    return FakeSubscriber()


class Inbox:
    """A callback that keeps what it gets, for the test to settle."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.arrived = threading.Condition()

    def __call__(self, message: Received) -> None:
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()

    def wait(self, count: int, timeout: float = 5) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def started(server: FakeSubscriber, inbox: Inbox) -> Iterator[ReceiveFuture]:
    future = subscribe(server, SUBSCRIPTION, inbox)
    yield future
    future.cancel()
    future.result(5)


def test_each_message_reaches_the_callback_and_its_ack_reaches_pub_sub(
    server: FakeSubscriber, inbox: Inbox, started: ReceiveFuture
) -> None:
    server.publish(b"one")
    server.publish(b"two", attributes={"k": "v"})
    first, second = inbox.wait(2)
    assert (first.data, second.data, dict(second.attributes)) == (b"one", b"two", {"k": "v"})
    assert started.held_messages == 2
    assert started.held_bytes == 6
    first.ack()
    second.nack()
    server.wait_for(lambda calls: calls.acked() == ["ack-1"] and calls.nacked() == ["ack-2"])
    assert started.held_messages == 0
    assert started.held_bytes == 0


def test_a_callback_that_raises_nacks_its_message(
    server: FakeSubscriber, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(message: Received) -> None:
        raise RuntimeError("bug")

    future = subscribe(server, SUBSCRIPTION, broken)
    server.publish()
    server.wait_for(lambda calls: calls.nacked() == ["ack-1"])
    future.cancel()
    future.result(5)
    failed = [r for r in caplog.records if getattr(r, "fields", {}).get("event")]
    assert [getattr(r, "fields", None) for r in failed] == [
        {"event": "callback failed", "message_id": "1"}
    ]


def test_flow_control_stops_pulling_until_messages_are_settled(
    server: FakeSubscriber, inbox: Inbox
) -> None:
    flow = FlowControl(max_messages=2)
    future = subscribe(server, SUBSCRIPTION, inbox, flow_control=flow)
    for _ in range(5):
        server.publish()
    held = inbox.wait(2)
    server.wait_for(lambda calls: len(calls.pulls) >= 1)
    assert len(inbox.messages) == 2
    assert len(server.queue) == 3
    held[0].ack()
    inbox.wait(3)
    future.cancel()
    future.result(5)


def test_a_lost_subscription_is_provisioned_again_and_receiving_goes_on(
    server: FakeSubscriber, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    provisioned: list[str] = []

    def recover() -> types.Subscription:
        provisioned.append("again")
        return types.Subscription(name=SUBSCRIPTION.name, ack_deadline_seconds=20)

    future = subscribe(server, SUBSCRIPTION, inbox, recover=recover)
    server.fail("pull", grpc.StatusCode.NOT_FOUND)
    server.publish()
    inbox.wait(1)
    assert provisioned == ["again"]
    assert future.lease_seconds == 20, "the lease is the ack deadline granted now"
    assert future.not_ready == ""
    found = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert "subscription gone" in found
    assert "subscription restored" in found
    future.cancel()
    future.result(5)


def test_without_recover_a_lost_subscription_ends_receiving(server: FakeSubscriber) -> None:
    future = subscribe(server, SUBSCRIPTION, lambda message: None)
    server.fail("pull", grpc.StatusCode.NOT_FOUND)
    with pytest.raises(exceptions.NotFound):
        future.result(5)
    assert future.done()
    assert future.not_ready.startswith("stopped receiving")


def test_a_final_error_ends_receiving_with_it(server: FakeSubscriber) -> None:
    future = subscribe(server, SUBSCRIPTION, lambda message: None)
    server.fail("pull", grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(exceptions.PermissionDenied):
        future.result(5)


def test_stopped_while_recovering_ends_quietly(server: FakeSubscriber) -> None:
    recovering, service_stopped = threading.Event(), threading.Event()

    def recover() -> types.Subscription:  # as a provisioner waiting while Pub/Sub is away
        recovering.set()
        service_stopped.wait()
        raise ShutdownRequested("provisioning")

    future = subscribe(server, SUBSCRIPTION, lambda message: None, recover=recover)
    server.fail("pull", grpc.StatusCode.NOT_FOUND)
    assert recovering.wait(5)
    assert "gone" in future.not_ready
    service_stopped.set()
    future.cancel()
    future.result(5)
    assert future.done()


def test_shutdown_drains_then_hands_back_what_is_held_then_flushes(
    server: FakeSubscriber, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=manager_module.__name__)
    future = subscribe(server, SUBSCRIPTION, inbox, drain_seconds=1)
    server.publish()
    server.publish()
    slow, stuck = inbox.wait(2)
    future.cancel()
    future.cancel()  # idempotent
    threading.Timer(0.2, slow.ack).start()
    with pytest.raises(TimeoutError):
        future.result(0.1)
    # ``stuck`` is never settled: the drain waits its second, then hands it back.
    future.result(10)
    assert server.calls.acked() == ["ack-1"]
    assert server.calls.nacked() == ["ack-2"]
    steps = [r.__dict__["fields"]["event"] for r in caplog.records if r.levelno == logging.DEBUG]
    assert steps == ["stopped pulling", "pull threads stopped", "flushed"], "none settled"
    stuck.ack()  # after the shutdown: nothing happens
    assert server.calls.acked() == ["ack-1"]


def test_a_message_pulled_while_stopping_is_handed_back(server: FakeSubscriber) -> None:
    got: list[Received] = []
    future = subscribe(server, SUBSCRIPTION, got.append)
    server.wait_for(lambda calls: len(calls.pulls) >= 1)
    future._stopping.set()  # as if SIGTERM came while this pull was in flight
    server.publish()
    server.wait_for(lambda calls: calls.nacked() == ["ack-1"])
    assert got == []
    future.cancel()
    future.result(5)
