"""What a machine without the Google Cloud CLI or PostgreSQL gets instead: the emulator and
PostgreSQL from the images docker-compose.yml names (tests/support/containers.py). Run here
whatever this machine has, so that the path a fresh machine takes is tested everywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.conftest import unavailable
from tests.support.emulator import Emulator, EmulatorUnavailable, free_port
from tests.support.postgres import (
    DATABASE,
    PASSWORD,
    USER,
    PostgresServer,
    PostgresUnavailable,
)
from tests.support.postgres_servers import container_server

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator_image(tmp_path: Path) -> Iterator[str]:
    try:
        emulator = Emulator(free_port(), tmp_path / "emulator.log", local=False)
    except EmulatorUnavailable as exc:
        unavailable(str(exc))
    try:
        emulator.wait_until_up()
        yield emulator.host
    finally:
        emulator.stop()


@pytest.fixture
def postgres_image() -> Iterator[PostgresServer]:
    try:
        with container_server() as server:
            yield server
    except PostgresUnavailable as exc:
        unavailable(str(exc))


def test_the_emulator_image_serves_a_publish_and_a_pull(
    emulator_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator_image)
    topic = f"projects/{EMULATOR_DEFAULT_PROJECT}/topics/machinery"
    subscription = f"projects/{EMULATOR_DEFAULT_PROJECT}/subscriptions/machinery"
    publisher = pubsub_v1.PublisherClient()
    with pubsub_v1.SubscriberClient() as subscriber:
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription, topic=topic)
        message_id = publisher.publish(topic, b"hello").result(timeout=30)
        pulled = subscriber.pull(subscription=subscription, max_messages=1, timeout=30)
    assert [m.message.message_id for m in pulled.received_messages] == [message_id]
    assert emulator_image.startswith("127.0.0.1:"), "published on loopback only"


def test_the_postgres_image_stops_starts_and_freezes_like_a_server(
    postgres_image: PostgresServer,
) -> None:
    with postgres_image.connect() as connection:
        connection.execute("CREATE TABLE kept (n int)")
        connection.execute("INSERT INTO kept VALUES (1)")
    postgres_image.stop("fast")
    assert not postgres_image.running()
    with pytest.raises(psycopg.OperationalError):
        postgres_image.connect().close()
    postgres_image.start()
    with postgres_image.connect() as connection:
        assert connection.execute("SELECT n FROM kept").fetchall() == [(1,)], "data kept"
    postgres_image.freeze(True)
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                host="127.0.0.1", port=postgres_image.port, dbname=DATABASE, user=USER,
                password=PASSWORD, connect_timeout=2,
            ).close()  # fmt: skip
        assert time.monotonic() - started >= 1.5, "a frozen server accepts, then says nothing"
    finally:
        postgres_image.freeze(False)
    with postgres_image.connect() as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
