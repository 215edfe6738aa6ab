"""A fan-out replica's identity outlives its process, and no two live processes share it.

Against the real emulator: a replica SIGKILLed and started again with the same REPLICA_ID
resumes its subscription and receives what was published meanwhile; a subscription
deleted under a running replica is created again in process; a second live process with
the same REPLICA_ID makes the first one stop, loudly.
"""

from __future__ import annotations

import signal
import time

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.messages.channels import Channel, ChannelMessage
from subscriber.fanout.identity import CHECK_SECONDS
from tests.integration.conftest import PROJECT, Services, subscriptions_of, topic_path
from tests.support.logs import message_ids
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def publish(publisher: pubsub_v1.PublisherClient, topic: str, count: int) -> list[str]:
    futures = [
        publisher.publish(topic_path(topic), ChannelMessage(Channel(7, "Movies"), n).encode()[0])
        for n in range(count)
    ]
    return [future.result(timeout=30) for future in futures]


def wait_for_all(replica: ServiceProcess, expected: list[str], timeout: float = 30) -> None:
    wait_for(
        lambda: set(expected) <= set(message_ids(replica.log(), "received")),
        timeout=timeout,
        what=f"{len(expected)} messages at the replica",
        details=replica.details,
    )


def test_a_replica_killed_and_started_again_resumes_its_subscription(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    first = services.start("subscriber", created_topic, REPLICA_ID="replica-a")
    path = first.wait_for_event("listening")["subscription"]
    wait_for_all(first, publish(publisher_client, created_topic, 5))
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    while_down = publish(publisher_client, created_topic, 20)

    second = services.start("subscriber", created_topic, REPLICA_ID="replica-a")
    second.wait_for_event("subscription exists", subscription=path)
    second.wait_for_event("listening", subscription=path)
    wait_for_all(second, [*while_down, *publish(publisher_client, created_topic, 5)])
    assert second.events("subscription created") == [], "it created nothing"
    assert subscriptions_of(subscriber_client, created_topic) == [
        f"projects/{PROJECT}/subscriptions/{created_topic}-replica-a"
    ], "nothing new created, nothing leaked"
    status, _ = second.terminate()
    assert status == 0


def test_a_subscription_deleted_under_a_replica_is_created_again(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica = services.start("subscriber", created_topic)
    path = replica.wait_for_event("listening")["subscription"]
    subscriber_client.delete_subscription(subscription=path)
    replica.wait_for_event("subscription gone", subscription=path)
    replica.wait_for_event("subscription created", subscription=path)
    replica.wait_for_event("subscription restored", subscription=path)
    wait_for_all(replica, publish(publisher_client, created_topic, 5))
    assert replica.process.poll() is None, "recovered in process"
    status, _ = replica.terminate()
    assert status == 0


def test_two_live_processes_with_one_identity_do_not_share_it_quietly(
    services: Services,
    created_topic: str,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    first = services.start("subscriber", created_topic, REPLICA_ID="twin")
    first.wait_for_event("listening")
    second = services.start("subscriber", created_topic, REPLICA_ID="twin")
    second.wait_for_event("identity taken over", replica="twin")
    started = time.monotonic()
    status = first.process.wait(timeout=CHECK_SECONDS + 15)
    seconds = time.monotonic() - started
    print(f"\ntwo live processes with REPLICA_ID=twin: the first stopped {seconds:.1f}s later")
    assert status == 2, first.details()
    first.wait_for_event("identity taken", replica="twin")
    # It left the shared subscription to the other process.
    assert subscriber_client.get_subscription(
        subscription=f"projects/{PROJECT}/subscriptions/{created_topic}-twin"
    )
    assert second.process.poll() is None
    second.terminate()
    with pytest.raises(exceptions.NotFound):
        subscriber_client.get_subscription(
            subscription=f"projects/{PROJECT}/subscriptions/{created_topic}-twin"
        )


def test_a_replica_may_keep_its_subscriptions_in_a_project_of_their_own(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica = services.start(
        "subscriber", created_topic, REPLICA_SUBSCRIPTIONS_PROJECT_ID="replica-project"
    )
    path = replica.wait_for_event("listening")["subscription"]
    assert path.startswith("projects/replica-project/subscriptions/"), path
    wait_for_all(replica, publish(publisher_client, created_topic, 5))

    def owned() -> list[str]:
        request = {"project": "projects/replica-project"}
        return [s.name for s in subscriber_client.list_subscriptions(request=request)]

    assert path in owned()
    assert subscriptions_of(subscriber_client, created_topic) == [], "none in the main project"
    status, _ = replica.terminate()
    assert status == 0
    assert [name for name in owned() if created_topic in name] == [], "deleted on the way out"
