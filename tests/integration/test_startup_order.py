"""Services started in any order wait for what they need instead of crashing."""

from __future__ import annotations

import time

import pytest
from google.cloud import pubsub_v1

from common.health import check
from tests.integration.conftest import Services, start_emulator, topic_path
from tests.support.emulator import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_subscriber_started_before_the_topic_exists(services: Services, topic: str) -> None:
    replica = services.start("subscriber", topic)
    replica.wait_for_event("unavailable", peer=f"Pub/Sub and topic {topic_path(topic)}")
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.2")
    publisher.wait_for_event("topic created", topic=topic_path(topic))
    # Backoff between checks for the topic is capped at 10 s.
    replica.wait_for_event("listening", timeout=30)
    replica.wait_for_event("received", timeout=30)
    for service in (publisher, replica):
        status, _ = service.terminate()
        assert status == 0, service.details()


def test_publisher_started_before_the_emulator(
    services: Services, topic: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    services.emulator_host = f"127.0.0.1:{port}"
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.2")
    waiting = publisher.wait_for_event("unavailable", peer="Pub/Sub")
    assert waiting["reason"].startswith("ServiceUnavailable"), waiting
    assert publisher.process.poll() is None, "it must wait, not crash"

    emulator = start_emulator(port, tmp_path_factory.mktemp("late-emulator") / "emulator.log")
    try:
        publisher.wait_for_event("topic created", timeout=30)
        publisher.wait_for_event("published", timeout=30)
        status, _ = publisher.terminate()
        assert status == 0, publisher.details()
    finally:
        emulator.stop()


def test_publisher_recreates_a_topic_that_disappears(
    services: Services, topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    # What an emulator restart looks like to the publisher: its topic is gone.
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.1")
    publisher.wait_for_event("published")
    publisher_client.delete_topic(topic=topic_path(topic))
    failed = publisher.wait_for_event("publish failed")
    assert failed["reason"].startswith("NotFound"), failed
    publisher.wait_for_event("topic gone", topic=topic_path(topic))
    created = publisher.wait_for_events("topic created", 2, topic=topic_path(topic))[-1]

    def published_after_it() -> bool:
        found = publisher.events()
        return any(record.get("event") == "published" for record in found[found.index(created) :])

    wait_for(
        published_after_it,
        timeout=30,
        what="a publish after the topic came back",
        details=publisher.details,
    )
    status, _ = publisher.terminate()
    assert status == 0, publisher.details()


def test_publisher_says_when_pub_sub_stops_confirming_and_is_ready_once_it_does_again(
    services: Services, topic: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A private emulator, stopped for a while and started again empty, as `docker stop`
    # and `docker start` of the emulator do.
    port = free_port()
    logs = tmp_path_factory.mktemp("stopped-emulator")
    emulator = start_emulator(port, logs / "first.log")
    services.emulator_host = f"127.0.0.1:{port}"
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.2")
    heartbeat = services.tmp_path / "heartbeat-0"

    def health() -> str:
        return check(heartbeat, now=time.time(), live_only=False)

    publisher.wait_for_event("published")
    emulator.stop()
    stall = f"Pub/Sub (publishing to {topic_path(topic)})"
    try:
        stalled = publisher.wait_for_event("unavailable", peer=stall)
        assert "none confirmed since" in stalled["reason"], stalled
        assert "none confirmed since" in health()
    finally:
        emulator = start_emulator(port, logs / "second.log")
    try:
        # Publishes from before the stop may still wait on the client's retries (up to a
        # minute); the publisher is ready as soon as new ones are confirmed.
        publisher.wait_for_event("available", peer=stall, timeout=40)

        wait_for(lambda: health() == "", timeout=5, what="ready", details=health)
        status, _ = publisher.terminate()
        assert status in (0, 1), publisher.details()  # 1: a publish from before never went out
    finally:
        emulator.stop()
