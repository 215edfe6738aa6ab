"""Receipts as the replicas send them: gathered, on the real client and emulator."""

from __future__ import annotations

import json
from typing import Any

from google.cloud import pubsub_v1

from subscriber.fanout.receipts import ReceiptSender
from tests.integration.conftest import PROJECT, topic_path
from tests.support.waiting import wait_for


def test_handled_messages_go_out_gathered_and_before_the_replica_leaves(
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    # The topic fixture cleans up this subscription with the topic's.
    subscription = subscriber_client.subscription_path(PROJECT, f"{created_topic}-watch")
    subscriber_client.create_subscription(name=subscription, topic=topic_path(created_topic))
    sender = ReceiptSender(
        publisher_client,
        topic_path(created_topic),
        replica="host-1",
        subscription=f"projects/{PROJECT}/subscriptions/channel-host-1-abcd",
    )
    handled = [str(n) for n in range(250)]
    for message_id in handled:
        sender.handled(message_id, "acked", 1)
    sender.lifecycle("left")
    assert sender.flush(10) == 0

    bodies: list[dict[str, Any]] = []

    def everything_arrived() -> bool:
        response = subscriber_client.pull(subscription=subscription, max_messages=100, timeout=10)
        if response.received_messages:
            subscriber_client.acknowledge(
                subscription=subscription,
                ack_ids=[received.ack_id for received in response.received_messages],
            )
        bodies.extend(json.loads(r.message.data) for r in response.received_messages)
        return any(body["kind"] == "left" for body in bodies) and sum(
            len(body.get("messages", [])) for body in bodies
        ) >= len(handled)

    wait_for(everything_arrived, timeout=30, what="every receipt", details=lambda: str(bodies))
    batches = [body for body in bodies if body["kind"] == "handled"]
    reported = [m["message_id"] for body in batches for m in body["messages"]]
    assert sorted(reported, key=int) == handled, "each handled message reported once"
    # 250 handled messages in a burst are a few receipts, not 250 publishes.
    assert len(batches) <= 5
    assert {body["subscription"] for body in bodies} == {"channel-host-1-abcd"}
