"""A consumer's metrics: each outcome on the receive component records its instrument with
the subscription's attributes, and nothing else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from google.pubsub_v1 import types

from common import metrics
from common.metrics import names, samples
from common.receive import Received, ReceiveFuture, subscribe
from common.receive import puller as puller_module
from tests.support.fake_pubsub import FakeSubscriber
from tests.unit.common.metrics.conftest import Collected

SUBSCRIPTION = types.Subscription(name="projects/p/subscriptions/orders", ack_deadline_seconds=10)
ATTRIBUTES = {names.SYSTEM: "gcp_pubsub", names.SUBSCRIPTION: "orders"}


@pytest.fixture(autouse=True)
def short_pulls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(puller_module, "PULL_TIMEOUT_SECONDS", 0.2)


class Inbox(list[Received]):
    def wait(self, count: int) -> list[Received]:
        deadline = time.monotonic() + 5
        while len(self) < count:
            assert time.monotonic() < deadline, f"{len(self)} of {count} messages"
            time.sleep(0.005)
        return list(self)


@pytest.fixture
def server() -> FakeSubscriber:
    return FakeSubscriber()


@pytest.fixture
def receiving(
    collected: Collected, server: FakeSubscriber
) -> Iterator[tuple[ReceiveFuture, Inbox, metrics.ConsumerMetrics]]:
    inbox = Inbox()
    observer = metrics.consumer(SUBSCRIPTION.name)
    future = subscribe(server, SUBSCRIPTION, inbox.append, observer=observer)
    yield future, inbox, observer
    future.cancel()
    future.result(5)


def test_received_acked_nacked_and_held_are_counted_by_subscription(
    collected: Collected,
    server: FakeSubscriber,
    receiving: tuple[ReceiveFuture, Inbox, metrics.ConsumerMetrics],
) -> None:
    _, inbox, _ = receiving
    for body in (b"one", b"two", b"three"):
        server.publish(body)
    first, second, third = inbox.wait(3)
    assert collected.value(names.CONSUMED, subscription="orders") == 3
    assert collected.value(names.HELD_MESSAGES, subscription="orders") == 3
    assert collected.value(names.HELD_BYTES, subscription="orders") == 11
    first.ack()
    second.ack()
    third.nack()
    server.wait_for(lambda calls: len(calls.acked()) == 2 and len(calls.nacked()) == 1)
    assert collected.value(names.ACKED, subscription="orders") == 2
    assert collected.value(names.NACKED, subscription="orders") == 1
    assert collected.value(names.HELD_MESSAGES, subscription="orders") == 0
    assert collected.value(names.PULL_FAILURES, subscription="orders") == 0
    assert collected.value(names.OUTAGE, subscription="orders", peer="pubsub") == 0
    for spec in (names.CONSUMED, names.ACKED, names.HELD_BYTES):
        ((attributes, _),) = collected.points(spec)
        assert attributes == ATTRIBUTES, spec.name


def test_each_call_is_timed_by_operation_and_each_acked_message_has_its_lag(
    collected: Collected,
    server: FakeSubscriber,
    receiving: tuple[ReceiveFuture, Inbox, metrics.ConsumerMetrics],
) -> None:
    _, inbox, _ = receiving
    server.publish()
    server.publish()
    for message in inbox.wait(2):
        message.ack()
    server.wait_for(lambda calls: len(calls.acked()) == 2)
    time.sleep(0.1)  # the ack call is timed once it returns
    pulls = collected.value(names.OPERATION_DURATION, operation="pull")
    assert pulls.count >= 1
    acks = collected.value(names.OPERATION_DURATION, operation="ack")
    assert acks.count == 1
    lag = collected.value(names.DELIVERY_LAG, subscription="orders")
    # The fake's messages were published on 2026-11-22 at 13:45 UTC.
    expected = time.time() - datetime(2026, 11, 22, 13, 45, tzinfo=UTC).timestamp()
    assert lag.count == 2
    assert abs(lag.sum / 2 - expected) < 60


def test_failed_pulls_and_acks_are_counted_and_the_outage_shows(
    collected: Collected,
    server: FakeSubscriber,
    receiving: tuple[ReceiveFuture, Inbox, metrics.ConsumerMetrics],
) -> None:
    _, inbox, _ = receiving
    server.fail("pull", grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)
    server.fail("ack", grpc.StatusCode.UNAVAILABLE)
    deadline = time.monotonic() + 5
    while collected.value(names.PULL_FAILURES, subscription="orders") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert collected.value(names.OUTAGE, subscription="orders", peer="pubsub") == 1
    assert collected.value(names.OUTAGE_DURATION, subscription="orders", peer="pubsub") >= 0
    failed = collected.value(
        names.OPERATION_DURATION, operation="pull", error_type="ServiceUnavailable"
    )
    assert failed.count >= 1
    server.publish()
    (message,) = inbox.wait(1)  # pulled once Pub/Sub is back
    assert collected.value(names.OUTAGE, subscription="orders", peer="pubsub") == 0
    message.ack()
    while collected.value(names.ACK_FAILURES, subscription="orders") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_rejection_counts_by_error_type_and_on_the_last_attempt_as_dead_lettered(
    collected: Collected,
) -> None:
    observer = metrics.consumer(SUBSCRIPTION.name)
    observer.rejected("InvalidMessage", 1, 5)
    observer.rejected("InvalidMessage", 5, 5)
    observer.rejected("TimeoutError", None, 5)  # no dead-letter policy: no attempt known
    assert collected.value(names.REJECTED, error_type="InvalidMessage") == 2
    assert collected.value(names.REJECTED, error_type="TimeoutError") == 1
    assert collected.points(names.DEAD_LETTERED) == [
        ({**ATTRIBUTES, names.ERROR_TYPE: "InvalidMessage"}, 1)
    ]


def test_processing_times_are_recorded_and_sampled_past_the_cap(collected: Collected) -> None:
    observer = metrics.consumer(SUBSCRIPTION.name)
    observer.processed(0.002)
    observer.processed(0.004)
    point = collected.value(names.PROCESS_DURATION, subscription="orders")
    assert (point.count, round(point.sum, 6)) == (2, 0.006)
    for _ in range(samples.CAP * 3):  # faster than the recorder takes them
        observer.processed(0.001)
    point = collected.value(names.PROCESS_DURATION, subscription="orders")
    assert point.count == 2 + samples.CAP


def test_with_metrics_off_a_consumer_records_nothing_and_costs_nothing() -> None:
    observer = metrics.consumer(SUBSCRIPTION.name)
    observer.processed(0.1)  # no recorder: dropped at once
    observer.rejected("ValueError", 5, 5)
    observer.operation("pull", 0.1, None)
    assert not metrics.enabled()
