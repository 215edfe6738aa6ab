"""The receive path against the real emulator: what it declares is what Pub/Sub holds, and
a handler that never returns holds nothing forever.

- an existing subscription under a replica's name, made with an ack deadline of 600 s and
  no dead-letter policy, is brought in line when the replica starts;
- one on another topic stops the replica with exit status 2, naming it and the field;
- the replica's identity claim never expires;
- with MAX_LEASE_SECONDS small, a message whose handler never returns is let go and
  redelivered (delivery attempt 2) while the replica handles the rest; once every handler
  thread is held past the cap, the liveness check fails.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.messages.channels import Channel, ChannelMessage
from tests.integration.conftest import PROJECT, Services, topic_path
from tests.support import ROOT
from tests.support.environment import clean_env
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def subscription_path(name: str) -> str:
    return f"projects/{PROJECT}/subscriptions/{name}"


def test_an_existing_replica_subscription_is_brought_in_line(
    services: Services, created_topic: str, subscriber_client: pubsub_v1.SubscriberClient
) -> None:
    path = subscription_path(f"{created_topic}-replica-a")
    subscriber_client.create_subscription(
        request={"name": path, "topic": topic_path(created_topic), "ack_deadline_seconds": 600}
    )
    replica = services.start("subscriber", created_topic, REPLICA_ID="replica-a")
    updated = replica.wait_for_event("subscription updated", subscription=path)
    assert {"ack_deadline_seconds", "dead_letter_policy", "retry_policy"} <= set(updated["fields"])
    replica.wait_for_event("listening", subscription=path)
    held = subscriber_client.get_subscription(subscription=path)
    assert held.ack_deadline_seconds == 10
    assert held.dead_letter_policy.dead_letter_topic == topic_path(f"{created_topic}-dead-letter")
    assert held.dead_letter_policy.max_delivery_attempts == 5
    assert held.retry_policy.minimum_backoff.total_seconds() == 1
    status, _ = replica.terminate()
    assert status == 0, replica.details()


def test_a_subscription_on_another_topic_stops_the_replica_naming_it(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    other = f"{created_topic}-replicas"  # a topic the fixture removes afterwards
    publisher_client.create_topic(name=topic_path(other))
    path = subscription_path(f"{created_topic}-replica-b")
    subscriber_client.create_subscription(request={"name": path, "topic": topic_path(other)})
    replica = services.start("subscriber", created_topic, REPLICA_ID="replica-b")
    conflict = replica.wait_for_event("provisioning conflict")
    assert replica.process.wait(timeout=30) == 2
    assert (conflict["subscription"], conflict["field"]) == (path, "topic"), conflict
    subscriber_client.delete_subscription(subscription=path)


def test_the_identity_claim_never_expires(
    services: Services, created_topic: str, subscriber_client: pubsub_v1.SubscriberClient
) -> None:
    replica = services.start("subscriber", created_topic, REPLICA_ID="replica-c")
    replica.wait_for_event("listening")
    claim = subscriber_client.get_subscription(
        subscription=subscription_path(f"{created_topic}-replicas-replica-c")
    )
    assert not types.Subscription.pb(claim).expiration_policy.HasField("ttl"), "never expires"
    status, _ = replica.terminate()
    assert status == 0


def test_a_handler_that_never_returns_holds_nothing_forever(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    replica = services.start(
        "subscriber",
        created_topic,
        HANDLER="tests.integration.seam_code:hanging_handler",
        MAX_LEASE_SECONDS="3",
        HANDLER_THREADS="2",
    )
    replica.wait_for_event("listening")
    topic = topic_path(created_topic)
    hang_id = publisher_client.publish(topic, b"hang").result()
    let_go = replica.wait_for_event("let go", message_id=hang_id, attempt=1)
    assert let_go["severity"] == "WARNING"
    # Redelivered after the retry backoff, as delivery attempt 2; its handler hangs too.
    replica.wait_for_event("let go", message_id=hang_id, attempt=2, timeout=60)
    # Every thread is held now: the replica says so, and its liveness check fails.
    heartbeat = services.tmp_path / "heartbeat-0"
    wait_for(
        lambda: heartbeat.read_text().startswith("stuck"),
        timeout=30,
        what="the heartbeat saying stuck",
        details=replica.details,
    )
    live = subprocess.run(
        [sys.executable, "-m", "common.health", "--live"],
        cwd=ROOT,
        env=clean_env(HEARTBEAT_FILE=str(heartbeat)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert live.returncode == 1, live.stderr
    assert "handler threads held" in live.stderr
    status, _ = replica.terminate()
    assert status == 0, replica.details()


def test_the_replica_handles_the_rest_while_one_handler_hangs(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    replica = services.start(
        "subscriber",
        created_topic,
        HANDLER="tests.integration.seam_code:hanging_handler",
        MAX_LEASE_SECONDS="3",
        HANDLER_THREADS="4",
    )
    replica.wait_for_event("listening")
    topic = topic_path(created_topic)
    hang_id = publisher_client.publish(topic, b"hang").result()
    replica.wait_for_event("let go", message_id=hang_id)
    good = [
        publisher_client.publish(topic, ChannelMessage(Channel(7, "Movies"), n).encode()[0])
        for n in range(5)
    ]
    for future in good:
        replica.wait_for_event("received", message_id=future.result())
    replica.wait_for_event("let go", message_id=hang_id, attempt=2, timeout=60)
    status, _ = replica.terminate()
    assert status == 0, replica.details()
