"""SIGTERM: each service stops cleanly, promptly, and leaves nothing behind."""

from __future__ import annotations

import re

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from tests.integration.conftest import Services, subscriptions_of, topic_path
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
    subscription = replica.wait_for_log(r"listening on (\S+)")[1]
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
    replica.wait_for_log(r"received message_id=")
    status, seconds = replica.terminate()

    assert status == 0, replica.details()
    assert seconds < 3, f"shutdown took {seconds:.2f}s\n{replica.details()}"
    log = replica.log()
    assert f"deleted subscription {subscription}" in log
    handled = int(re.search(r"stopped receiving: (\d+) handled", log)[1])  # type: ignore[index]
    assert handled == len(message_ids(log, "received"))
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
    replica.wait_for_log(r"waiting for topic")
    status, seconds = replica.terminate()
    assert status == 0, replica.details()
    assert seconds < 3
    assert "stopped before subscribing" in replica.log()
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
    assert status == 0, publisher.details()
    assert seconds < 3
    log = publisher.log()
    sequences = [int(n) for n in re.findall(r"published message_id=\S+ .* sequence=(\d+)", log)]
    # Every publish the loop made resolved and was logged: sequence numbers 1..N, no gap.
    assert sorted(sequences) == list(range(1, len(sequences) + 1)), publisher.details()
    assert "publish failed" not in log
    assert "publisher stopped\n" in log
