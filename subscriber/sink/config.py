"""Sink mode's settings (SUBSCRIPTION_MODE=sink), its database's included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from common.config import (
    ConfigError,
    PubSubConfig,
    read_choice,
    read_float,
    read_int,
    read_resource_id,
    read_str,
)
from common.loading import read_callable
from common.receive import FlowControl
from common.seams import RowMapper
from subscriber.sink.rows import DEFAULT_ROW_MAPPER
from subscriber.sink.schema import MigrationError, MigrationSet, project_migrations, user_migrations

# libpq's sslmode values: https://www.postgresql.org/docs/current/libpq-ssl.html
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING = ("verify-ca", "verify-full")


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the sink's PostgreSQL is, and as whom it connects; the names of the POSTGRES_*
    settings are those of the official postgres image."""

    host: str
    port: int
    dbname: str
    # The runtime role the sink writes as (SELECT and INSERT on its tables).
    user: str
    # Read from POSTGRES_PASSWORD_FILE (a compose secret), never from a plain variable;
    # None: libpq's own means (trust, ~/.pgpass). Kept out of repr, hence out of logs.
    password: str | None = field(repr=False)
    connect_timeout_seconds: int
    # The role that owns the tables and applies the migrations; None: ``user`` does both
    # (one role for everything, as before roles were split).
    migration_user: str | None = None
    migration_password: str | None = field(default=None, repr=False)
    # libpq's sslmode, and the CA certificate file that verify-ca and verify-full check the
    # server's certificate against.
    sslmode: str = "prefer"
    sslrootcert: str | None = None

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def migrates_as(self) -> str:
        return self.migration_user or self.user

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatabaseConfig:
        """Reads the POSTGRES_* variables; raises ``ConfigError`` naming the first bad one."""
        migration_user = env.get("POSTGRES_MIGRATION_USER", "").strip() or None
        migration_password = read_password_file(env, "POSTGRES_MIGRATION_PASSWORD_FILE")
        if migration_password is not None and migration_user is None:
            raise ConfigError(
                "POSTGRES_MIGRATION_PASSWORD_FILE is set but POSTGRES_MIGRATION_USER is not: "
                "name the role the password belongs to"
            )
        sslmode = read_choice(env, "POSTGRES_SSLMODE", "prefer", SSL_MODES)
        return cls(
            host=read_str(env, "POSTGRES_HOST", "localhost"),
            port=read_int(env, "POSTGRES_PORT", 5432, minimum=1, maximum=65535),
            dbname=read_str(env, "POSTGRES_DB", "readings"),
            user=read_str(env, "POSTGRES_USER", "sink"),
            password=read_password_file(env, "POSTGRES_PASSWORD_FILE"),
            connect_timeout_seconds=read_int(
                env, "POSTGRES_CONNECT_TIMEOUT_SECONDS", 5, minimum=2, maximum=60
            ),
            migration_user=migration_user,
            migration_password=migration_password,
            sslmode=sslmode,
            sslrootcert=read_root_certificate(env, sslmode),
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
            flow_control=FlowControl.from_env(env, batch_size),
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


def read_root_certificate(env: Mapping[str, str], sslmode: str) -> str | None:
    """POSTGRES_SSLROOTCERT: a readable PEM file of the CA that signed the server's
    certificate; required by verify-ca and verify-full (without it libpq would look in
    ~/.postgresql/root.crt, which the images do not have)."""
    path = env.get("POSTGRES_SSLROOTCERT", "").strip()
    if not path:
        if sslmode in VERIFYING:
            raise ConfigError(
                f"POSTGRES_SSLMODE={sslmode} needs POSTGRES_SSLROOTCERT: the file of the CA "
                "certificate that signed the server's (docs/durable-sink.md#tls)"
            )
        return None
    try:
        with open(path, encoding="ascii") as file:
            pem = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a PEM file"
        raise ConfigError(f"POSTGRES_SSLROOTCERT={path} cannot be read ({reason})") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError(f"POSTGRES_SSLROOTCERT={path} holds no PEM certificate")
    return path


def read_password_file(env: Mapping[str, str], name: str) -> str | None:
    """The password in the file setting ``name`` names (POSTGRES_PASSWORD_FILE, ...), as
    the official postgres image reads such files; None when unset."""
    path = env.get(name, "").strip()
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            # A file written by an editor or `echo` ends with a newline that is no part of
            # the password; the postgres image strips it the same way.
            password = file.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(f"{name}={path} cannot be read ({reason})") from None
    if not password:
        raise ConfigError(f"{name}={path} is empty")
    return password
