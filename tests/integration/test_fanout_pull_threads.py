"""A replica pulling on several threads loses nothing: at start, in steady state, at shutdown.

Several pull calls in flight on one subscription is what the emulator must serve without
stranding a message (docs/work-queue.md: it strands them with StreamingPull, which is why
no consumer here streams). Every message is counted at the replica by its ID from the
JSON log; duplicates are reported (at-least-once delivery allows them).
"""

from __future__ import annotations

from collections import Counter

import pytest
from google.cloud import pubsub_v1

from common.messages.channels import Channel, ChannelMessage
from tests.integration.conftest import Services, save_report, subscriptions_of, topic_path
from tests.support.compose import stop_grace_seconds
from tests.support.logs import message_ids
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
PULL_THREADS = 4
BURST = 3000
STEADY = 2500


def received_all(replica: ServiceProcess, wanted: set[str]) -> bool:
    return wanted <= set(message_ids(replica.log(), "received"))


def test_several_pull_threads_lose_nothing(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    # DEBUG: the shutdown's steps are debug lines (common.receive).
    replica = services.start(
        "subscriber", created_topic, PULL_THREADS=str(PULL_THREADS), LOG_LEVEL="DEBUG"
    )
    subscription = replica.wait_for_event("listening")["subscription"]

    # At start: a burst as fast as the client publishes, while every thread's first
    # pull is in flight.
    data, attributes = ChannelMessage(Channel(52, "News"), 1).encode()
    futures = [
        publisher_client.publish(topic_path(created_topic), data, **attributes)
        for _ in range(BURST)
    ]
    burst = {future.result(timeout=60) for future in futures}

    # Steady state: the publisher service at 1,000 msgs/s for a few seconds.
    publisher = services.start("publisher", created_topic, PUBLISH_INTERVAL_SECONDS="0.001")
    wait_for(
        lambda: len(message_ids(publisher.log(), "published")) >= STEADY,
        timeout=60,
        what="the steady publishes",
        details=publisher.details,
    )
    status, _ = publisher.terminate()
    assert status == 0, publisher.details()
    steady = set(message_ids(publisher.log(), "published"))
    wanted = burst | steady
    wait_for(
        lambda: received_all(replica, wanted),
        timeout=60,
        what="every published message at the replica",
        details=lambda: f"{len(wanted - set(message_ids(replica.log(), 'received')))} missing",
    )

    # At shutdown: SIGTERM while messages are still arriving.
    publisher = services.start("publisher", created_topic, PUBLISH_INTERVAL_SECONDS="0.002")
    publisher.wait_for_event("published")
    status, seconds = replica.terminate()
    publisher.terminate()
    assert status == 0, replica.details()
    assert seconds < stop_grace_seconds("subscriber"), f"shutdown took {seconds:.2f}s"
    [stopped] = replica.events("pull threads stopped")
    assert stopped["running"] == 0, "every pull thread stopped"
    assert replica.events("subscription deleted", subscription=subscription)
    assert subscriptions_of(subscriber_client, created_topic) == []
    received = Counter(message_ids(replica.log(), "received"))
    # Every message acked was logged first, so the count of acks is the count of lines.
    [summary] = replica.events("stopped receiving")
    handled = summary["handled"]
    assert handled == sum(received.values())
    duplicates = sum(count - 1 for count in received.values())
    save_report(
        "fanout_pull_threads.txt",
        f"{PULL_THREADS} pull threads: {len(burst)} burst + {len(steady)} steady published, "
        f"{len(wanted - set(received))} lost, {duplicates} duplicate(s); "
        f"{handled} handled in all; shutdown {seconds:.2f}s under load\n",
    )
