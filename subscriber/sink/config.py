"""Sink mode's settings (SUBSCRIPTION_MODE=sink), its database's included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from common.config import (
    ConfigError,
    PubSubConfig,
    read_float,
    read_flow_control,
    read_int,
    read_resource_id,
    read_str,
)
from common.loading import read_callable
from common.receive import FlowControl
from common.seams import RowMapper
from subscriber.sink.rows import DEFAULT_ROW_MAPPER
from subscriber.sink.schema import MigrationError, MigrationSet, project_migrations, user_migrations


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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatabaseConfig:
        """Reads the POSTGRES_* variables; raises ``ConfigError``."""
        return cls(
            host=read_str(env, "POSTGRES_HOST", "localhost"),
            port=read_int(env, "POSTGRES_PORT", 5432, minimum=1, maximum=65535),
            dbname=read_str(env, "POSTGRES_DB", "readings"),
            user=read_str(env, "POSTGRES_USER", "sink"),
            password=read_password_file(env),
            connect_timeout_seconds=read_int(
                env, "POSTGRES_CONNECT_TIMEOUT_SECONDS", 5, minimum=2, maximum=60
            ),
        )


@dataclass(frozen=True)
class SinkConfig:
    pubsub: PubSubConfig
    # The one durable subscription every sink replica pulls from; it outlives them.
    subscription_id: str
    # The most messages in hand, and so in one transaction.
    batch_size: int
    # batch_size messages in hand at most, SUBSCRIBER_MAX_BYTES, MAX_LEASE_SECONDS.
    flow_control: FlowControl
    # The lease taken on each message, renewed while it waits for the database.
    ack_deadline_seconds: int
    # Cap of the backoff between attempts while the database is unavailable.
    retry_max_seconds: float
    # On SIGTERM, how long to try storing (and acking) the messages in hand.
    drain_seconds: float
    database: DatabaseConfig
    # How a message becomes a row (common.seams.RowMapper), and its import path.
    row_mapper: RowMapper
    row_mapper_path: str
    # The project's migrations, then SINK_MIGRATIONS' if set: applied in this order.
    migrations: tuple[MigrationSet, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SinkConfig:
        """Raises ``ConfigError`` naming the first bad variable."""
        pubsub = PubSubConfig.from_env(env)
        row_mapper_path, row_mapper = read_callable(
            env, "SINK_ROW_MAPPER", DEFAULT_ROW_MAPPER, arguments=1
        )
        batch_size = read_int(env, "SINK_BATCH_SIZE", 100, minimum=1, maximum=1000)
        return cls(
            pubsub=pubsub,
            subscription_id=read_resource_id(env, "SUBSCRIPTION_ID", f"{pubsub.topic_id}-sink"),
            batch_size=batch_size,
            flow_control=read_flow_control(env, batch_size),
            # Pub/Sub accepts 10 to 600.
            ack_deadline_seconds=read_int(env, "ACK_DEADLINE_SECONDS", 60, minimum=10, maximum=600),
            retry_max_seconds=read_float(env, "DB_RETRY_MAX_SECONDS", 15.0, minimum=1, maximum=600),
            drain_seconds=read_float(env, "DRAIN_SECONDS", 5.0, minimum=0, maximum=600),
            database=DatabaseConfig.from_env(env),
            row_mapper=cast(RowMapper, row_mapper),
            row_mapper_path=row_mapper_path,
            migrations=read_migrations(env),
        )


def read_migrations(env: Mapping[str, str]) -> tuple[MigrationSet, ...]:
    """The project's migrations, and those of the folder SINK_MIGRATIONS names (read
    and checked now: a broken sequence stops the sink before it touches the database)."""
    folder = env.get("SINK_MIGRATIONS", "").strip()
    if not folder:
        return (project_migrations(),)
    try:
        return (project_migrations(), user_migrations(folder))
    except MigrationError as exc:
        raise ConfigError(f"SINK_MIGRATIONS: {exc}") from None


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
