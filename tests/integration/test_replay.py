"""Late joiners (REPLAY_SECONDS) on the real emulator: a replica's new subscription is
sought back, a resumed one is left alone, and the topic is made to retain the window.

On the emulator a subscription created on a topic that retains messages receives them
at once, without a seek (Google Cloud needs the seek: docs/operations.md, "Late
joiners"); what shows the seek here is its other edge: what is older than the window is
marked acknowledged, so the new replica does not receive it.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.messages.channels import Channel, ChannelMessage
from common.provision import Provisioner
from common.resources import topic as declared_topic
from tests.integration.conftest import Services, topic_path
from tests.support.logs import message_ids
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
WINDOW_SECONDS = 10


def publish(publisher: pubsub_v1.PublisherClient, topic: str, count: int) -> list[str]:
    futures = [
        publisher.publish(topic_path(topic), ChannelMessage(Channel(52, "News"), n).encode()[0])
        for n in range(count)
    ]
    return [future.result(timeout=30) for future in futures]


def received(replica: ServiceProcess) -> set[str]:
    return set(message_ids(replica.log(), "received"))


@pytest.fixture
def retaining_topic(topic: str, publisher_client: pubsub_v1.PublisherClient) -> str:
    """``topic`` created as the publisher creates it with REPLAY_SECONDS set: retaining."""
    Provisioner(publisher_client, None, threading.Event()).ensure_topic(
        declared_topic(topic_path(topic), timedelta(minutes=10))
    )
    return topic


def test_a_new_replica_receives_the_window_before_it_and_nothing_older(
    services: Services, retaining_topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    older = publish(publisher_client, retaining_topic, 5)
    time.sleep(WINDOW_SECONDS + 5)  # what is being measured: these fall out of the window
    within = publish(publisher_client, retaining_topic, 5)
    replica = services.start("subscriber", retaining_topic, REPLAY_SECONDS=str(WINDOW_SECONDS))
    caught_up = replica.wait_for_event("caught up", timeout=60)
    assert caught_up["subscription"].endswith(f"{retaining_topic}-replica-0")
    after = publish(publisher_client, retaining_topic, 3)
    wait_for(
        lambda: set(within + after) <= received(replica),
        timeout=30,
        what="the window's messages and the new ones at the late joiner",
        details=replica.details,
    )
    assert not set(older) & received(replica), "older than the window: sought past"
    status, _ = replica.terminate()
    assert status == 0, replica.details()


def test_a_resumed_subscription_is_not_sought_back(
    services: Services, retaining_topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    settings = {"REPLICA_ID": "resumer", "REPLAY_SECONDS": str(WINDOW_SECONDS)}
    first = services.start("subscriber", retaining_topic, **settings)
    first.wait_for_event("caught up", timeout=60)
    handled = publish(publisher_client, retaining_topic, 3)
    wait_for(lambda: set(handled) <= received(first), timeout=30, what="3 messages handled")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    while_down = publish(publisher_client, retaining_topic, 3)

    second = services.start("subscriber", retaining_topic, **settings)
    second.wait_for_event("subscription exists", timeout=60)
    wait_for(
        lambda: set(while_down) <= received(second),
        timeout=30,
        what="what was published while it was down",
        details=second.details,
    )
    assert second.events("caught up") == [], "its own backlog, not a replay"
    status, _ = second.terminate()
    assert status == 0, second.details()


def test_an_existing_topic_is_made_to_retain_the_window(
    created_topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    path = topic_path(created_topic)
    assert publisher_client.get_topic(topic=path).message_retention_duration == timedelta(0)
    provisioner = Provisioner(publisher_client, None, threading.Event())
    provisioner.ensure_topic(declared_topic(path, timedelta(hours=2)))
    assert publisher_client.get_topic(topic=path).message_retention_duration == timedelta(hours=2)
    # A longer retention already covers a shorter window: left as it is.
    provisioner.ensure_topic(declared_topic(path, timedelta(hours=1)))
    kept: types.Topic = publisher_client.get_topic(topic=path)
    assert kept.message_retention_duration == timedelta(hours=2)
