"""Fan-out: every subscriber replica receives every message, and leaves nothing behind."""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
from google.cloud import pubsub_v1

from tests.integration.conftest import Services, subscriptions_of
from tests.support.compose import stop_grace_seconds
from tests.support.logs import message_ids
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
REPLICAS = 3
MESSAGES = 30


def received_all(replica: ServiceProcess, message_ids_: list[str]) -> bool:
    return set(message_ids_) <= set(message_ids(replica.log(), "received"))


def test_every_replica_gets_every_message_then_cleans_up(
    services: Services,
    created_topic: str,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replicas = [services.start("subscriber", created_topic) for _ in range(REPLICAS)]
    names = {replica.wait_for_event("listening")["subscription"] for replica in replicas}
    assert len(names) == REPLICAS, "each replica has a subscription of its own"
    assert set(subscriptions_of(subscriber_client, created_topic)) == names

    publisher = services.start("publisher", created_topic, PUBLISH_INTERVAL_SECONDS="0.05")
    wait_for(
        lambda: len(message_ids(publisher.log(), "published")) >= MESSAGES,
        timeout=60,
        what=f"{MESSAGES} publishes",
        details=publisher.details,
    )
    status, _ = publisher.terminate()
    assert status == 0, publisher.details()
    published = message_ids(publisher.log(), "published")
    assert len(set(published)) == len(published)

    for replica in replicas:
        wait_for(
            partial(received_all, replica, published),
            timeout=30,
            what="every published message at every replica",
            details=replica.details,
        )
        duplicates = sum(n - 1 for n in Counter(message_ids(replica.log(), "received")).values())
        # At-least-once delivery allows duplicates; none are expected on a quiet emulator,
        # and any would show here.
        print(f"{replica.log_path.name}: {len(published)} received, {duplicates} duplicates")

    grace = stop_grace_seconds("subscriber")
    for replica in replicas:
        name = replica.events("listening")[0]["subscription"]
        status, seconds = replica.terminate()
        print(f"{replica.log_path.name}: stopped in {seconds:.2f}s")
        assert status == 0, replica.details()
        assert seconds < grace, f"shutdown took {seconds:.2f}s\n{replica.details()}"
        assert replica.events("subscription deleted", subscription=name), replica.details()
    assert subscriptions_of(subscriber_client, created_topic) == []
