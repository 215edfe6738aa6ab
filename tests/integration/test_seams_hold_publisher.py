"""The publisher holds against its source's mistakes (issue 21): each is that sequence
number's failure, skipped and counted, and the messages before and after it are
published; the publisher ends only on SIGTERM, within its grace period even when the
source left a thread running. The sources are ``mistakes.careless_source`` and
``polling_source``."""

from __future__ import annotations

import pytest
from google.cloud import pubsub_v1

from tests.integration.conftest import PROJECT, Services, topic_path
from tests.integration.mistakes import SOURCE_MISTAKES
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
CODE = "tests.integration.mistakes"
# compose's stop_grace_period for the publisher (docker-compose.yml), and Kubernetes'.
GRACE_SECONDS = 10


def received(subscriber: pubsub_v1.SubscriberClient, path: str, count: int) -> list[bytes]:
    """``count`` messages pulled from ``path`` (acked), in no particular order."""
    bodies: list[bytes] = []

    def enough() -> bool:
        response = subscriber.pull(subscription=path, max_messages=50, timeout=5)
        bodies.extend(received.message.data for received in response.received_messages)
        if response.received_messages:
            ack_ids = [received.ack_id for received in response.received_messages]
            subscriber.acknowledge(subscription=path, ack_ids=ack_ids)
        return len(bodies) >= count

    wait_for(enough, timeout=30, what=f"{count} messages on {path}")
    return bodies


def test_a_sources_base_exception_awaitable_or_unpublishable_message_is_skipped(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    path = f"projects/{PROJECT}/subscriptions/{created_topic}-all"
    subscriber_client.create_subscription(name=path, topic=topic_path(created_topic))
    publisher = services.start(
        "publisher",
        created_topic,
        PUBLISHER_SOURCE=f"{CODE}:careless_source",
        PUBLISH_INTERVAL_SECONDS="0.2",
    )
    publisher.wait_for_event("published", sequence=1)
    # After the 10 MB one: a client that kept its flow-control reservation would refuse it.
    publisher.wait_for_event("published", sequence=max(SOURCE_MISTAKES) + 3)
    for sequence in SOURCE_MISTAKES:
        assert not publisher.events("published", sequence=sequence)
    # The first failure of a run is logged; the rest are counted.
    assert publisher.events("publish failed", sequence=2)
    status, seconds = publisher.terminate()
    assert status == 0, publisher.details()
    assert seconds < GRACE_SECONDS
    (stopped,) = publisher.events("stopped")
    assert stopped["failed"] == len(SOURCE_MISTAKES)
    assert stopped["published"] >= 4
    # What Pub/Sub has is what the publisher says it published: no empty message, no 10 MB.
    bodies = received(subscriber_client, path, stopped["published"])
    assert len(bodies) == stopped["published"]
    assert all(0 < len(body) < 1000 for body in bodies)


def test_a_source_that_leaves_a_thread_running_does_not_hold_the_exit(
    services: Services, created_topic: str
) -> None:
    publisher = services.start(
        "publisher",
        created_topic,
        PUBLISHER_SOURCE=f"{CODE}:polling_source",
        PUBLISH_INTERVAL_SECONDS="0.2",
    )
    publisher.wait_for_event("published", sequence=3)
    status, seconds = publisher.terminate(timeout=GRACE_SECONDS + 5)
    assert status == 0, publisher.details()
    assert seconds < GRACE_SECONDS, f"SIGTERM took {seconds:.1f}s\n{publisher.details()}"
    (stopped,) = publisher.events("stopped")
    assert stopped["failed"] == 0
    assert stopped["published"] >= 3
