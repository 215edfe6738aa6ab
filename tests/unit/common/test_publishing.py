"""Publishes in flight: each future's outcome reported, all awaited on the way out."""

import threading
import time
from concurrent import futures

import pytest

from common.publishing import MAX_REQUEST_BYTES, Publishes, Unpublishable, check

TOPIC = "projects/p/topics/t"


class FakePublisher:
    """``PublisherClient.publish``'s surface: a future per publish, resolved by the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str], futures.Future[str]]] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> futures.Future[str]:
        future: futures.Future[str] = futures.Future()
        self.sent.append((topic, data, attributes, future))
        return future


@pytest.fixture
def client() -> FakePublisher:
    return FakePublisher()


def test_each_outcome_reaches_the_callback_with_its_context(client: FakePublisher) -> None:
    done: list[tuple[str, str]] = []

    def on_done(future: futures.Future[str], context: str) -> None:
        done.append((context, future.result() if future.exception() is None else "failed"))

    publishes = Publishes(client, TOPIC, on_done)
    publishes.publish(b"a", {"k": "v"}, "first")
    publishes.publish(b"b", {}, "second")
    assert [(t, d, a) for t, d, a, _ in client.sent] == [
        (TOPIC, b"a", {"k": "v"}),
        (TOPIC, b"b", {}),
    ]
    assert publishes.in_flight() == 2
    client.sent[1][3].set_result("id-2")
    client.sent[0][3].set_exception(RuntimeError("refused"))
    assert done == [("second", "id-2"), ("first", "failed")]
    assert publishes.in_flight() == 0


def test_the_oldest_publish_in_flight_shows_a_stall(client: FakePublisher) -> None:
    publishes: Publishes[None] = Publishes(client, TOPIC, lambda future, context: None)
    assert publishes.oldest_seconds() == 0.0
    publishes.publish(b"a", {}, None)
    time.sleep(0.05)
    publishes.publish(b"b", {}, None)
    assert publishes.oldest_seconds() >= 0.05
    client.sent[0][3].set_result("1")
    assert publishes.oldest_seconds() < 0.05, "the oldest now is the second"


def test_wait_counts_the_failed_and_the_unresolved(client: FakePublisher) -> None:
    publishes: Publishes[None] = Publishes(client, TOPIC, lambda future, context: None)
    for data in (b"ok", b"bad", b"late", b"never"):
        publishes.publish(data, {}, None)
    client.sent[0][3].set_result("1")  # resolved before the wait: not its business
    threading.Timer(0.05, client.sent[1][3].set_exception, (RuntimeError("no"),)).start()
    threading.Timer(0.05, client.sent[2][3].set_result, ("3",)).start()
    assert publishes.wait(0.5) == (1, 1), "of those in flight: one failed, one never resolved"


def test_an_error_raised_at_once_reaches_the_caller(client: FakePublisher) -> None:
    class Refusing(FakePublisher):
        def publish(self, topic: str, data: bytes, **attributes: str) -> futures.Future[str]:
            raise ValueError("too large")

    publishes: Publishes[None] = Publishes(Refusing(), TOPIC, lambda future, context: None)
    with pytest.raises(ValueError, match="too large"):
        publishes.publish(b"x", {}, None)
    assert publishes.in_flight() == 0


@pytest.mark.parametrize(
    ("data", "attributes", "problem"),
    [
        (b"", {}, "a message needs data or at least one attribute"),
        (b"x", {f"k{n}": "v" for n in range(101)}, "101 attributes; Pub/Sub takes 100"),
        (b"x", {"": "v"}, "an attribute's key must be 1 to 256 bytes"),
        (b"x", {"k" * 257: "v"}, "an attribute's key must be 1 to 256 bytes"),
        (b"x", {"k": "é" * 513}, "attribute 'k' is over 1024 bytes"),
        # Measured: the client's own refusal of this one kept its flow-control reservation.
        (b"x" * 9_999_990, {}, "makes a publish request of 10,000,021 bytes; Pub/Sub takes"),
    ],
)
def test_a_message_pub_sub_would_refuse_never_reaches_the_client(
    client: FakePublisher, data: bytes, attributes: dict[str, str], problem: str
) -> None:
    publishes: Publishes[None] = Publishes(client, TOPIC, lambda future, context: None)
    with pytest.raises(Unpublishable, match=problem):
        publishes.publish(data, attributes, None)
    assert client.sent == []
    assert publishes.in_flight() == 0


def test_messages_within_the_limits_are_published(client: FakePublisher) -> None:
    publishes: Publishes[None] = Publishes(client, TOPIC, lambda future, context: None)
    publishes.publish(b"", {"only": "an attribute"}, None)
    publishes.publish(b"x" * 9_998_000, {"k" * 256: "v" * 1024}, None)
    check(TOPIC, b"x" * (MAX_REQUEST_BYTES - 60), {})
    assert len(client.sent) == 2
