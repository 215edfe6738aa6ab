"""SIGTERM: each service stops cleanly, within its grace period, and leaves nothing behind."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from tests.integration.conftest import Services, subscriptions_of, topic_path
from tests.support.compose import stop_grace_seconds
from tests.support.logs import message_ids
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_subscriber_deletes_its_subscription_on_sigterm(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica = services.start("subscriber", created_topic)
    subscription = replica.wait_for_event("listening")["subscription"]
    assert (
        subscriber_client.get_subscription(subscription=subscription).labels["app"]
        == "pubsub-fanout"
    )

    # Keep messages arriving while it stops: shutdown must not wait for a quiet moment.
    for number in range(50):
        publisher_client.publish(
            topic_path(created_topic),
            b'{"channel_number": 52, "channel_name": "News", "sequence": %d}' % number,
        )
    replica.wait_for_event("received")
    status, seconds = replica.terminate()

    print(f"\nshutdown with messages arriving: {seconds:.2f}s")
    assert status == 0, replica.details()
    assert seconds < stop_grace_seconds("subscriber"), f"shutdown took {seconds:.2f}s"
    assert replica.events("subscription deleted", subscription=subscription), replica.details()
    [stopped] = replica.events("stopped receiving")
    assert stopped["handled"] == len(message_ids(replica.log(), "received"))
    with pytest.raises(exceptions.NotFound):
        subscriber_client.get_subscription(subscription=subscription)
    # The dead-letter subscription is shared and durable: it is the only one left.
    assert subscriptions_of(subscriber_client, created_topic) == []
    assert subscriptions_of(subscriber_client, f"{created_topic}-dead-letter") == [
        f"projects/local-project/subscriptions/{created_topic}-dead-letter"
    ]


def test_subscriber_waiting_for_its_topic_stops_at_once(
    services: Services, topic: str, subscriber_client: pubsub_v1.SubscriberClient
) -> None:
    replica = services.start("subscriber", topic)
    replica.wait_for_event("unavailable", peer=f"Pub/Sub and topic {topic_path(topic)}")
    status, seconds = replica.terminate()
    print(f"\nshutdown while waiting for the topic: {seconds:.2f}s")
    assert status == 0, replica.details()
    assert seconds < stop_grace_seconds("subscriber")
    assert replica.events("stopped before subscribing"), replica.details()
    assert subscriptions_of(subscriber_client, topic) == []


def test_publisher_resolves_every_publish_before_exiting(services: Services, topic: str) -> None:
    # A publish every millisecond: at SIGTERM some are still in flight.
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.001")
    wait_for(
        lambda: len(message_ids(publisher.log(), "published")) >= 200,
        timeout=60,
        what="200 publishes",
        details=publisher.details,
    )
    status, seconds = publisher.terminate()
    print(f"\npublisher shutdown at 1,000 msgs/s: {seconds:.2f}s")
    assert status == 0, publisher.details()
    assert seconds < stop_grace_seconds("publisher")
    sequences = [r["sequence"] for r in publisher.events("published")]
    # Every publish the loop made resolved and was logged: sequence numbers 1..N, no gap.
    assert sorted(sequences) == list(range(1, len(sequences) + 1)), publisher.details()
    assert publisher.events("publish failed") == []
    assert publisher.events("stopped", flushed=True), publisher.details()
