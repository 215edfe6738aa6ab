"""A message no replica can parse is dead-lettered, and the good ones keep flowing."""

from __future__ import annotations

import pytest
from google.cloud import pubsub_v1

from common.messages.channels import Channel, ChannelMessage
from tests.integration.conftest import PROJECT, Services, topic_path
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
MAX_DELIVERY_ATTEMPTS = 5


def test_bad_payload_is_dead_lettered_without_blocking_good_ones(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica = services.start(
        "subscriber", created_topic, MAX_DELIVERY_ATTEMPTS=str(MAX_DELIVERY_ATTEMPTS)
    )
    replica.wait_for_event("listening")

    path = topic_path(created_topic)
    bad_id = publisher_client.publish(path, b"\x00 not a channel").result(timeout=30)
    data, attributes = ChannelMessage(Channel(52, "News"), 1).encode()
    good_id = publisher_client.publish(path, data, **attributes).result(timeout=30)

    assert replica.wait_for_event("received", message_id=good_id)["channel"] == 52
    last = replica.wait_for_event("rejected", message_id=bad_id, attempt=MAX_DELIVERY_ATTEMPTS)
    assert last["reason"].startswith("body is not JSON"), last

    # The message is kept, not lost: it waits in the durable dead-letter subscription.
    dead_letters = f"projects/{PROJECT}/subscriptions/{created_topic}-dead-letter"

    def pull_dead_letter() -> pubsub_v1.types.ReceivedMessage | None:
        response = subscriber_client.pull(subscription=dead_letters, max_messages=10, timeout=5)
        return next(iter(response.received_messages), None)

    parked = wait_for(
        pull_dead_letter, timeout=30, what="the bad message in the dead-letter subscription"
    )
    subscriber_client.acknowledge(subscription=dead_letters, ack_ids=[parked.ack_id])
    assert parked.message.data == b"\x00 not a channel"
    source = parked.message.attributes
    assert source["CloudPubSubDeadLetterSourceDeliveryCount"] == str(MAX_DELIVERY_ATTEMPTS)
    assert source["CloudPubSubDeadLetterSourceSubscription"].startswith(f"{created_topic}-")

    assert replica.process.poll() is None, "the replica must keep running"
    # Parked after its last attempt: a sixth delivery could only have come before it.
    attempts = [r["attempt"] for r in replica.events("rejected", message_id=bad_id)]
    assert attempts == list(range(1, MAX_DELIVERY_ATTEMPTS + 1)), replica.details()
    status, _ = replica.terminate()
    assert status == 0, replica.details()
