"""The real Pub/Sub emulator, and the services run as real processes against it.

The emulator comes from PUBSUB_EMULATOR_HOST when set, else it is started here with the
Google Cloud CLI (`gcloud beta emulators pubsub start`) on a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.emulator import Emulator, EmulatorUnavailable
from tests.support.emulator import emulator_host as running_emulator
from tests.support.environment import clean_env
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.postgres_servers import postgres_server as running_postgres
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration
PROJECT = EMULATOR_DEFAULT_PROJECT
ARTIFACTS = ROOT / "test-artifacts" / "integration"


def save_report(name: str, report: str) -> None:
    """A measured test's figures: printed, and kept in test-artifacts/integration/."""
    print("\n" + report, end="")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(report)


@pytest.fixture(scope="session")
def emulator_host() -> Iterator[str]:
    try:
        with running_emulator() as host:
            yield host
    except EmulatorUnavailable as exc:
        unavailable(str(exc))


def start_emulator(port: int, log_path: Path) -> Emulator:
    try:
        emulator = Emulator(port, log_path)
    except EmulatorUnavailable as exc:
        unavailable(str(exc))
    try:
        emulator.wait_until_up()
    except EmulatorUnavailable:
        emulator.stop()
        raise
    return emulator


@pytest.fixture(scope="session")
def clients(
    emulator_host: str,
) -> Iterator[tuple[pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient]]:
    """Clients for the tests' own checks; the library reads the emulator's address from
    the environment at construction."""
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator_host
    try:
        with pubsub_v1.SubscriberClient() as subscriber:
            yield pubsub_v1.PublisherClient(), subscriber
    finally:
        if previous is None:
            del os.environ["PUBSUB_EMULATOR_HOST"]
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


@pytest.fixture
def publisher_client(
    clients: tuple[pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient],
) -> pubsub_v1.PublisherClient:
    return clients[0]


@pytest.fixture
def subscriber_client(
    clients: tuple[pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient],
) -> pubsub_v1.SubscriberClient:
    return clients[1]


def topic_path(topic: str) -> str:
    return f"projects/{PROJECT}/topics/{topic}"


def subscriptions_of(subscriber: pubsub_v1.SubscriberClient, topic: str) -> list[str]:
    """The subscriptions attached to a topic, as full paths."""
    try:
        return [
            sub.name
            for sub in subscriber.list_subscriptions(request={"project": f"projects/{PROJECT}"})
            if sub.topic == topic_path(topic)
        ]
    except exceptions.NotFound:
        return []


@pytest.fixture
def topic(
    clients: tuple[pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient],
) -> Iterator[str]:
    """A topic ID no other test uses; the test's topics and subscriptions are removed after."""
    topic_id = f"it-{uuid.uuid4().hex[:10]}"
    yield topic_id
    publisher, subscriber = clients
    for name in (
        topic_id,
        *(f"{topic_id}-{kind}" for kind in ("dead-letter", "receipts", "replicas")),
    ):
        for subscription in subscriptions_of(subscriber, name):
            subscriber.delete_subscription(request={"subscription": subscription})
        with contextlib.suppress(exceptions.NotFound):
            publisher.delete_topic(request={"topic": topic_path(name)})


def unacked(subscriber: pubsub_v1.SubscriberClient, subscription: str) -> list[str]:
    """The IDs of messages left unacked on ``subscription`` once its consumers have stopped:
    pulled (and acked) until its ack deadline, as Pub/Sub holds it, has passed, so that a
    message still leased to a stopped consumer has come back by then too."""
    ack_deadline = subscriber.get_subscription(subscription=subscription).ack_deadline_seconds
    until = time.monotonic() + ack_deadline + 2
    found: list[str] = []
    while time.monotonic() < until:
        response = subscriber.pull(subscription=subscription, max_messages=100, timeout=2)
        if response.received_messages:
            found += [received.message.message_id for received in response.received_messages]
            ack_ids = [received.ack_id for received in response.received_messages]
            subscriber.acknowledge(subscription=subscription, ack_ids=ack_ids)
    return found


@pytest.fixture
def created_topic(topic: str, publisher_client: pubsub_v1.PublisherClient) -> str:
    """``topic``, created up front as the publisher would: replicas started next receive
    every message the test publishes (test_startup_order covers the other order)."""
    publisher_client.create_topic(name=topic_path(topic))
    return topic


class Services:
    def __init__(self, emulator_host: str, tmp_path: Path) -> None:
        self.emulator_host = emulator_host
        self.tmp_path = tmp_path
        self.started: list[ServiceProcess] = []

    def start(self, module: str, topic: str, **settings: str) -> ServiceProcess:
        """``python -m module`` on the emulator and ``topic``, in a clean environment."""
        index = len(self.started)
        defaults = {
            # Each process its own replica, as each container has its own host name.
            "REPLICA_ID": f"replica-{index}",
            # Tests read the services' events, not their wording.
            "LOG_FORMAT": "json",
            # Retries a second or two apart: a dead-letter test sees 5 attempts in seconds.
            "RETRY_MIN_BACKOFF_SECONDS": "1",
            "RETRY_MAX_BACKOFF_SECONDS": "2",
        }
        env = clean_env(
            PUBSUB_EMULATOR_HOST=self.emulator_host,
            PUBSUB_TOPIC=topic,
            HEARTBEAT_FILE=str(self.tmp_path / f"heartbeat-{index}"),
            **{**defaults, **settings},
        )
        service = ServiceProcess(module, env, self.tmp_path / f"{module}-{index}.log")
        self.started.append(service)
        return service


@pytest.fixture
def services(emulator_host: str, tmp_path: Path) -> Iterator[Services]:
    started = Services(emulator_host, tmp_path)
    yield started
    for service in started.started:
        service.close()


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        unavailable(str(exc))
