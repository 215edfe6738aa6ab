"""What the sink's integration tests share: a private PostgreSQL server, a sink process
on it, publishing readings and reading back what was stored."""

from __future__ import annotations

from typing import Any

from google.cloud import pubsub_v1

from common.messages.readings import Reading
from tests.integration.conftest import Services, topic_path
from tests.support.postgres import PASSWORD, PostgresServer
from tests.support.processes import ServiceProcess


def start_sink(
    services: Services, topic: str, server: PostgresServer, **settings: str
) -> ServiceProcess:
    password_file = services.tmp_path / "postgres-password.txt"
    password_file.write_text(PASSWORD + "\n")
    defaults = {
        "SUBSCRIPTION_MODE": "sink",
        "POSTGRES_PASSWORD_FILE": str(password_file),
        "ACK_DEADLINE_SECONDS": "10",
        "DB_RETRY_MAX_SECONDS": "2",
    }
    return services.start("subscriber", topic, **{**defaults, **server.settings(), **settings})


def publish(publisher: pubsub_v1.PublisherClient, topic: str, data: bytes, **attrs: str) -> str:
    message_id: str = publisher.publish(topic_path(topic), data, **attrs).result(timeout=30)
    return message_id


def publish_reading(publisher: pubsub_v1.PublisherClient, topic: str, reading: Reading) -> str:
    data, attributes = reading.encode()
    return publish(publisher, topic, data, **attributes)


def query(server: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    with server.connect() as connection:
        return connection.execute(sql.encode()).fetchall()


def stored_ids(server: PostgresServer, table: str = "readings") -> list[str]:
    return [str(row[0]) for row in query(server, f"SELECT message_id FROM {table}")]
