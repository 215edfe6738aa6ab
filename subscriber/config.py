"""The subscriber's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.config import (
    ConfigError,
    PubSubConfig,
    read_choice,
    read_float,
    read_int,
    read_receipts_topic,
    read_resource_id,
    read_str,
)

PER_REPLICA = "per-replica"
SHARED = "shared"
SINK = "sink"


@dataclass(frozen=True)
class WorkQueueConfig:
    """Settings of shared mode, where replicas are competing workers."""

    # The one subscription every replica pulls from; it outlives them.
    subscription_id: str
    worker_processes: int
    # A task still running after this long is terminated and its message nacked.
    task_deadline_seconds: float
    # The lease a worker takes on each message, renewed while its task runs.
    ack_deadline_seconds: int
    # On SIGTERM, how long tasks in hand may run on before they are nacked.
    drain_seconds: float


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the sink's PostgreSQL is; the names are those of the official postgres image."""

    host: str
    port: int
    dbname: str
    user: str
    # Read from POSTGRES_PASSWORD_FILE (a compose secret), never from a plain variable;
    # None: libpq's own means (trust, ~/.pgpass). Kept out of repr, hence out of logs.
    password: str | None = field(repr=False)
    connect_timeout_seconds: int

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


@dataclass(frozen=True)
class SinkConfig:
    """Settings of sink mode, where every message is stored in PostgreSQL before its ack."""

    # The one durable subscription every sink replica pulls from; it outlives them.
    subscription_id: str
    # The most messages in hand, and so in one transaction.
    batch_size: int
    # The lease taken on each message, renewed while it waits for the database.
    ack_deadline_seconds: int
    # Cap of the backoff between attempts while the database is unavailable.
    retry_max_seconds: float
    # On SIGTERM, how long to try storing (and acking) the messages in hand.
    drain_seconds: float
    database: DatabaseConfig


@dataclass(frozen=True)
class SubscriberConfig:
    pubsub: PubSubConfig
    # Where Pub/Sub forwards a message that failed max_delivery_attempts times; one
    # durable subscription of the same name keeps those messages for inspection.
    dead_letter_topic_id: str
    max_delivery_attempts: int
    # Flow control in per-replica mode: the most messages held unacknowledged at once.
    max_outstanding_messages: int
    # Set in shared mode (work queue) only.
    work_queue: WorkQueueConfig | None
    # Set in sink mode only. Neither set: per-replica mode (fan-out).
    sink: SinkConfig | None = None
    # Where a per-replica subscriber reports what it handled (for the live view); None
    # when RECEIPTS=off, and always in shared mode.
    receipts_topic_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SubscriberConfig:
        pubsub = PubSubConfig.from_env(env)
        mode = read_choice(env, "SUBSCRIPTION_MODE", PER_REPLICA, (PER_REPLICA, SHARED, SINK))
        return cls(
            pubsub=pubsub,
            dead_letter_topic_id=read_resource_id(
                env, "DEAD_LETTER_TOPIC", f"{pubsub.topic_id}-dead-letter"
            ),
            # Pub/Sub accepts 5 to 100.
            max_delivery_attempts=read_int(env, "MAX_DELIVERY_ATTEMPTS", 5, minimum=5, maximum=100),
            max_outstanding_messages=read_int(
                env, "SUBSCRIBER_MAX_MESSAGES", 100, minimum=1, maximum=10_000
            ),
            work_queue=_work_queue(env, pubsub) if mode == SHARED else None,
            sink=_sink(env, pubsub) if mode == SINK else None,
            receipts_topic_id=(
                read_receipts_topic(env, pubsub.topic_id)
                if mode == PER_REPLICA and read_choice(env, "RECEIPTS", "on", ("on", "off")) == "on"
                else None
            ),
        )


def _work_queue(env: Mapping[str, str], pubsub: PubSubConfig) -> WorkQueueConfig:
    return WorkQueueConfig(
        subscription_id=read_resource_id(env, "SUBSCRIPTION_ID", f"{pubsub.topic_id}-workers"),
        # The CPUs this process may run on (a container's cpuset included).
        worker_processes=read_int(
            env, "WORKER_PROCESSES", len(os.sched_getaffinity(0)), minimum=1, maximum=256
        ),
        task_deadline_seconds=read_float(
            env, "TASK_DEADLINE_SECONDS", 60.0, minimum=1, maximum=86_400
        ),
        # Pub/Sub accepts 10 to 600.
        ack_deadline_seconds=read_int(env, "ACK_DEADLINE_SECONDS", 30, minimum=10, maximum=600),
        drain_seconds=read_float(env, "DRAIN_SECONDS", 10.0, minimum=0, maximum=3600),
    )


def _sink(env: Mapping[str, str], pubsub: PubSubConfig) -> SinkConfig:
    return SinkConfig(
        subscription_id=read_resource_id(env, "SUBSCRIPTION_ID", f"{pubsub.topic_id}-sink"),
        batch_size=read_int(env, "SINK_BATCH_SIZE", 100, minimum=1, maximum=1000),
        # Pub/Sub accepts 10 to 600.
        ack_deadline_seconds=read_int(env, "ACK_DEADLINE_SECONDS", 60, minimum=10, maximum=600),
        retry_max_seconds=read_float(env, "DB_RETRY_MAX_SECONDS", 15.0, minimum=1, maximum=600),
        drain_seconds=read_float(env, "DRAIN_SECONDS", 5.0, minimum=0, maximum=600),
        database=DatabaseConfig(
            host=read_str(env, "POSTGRES_HOST", "localhost"),
            port=read_int(env, "POSTGRES_PORT", 5432, minimum=1, maximum=65535),
            dbname=read_str(env, "POSTGRES_DB", "readings"),
            user=read_str(env, "POSTGRES_USER", "sink"),
            password=read_password_file(env),
            connect_timeout_seconds=read_int(
                env, "POSTGRES_CONNECT_TIMEOUT_SECONDS", 5, minimum=2, maximum=60
            ),
        ),
    )


def read_password_file(env: Mapping[str, str]) -> str | None:
    """The password in POSTGRES_PASSWORD_FILE, as the official postgres image reads it."""
    path = env.get("POSTGRES_PASSWORD_FILE", "").strip()
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            # A file written by an editor or `echo` ends with a newline that is no part of
            # the password; the postgres image strips it the same way.
            password = file.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(f"POSTGRES_PASSWORD_FILE={path} cannot be read ({reason})") from None
    if not password:
        raise ConfigError(f"POSTGRES_PASSWORD_FILE={path} is empty")
    return password
