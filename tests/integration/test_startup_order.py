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
    replica.wait_for_log(r"waiting for topic projects/\S+/topics/" + topic + " before creating")
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.2")
    publisher.wait_for_log(r"created topic")
    # Backoff between checks for the topic is capped at 10 s.
    replica.wait_for_log(r"listening on", timeout=30)
    replica.wait_for_log(r"received message_id=\S+ channel=\d+", timeout=30)
    for service in (publisher, replica):
        status, _ = service.terminate()
        assert status == 0, service.details()


def test_publisher_started_before_the_emulator(
    services: Services, topic: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    services.emulator_host = f"127.0.0.1:{port}"
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.2")
    publisher.wait_for_log(r"waiting for Pub/Sub to create topic .*ServiceUnavailable")
    assert publisher.process.poll() is None, "it must wait, not crash"

    emulator = start_emulator(port, tmp_path_factory.mktemp("late-emulator") / "emulator.log")
    try:
        publisher.wait_for_log(r"created topic", timeout=30)
        publisher.wait_for_log(r"published message_id=\S+", timeout=30)
        status, _ = publisher.terminate()
        assert status == 0, publisher.details()
    finally:
        emulator.stop()


def test_publisher_recreates_a_topic_that_disappears(
    services: Services, topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    # What an emulator restart looks like to the publisher: its topic is gone.
    publisher = services.start("publisher", topic, PUBLISH_INTERVAL_SECONDS="0.1")
    publisher.wait_for_log(r"published message_id=")
    publisher_client.delete_topic(topic=topic_path(topic))
    publisher.wait_for_log(r"publish failed: .*NotFound")
    publisher.wait_for_log(rf"topic {topic_path(topic)} is gone; creating it again")
    after = publisher.wait_for_log(r"(?s)creating it again.*created topic.*\n")
    wait_for(
        lambda: "published message_id=" in publisher.log()[after.end() :],
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

    publisher.wait_for_log(r"published message_id=")
    emulator.stop()
    try:
        publisher.wait_for_log(r"Pub/Sub \(publishing to \S+\) unavailable \(a publish has waited")
        assert "none confirmed since" in health()
    finally:
        emulator = start_emulator(port, logs / "second.log")
    try:
        # Publishes from before the stop may still wait on the client's retries (up to a
        # minute); the publisher is ready as soon as new ones are confirmed.
        publisher.wait_for_log(r"Pub/Sub \(publishing to \S+\) back after", timeout=40)
        wait_for(lambda: health() == "", timeout=5, what="ready", details=health)
        status, _ = publisher.terminate()
        assert status in (0, 1), publisher.details()  # 1: a publish from before never went out
    finally:
        emulator.stop()
