"""Receipts as the replicas send them: gathered, announced, on the real client and emulator."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.message import Message

from subscriber.fanout.receipts import ReceiptSender
from tests.integration.conftest import PROJECT, topic_path
from tests.support.waiting import wait_for

Body = dict[str, Any]


@contextlib.contextmanager
def watch(subscriber_client: pubsub_v1.SubscriberClient, topic: str) -> Iterator[list[Body]]:
    """Every body published on ``topic`` from now on, streamed into a list (the topic
    fixture cleans up the subscription)."""
    subscription = subscriber_client.subscription_path(PROJECT, f"{topic}-watch")
    subscriber_client.create_subscription(name=subscription, topic=topic_path(topic))
    bodies: list[Body] = []

    def received(message: Message) -> None:
        bodies.append(json.loads(message.data))
        message.ack()

    stream = subscriber_client.subscribe(subscription, callback=received)
    try:
        yield bodies
    finally:
        stream.cancel()
        with contextlib.suppress(Exception):
            stream.result(timeout=5)


def test_handled_messages_go_out_gathered_and_before_the_replica_leaves(
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    with watch(subscriber_client, created_topic) as bodies:
        sender = ReceiptSender(
            publisher_client,
            topic_path(created_topic),
            replica="host-1",
            subscription=f"projects/{PROJECT}/subscriptions/channel-host-1-abcd",
        )
        handled = [str(n) for n in range(250)]
        for n, message_id in enumerate(handled):
            sender.handled(message_id, "rejected" if n % 50 == 0 else "acked", 1)
        sender.lifecycle("left")
        assert sender.flush(10) == 0
        wait_for(
            lambda: (
                any(body["kind"] == "left" for body in bodies)
                and sum(len(body.get("messages", [])) for body in bodies) >= len(handled)
            ),
            timeout=30,
            what="every receipt",
            details=lambda: str(bodies),
        )
    batches = [body for body in bodies if body["kind"] == "handled"]
    reported = [m["message_id"] for body in batches for m in body["messages"]]
    assert sorted(reported, key=int) == handled, "each handled message reported once"
    # 250 handled messages in a burst are a few receipts, not 250 publishes.
    assert len(batches) <= 5
    assert {body["subscription"] for body in bodies} == {"channel-host-1-abcd"}
    assert {body["session"] for body in bodies} == {sender.session}
    # Each receipt's totals count its own messages and every earlier receipt's.
    running = {"acked": 0, "rejected": 0}
    for body in sorted(batches, key=lambda b: b["acked"] + b["rejected"]):
        for message in body["messages"]:
            running[message["outcome"]] += 1
        assert (body["acked"], body["rejected"]) == (running["acked"], running["rejected"])
    [left] = [body for body in bodies if body["kind"] == "left"]
    assert (left["acked"], left["rejected"]) == (245, 5)


def test_a_quiet_replica_announces_itself_with_its_totals(
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    listening = [True]
    with watch(subscriber_client, created_topic) as bodies:
        sender = ReceiptSender(
            publisher_client,
            topic_path(created_topic),
            replica="host-2",
            subscription="channel-host-2-ef01",
            announce_seconds=0.5,
            listening=lambda: listening[0],
        )
        time.sleep(1.0)  # before joined: nothing to announce
        assert bodies == []
        sender.lifecycle("joined")
        sender.handled("1", "acked", 1)
        wait_for(
            lambda: sum(body["kind"] == "alive" for body in bodies) >= 3,
            timeout=15,
            what="3 alive announcements",
            details=lambda: str(bodies),
        )
        # A replica that says it is not listening announces nothing.
        listening[0] = False
        time.sleep(0.7)
        quiet_from = len(bodies)
        time.sleep(1.5)
        assert bodies[quiet_from:] == []
        sender.lifecycle("left")
        assert sender.flush(10) == 0
    kinds = [body["kind"] for body in bodies]
    assert kinds[0] == "joined"
    assert "handled" in kinds
    alive = [body for body in bodies if body["kind"] == "alive"]
    # The sender's thread may announce between "joined" and the message handled: 0 then.
    totals = {(body["acked"], body["rejected"], body["every"]) for body in alive}
    assert (1, 0, 0.5) in totals
    assert totals <= {(0, 0, 0.5), (1, 0, 0.5)}
