"""Receipts as the replicas send them: gathered, announced, on the real client and emulator.

Each test reads every receipt the sender published: once its publishes have all resolved,
the test's own subscription holds them all, and pulls until it is empty.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from google.cloud import pubsub_v1

from common.messages._json import utc_timestamp
from subscriber.fanout.receipts import ReceiptSender
from tests.integration.conftest import PROJECT, topic_path
from tests.support.waiting import wait_for

Body = dict[str, Any]


class Watch:
    """A subscription of the test's own on ``topic``, made before anything is published
    there (the topic fixture removes it afterwards)."""

    def __init__(self, subscriber: pubsub_v1.SubscriberClient, topic: str) -> None:
        self._subscriber = subscriber
        self._path = subscriber.subscription_path(PROJECT, f"{topic}-watch")
        subscriber.create_subscription(name=self._path, topic=topic_path(topic))

    def pull(self) -> list[Body]:
        """The bodies one pull finds (none, if none is waiting), acked."""
        response = self._subscriber.pull(subscription=self._path, max_messages=1000, timeout=2)
        if not response.received_messages:
            return []
        ack_ids = [received.ack_id for received in response.received_messages]
        self._subscriber.acknowledge(subscription=self._path, ack_ids=ack_ids)
        return [json.loads(received.message.data) for received in response.received_messages]

    def drain(self) -> list[Body]:
        """Every body on the subscription, once nothing more is published there: pulled
        until a pull finds none."""
        bodies: list[Body] = []
        while found := self.pull():
            bodies += found
        return bodies


def test_handled_messages_go_out_gathered_and_before_the_replica_leaves(
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    watch = Watch(subscriber_client, created_topic)
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
    bodies = watch.drain()
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


class Listening:
    """The sender's ``listening`` probe, switched by the test: it counts the times it said
    no, and notes when it first did (UTC, as receipts are stamped)."""

    def __init__(self) -> None:
        self.on = True
        self.refusals = 0
        self.first_refusal = ""
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            if not self.on:
                self.refusals += 1
                self.first_refusal = self.first_refusal or utc_timestamp()
            return self.on


def test_a_quiet_replica_announces_itself_with_its_totals(
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    watch = Watch(subscriber_client, created_topic)
    listening = Listening()
    announce_seconds = 0.5
    sender = ReceiptSender(
        publisher_client,
        topic_path(created_topic),
        replica="host-2",
        subscription="channel-host-2-ef01",
        announce_seconds=announce_seconds,
        listening=listening,
    )
    # Quiet for two announcement periods before joining: a window, not a wait for silence;
    # the receipts, all read at the end, show whether anything was announced in it.
    time.sleep(2 * announce_seconds)
    sender.lifecycle("joined")
    sender.handled("1", "acked", 1)
    announced: list[Body] = []

    def alive_three_times() -> bool:
        announced.extend(watch.pull())
        return sum(1 for body in announced if body["kind"] == "alive") >= 3

    wait_for(
        alive_three_times,
        timeout=15,
        what="3 alive announcements",
        details=lambda: str(announced),
    )

    # A replica that says it is not listening announces nothing: the sender asks, three
    # times, and is told no each time.
    listening.on = False
    wait_for(lambda: listening.refusals >= 3, timeout=15, what="3 announcements withheld")
    sender.lifecycle("left")
    assert sender.flush(10) == 0
    bodies = announced + watch.drain()

    kinds = [body["kind"] for body in bodies]
    [joined] = [body for body in bodies if body["kind"] == "joined"]
    alive = [body for body in bodies if body["kind"] == "alive"]
    assert "handled" in kinds
    assert [body for body in alive if body["at"] < joined["at"]] == [], "none before joining"
    assert [body for body in alive if body["at"] > listening.first_refusal] == [], (
        "none once not listening"
    )
    # The sender's thread may announce between "joined" and the message handled: 0 then.
    totals = {(body["acked"], body["rejected"], body["every"]) for body in alive}
    assert (1, 0, announce_seconds) in totals
    assert totals <= {(0, 0, announce_seconds), (1, 0, announce_seconds)}
