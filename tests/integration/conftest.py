"""The real Pub/Sub emulator, and the services run as real processes against it.

The emulator comes from PUBSUB_EMULATOR_HOST when set, else it is started here with the
Google Cloud CLI (`gcloud beta emulators pubsub start`) on a free loopback port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.conftest import ROOT, unavailable, wait_for
from tests.emulator import Emulator, EmulatorUnavailable
from tests.emulator import emulator_host as running_emulator

pytestmark = pytest.mark.integration
PROJECT = EMULATOR_DEFAULT_PROJECT
STOP_TIMEOUT_SECONDS = 15
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
    for name in (topic_id, f"{topic_id}-dead-letter", f"{topic_id}-receipts"):
        for subscription in subscriptions_of(subscriber, name):
            subscriber.delete_subscription(request={"subscription": subscription})
        with contextlib.suppress(exceptions.NotFound):
            publisher.delete_topic(request={"topic": topic_path(name)})


@pytest.fixture
def created_topic(topic: str, publisher_client: pubsub_v1.PublisherClient) -> str:
    """``topic``, created up front as the publisher would: replicas started next receive
    every message the test publishes (test_startup_order covers the other order)."""
    publisher_client.create_topic(name=topic_path(topic))
    return topic


class Service:
    """``python -m publisher`` or ``python -m subscriber``, as its container runs it."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.module = module
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def details(self) -> str:
        return f"--- {self.module} log ({self.log_path}) ---\n{self.log()}"

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        return wait_for(
            lambda: re.search(pattern, self.log()),
            timeout=timeout,
            what=f"{pattern!r} in the {self.module} log",
            details=self.details,
        )

    def terminate(self) -> tuple[int, float]:
        """SIGTERM, as `docker stop` sends; the exit status and seconds it took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"{self.module} ignored SIGTERM\n{self.details()}") from None
        return status, time.monotonic() - started

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._log.close()


class Services:
    def __init__(self, emulator_host: str, tmp_path: Path) -> None:
        self.emulator_host = emulator_host
        self.tmp_path = tmp_path
        self.started: list[Service] = []

    def start(self, module: str, topic: str, **settings: str) -> Service:
        index = len(self.started)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PUBSUB_", "GCP_", "GOOGLE_", "PUBLISH_"))
        }
        env.update(
            PUBSUB_EMULATOR_HOST=self.emulator_host,
            PUBSUB_TOPIC=topic,
            HEARTBEAT_FILE=str(self.tmp_path / f"heartbeat-{index}"),
            **settings,
        )
        service = Service(module, env, self.tmp_path / f"{module}-{index}.log")
        self.started.append(service)
        return service


@pytest.fixture
def services(emulator_host: str, tmp_path: Path) -> Iterator[Services]:
    started = Services(emulator_host, tmp_path)
    yield started
    for service in started.started:
        service.close()
