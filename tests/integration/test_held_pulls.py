"""The held-pull proxy (tests/support/held_pulls.py) behaves as Google Cloud, and forwards
everything else faithfully.

With the real client through the proxy, against the real emulator: an idle unary pull is
held to its deadline and ends with DEADLINE_EXCEEDED (the emulator alone answers it empty);
a message published into a held pull is answered at once; admin calls, publish, pull, ack
and StreamingPull pass; NOT_FOUND stays NOT_FOUND; a caller that goes away, and the
proxy's stop, end held pulls. (Metadata, deadlines and status details:
test_held_pulls_metadata.py.)
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import PullRequest

from tests.integration.conftest import PROJECT, topic_path
from tests.support.held_pulls import PULL_METHOD, HeldPullProxy
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
Clients = tuple[pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient]


def subscription_path(subscription: str) -> str:
    return f"projects/{PROJECT}/subscriptions/{subscription}"


@pytest.fixture
def proxy(emulator_host: str) -> Iterator[HeldPullProxy]:
    with HeldPullProxy(emulator_host) as proxy:
        yield proxy


@pytest.fixture
def through_proxy(proxy: HeldPullProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    """The client's own publisher and subscriber, on the proxy (read at construction)."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", proxy.host)
    with pubsub_v1.SubscriberClient() as subscriber:
        yield pubsub_v1.PublisherClient(), subscriber


@pytest.fixture
def idle(
    topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> str:
    """A subscription without messages (made on the emulator directly), as a path."""
    publisher_client.create_topic(name=topic_path(topic))
    path = subscription_path(topic)
    subscriber_client.create_subscription(name=path, topic=topic_path(topic))
    return path


def held_for(subscriber: pubsub_v1.SubscriberClient, idle: str, deadline: float) -> float:
    """Seconds a pull on the ``idle`` subscription lasted before DeadlineExceeded."""
    started = time.monotonic()
    with pytest.raises(exceptions.DeadlineExceeded):
        subscriber.pull(subscription=idle, max_messages=10, timeout=deadline)
    return time.monotonic() - started


def test_the_emulator_alone_answers_an_idle_pull_empty(
    idle: str, subscriber_client: pubsub_v1.SubscriberClient
) -> None:
    """Why the proxy exists: without it, an idle pull never ends as on Google Cloud."""
    response = subscriber_client.pull(subscription=idle, max_messages=10, timeout=2)
    assert list(response.received_messages) == []


def test_an_idle_pull_is_held_to_its_deadline(
    idle: str, through_proxy: Clients, proxy: HeldPullProxy
) -> None:
    held = held_for(through_proxy[1], idle, deadline=2)
    print(f"\nan idle pull with a 2 s deadline held {held:.2f} s")
    assert held >= 1.5
    wait_for(lambda: proxy.deadlines_reached == 1, timeout=10, what="the proxy's count")


def test_a_message_published_into_a_held_pull_is_answered_at_once(
    topic: str, idle: str, through_proxy: Clients, proxy: HeldPullProxy
) -> None:
    publisher, subscriber = through_proxy
    with ThreadPoolExecutor(1) as pool:
        pulled = pool.submit(subscriber.pull, subscription=idle, max_messages=10, timeout=30)
        wait_for(lambda: proxy.pulls_open == 1, timeout=10, what="the pull at the proxy")
        time.sleep(1)  # a second into the hold, as an idle consumer's pull would be
        assert proxy.pulls_open == 1
        published = time.monotonic()
        publisher.publish(topic_path(topic), b"into a held pull").result(timeout=30)
        response = pulled.result(timeout=30)
        latency = time.monotonic() - published
    print(f"\npublish to a held pull's answer: {latency * 1000:.0f} ms")
    assert [m.message.data for m in response.received_messages] == [b"into a held pull"]
    # Far under the pull's 30 s deadline: answered when the message came, not held on.
    assert latency < 5
    assert proxy.deadlines_reached == 0


def test_admin_calls_publish_pull_and_ack_pass_through(topic: str, through_proxy: Clients) -> None:
    publisher, subscriber = through_proxy
    publisher.create_topic(name=topic_path(topic))
    subscription = subscription_path(topic)
    subscriber.create_subscription(name=subscription, topic=topic_path(topic))
    assert subscriber.get_subscription(subscription=subscription).topic == topic_path(topic)
    sent = {
        publisher.publish(topic_path(topic), f"message {n}".encode()).result(timeout=30)
        for n in range(3)
    }

    first = subscriber.pull(subscription=subscription, max_messages=2, timeout=10)
    assert 1 <= len(first.received_messages) <= 2  # the caller's max_messages holds
    received = {m.message.message_id: m.ack_id for m in first.received_messages}
    while set(received) != sent:
        more = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
        received |= {m.message.message_id: m.ack_id for m in more.received_messages}
    subscriber.acknowledge(subscription=subscription, ack_ids=list(received.values()))

    subscriber.delete_subscription(subscription=subscription)
    with pytest.raises(exceptions.NotFound):
        subscriber.get_subscription(subscription=subscription)


def test_streaming_pull_passes_through(topic: str, idle: str, through_proxy: Clients) -> None:
    publisher, subscriber = through_proxy
    received: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def callback(message: pubsub_v1.subscriber.message.Message) -> None:
        received.put(message.data)
        message.ack()

    streaming = subscriber.subscribe(idle, callback)
    try:
        publisher.publish(topic_path(topic), b"streamed").result(timeout=30)
        assert received.get(timeout=30) == b"streamed"
    finally:
        streaming.cancel()
        streaming.result(timeout=30)


def test_not_found_passes_through_at_once(through_proxy: Clients, proxy: HeldPullProxy) -> None:
    publisher, subscriber = through_proxy
    missing = f"it-missing-{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    with pytest.raises(exceptions.NotFound):
        subscriber.pull(subscription=subscription_path(missing), max_messages=1, timeout=30)
    with pytest.raises(exceptions.NotFound):
        publisher.get_topic(topic=topic_path(missing))
    assert time.monotonic() - started < 20  # not held to the pull's 30 s deadline
    assert proxy.deadlines_reached == 0


def test_many_held_pulls_leave_room_for_other_calls(
    topic: str, idle: str, through_proxy: Clients, proxy: HeldPullProxy
) -> None:
    publisher, subscriber = through_proxy
    held = 40  # several services with a few pull threads each
    # A second topic the ``topic`` fixture removes too: its messages reach no held pull.
    other = f"{topic}-receipts"
    with ThreadPoolExecutor(held) as pool:
        pulls = [pool.submit(held_for, subscriber, idle, deadline=15) for _ in range(held)]
        wait_for(lambda: proxy.pulls_open == held, timeout=10, what=f"{held} held pulls")
        publisher.create_topic(name=topic_path(other))
        subscriber.create_subscription(name=subscription_path(other), topic=topic_path(other))
        publisher.publish(topic_path(other), b"beside held pulls").result(timeout=30)
        response = subscriber.pull(
            subscription=subscription_path(other), max_messages=10, timeout=30
        )
        assert [m.message.data for m in response.received_messages] == [b"beside held pulls"]
        assert proxy.pulls_open == held
        durations = [pull.result(timeout=60) for pull in pulls]
    print(
        f"\n{held} idle pulls with a 15 s deadline held {min(durations):.2f}-{max(durations):.2f} s"
    )
    assert min(durations) >= 13
    # The callers' timers fire a moment before the proxy's handler threads count theirs.
    wait_for(lambda: proxy.deadlines_reached == held, timeout=10, what=f"{held} deadlines")


def test_a_caller_that_goes_away_ends_its_held_pull(
    topic: str,
    idle: str,
    proxy: HeldPullProxy,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    channel = grpc.insecure_channel(proxy.host)
    request = PullRequest.serialize(PullRequest(subscription=idle, max_messages=1))
    pull: grpc.Future[bytes] = channel.unary_unary(PULL_METHOD).future(request, timeout=60)
    wait_for(lambda: proxy.pulls_open == 1, timeout=10, what="the pull at the proxy")
    channel.close()
    assert pull.done()  # on the caller's side, at once
    wait_for(lambda: proxy.pulls_open == 0, timeout=10, what="the proxy to end the pull")
    # Nothing left pulling upstream for it: its upstream pull was cancelled.
    wait_for(lambda: proxy.upstream_open == 0, timeout=10, what="the upstream pull cancelled")
    # The next message reaches the next caller. (An emulator that sees the cancel after
    # the publish, on a busy machine, hands it to the cancelled pull first: then it comes
    # back when its ack deadline passes, as on Google Cloud; nothing is lost either way.)
    publisher_client.publish(topic_path(topic), b"after the caller left").result(timeout=30)
    got: list[bytes] = []

    def pulled() -> bool:
        response = subscriber_client.pull(subscription=idle, max_messages=1, timeout=10)
        got.extend(m.message.data for m in response.received_messages)
        return bool(got)

    wait_for(pulled, timeout=30, what="the message after the caller left")
    assert got == [b"after the caller left"]


def test_stopping_the_proxy_ends_held_pulls(
    idle: str, through_proxy: Clients, proxy: HeldPullProxy
) -> None:
    _, subscriber = through_proxy
    with ThreadPoolExecutor(1) as pool:
        pulled = pool.submit(
            subscriber.pull, subscription=idle, max_messages=1, timeout=60, retry=None
        )
        wait_for(lambda: proxy.pulls_open == 1, timeout=10, what="the pull at the proxy")
        proxy.stop()
        assert proxy.pulls_open == 0
        with pytest.raises(exceptions.ServiceUnavailable):
            pulled.result(timeout=30)


def test_a_pull_without_a_deadline_is_answered_empty_at_the_cap(
    emulator_host: str, idle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HeldPullProxy(emulator_host, hold_cap=1.5) as proxy:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", proxy.host)
        with pubsub_v1.SubscriberClient() as subscriber:
            started = time.monotonic()
            response = subscriber.pull(subscription=idle, max_messages=1, timeout=None)
            held = time.monotonic() - started
    assert list(response.received_messages) == []
    assert held >= 1.2
    assert proxy.deadlines_reached == 0
