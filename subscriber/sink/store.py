"""The sink's PostgreSQL I/O: connect, migrate, and store a batch in one transaction.

Two roles, least privilege (docs/durable-sink.md#roles): the migrations run on a
connection of their own as the migration owner (``POSTGRES_MIGRATION_USER``), which owns
the tables; the batches are written as the runtime role (``POSTGRES_USER``), which may
only read and insert. With no migration user, one role does both.

The rows' tables and columns come from the row mapper (``rows``): each statement is
composed with quoted identifiers (``psycopg.sql``), values are always parameters, and
every insert is ``ON CONFLICT (message_id) DO NOTHING``, so a redelivery adds nothing.

Errors are of two kinds, and the caller treats them apart (``row_error``):
- a row that cannot be stored is handled here: PostgreSQL refused it (``DataError``,
  ``IntegrityError``: text it cannot hold, a constraint), or the driver could not send
  one of its values (a ``set``, a ``Decimal`` inside a dict for jsonb, a NUL in text).
  The batch is stored again row by row, each in a savepoint, and those rows go to
  ``rejects`` with the reason;
- anything else (connection refused or lost, an administrator's shutdown, a timeout, a
  table or column that does not exist) propagates as ``psycopg.Error``: the caller holds
  the batch and retries, and the next ``write`` reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from common.logs import capped
from subscriber.sink.config import DatabaseConfig
from subscriber.sink.errors import describe_error, row_error, row_reason, storable
from subscriber.sink.migrate import migrate
from subscriber.sink.rows import KEY, MappedRow, RejectRow, Rows, refused
from subscriber.sink.schema import MigrationSet, project_migrations

log = logging.getLogger(__name__)

# A statement stuck longer than this (a lock, a hung server) fails and is retried,
# rather than stalling the sink's loop and its heartbeat.
STATEMENT_TIMEOUT_MS = 30_000

INSERT_REJECT = """
    INSERT INTO rejects (message_id, reason, data, attributes, publish_time, received_at)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id
"""


def check_resolvable(host: str, timeout: float) -> None:
    """Raise ``OperationalError`` unless ``host`` resolves within ``timeout`` seconds.

    psycopg looks the host up itself, with no time limit, in the calling thread. In
    Docker, the name of a stopped container takes seconds to fail (benchmarks/README.md,
    "Measured behaviour behind the code"), during which the sink's database calls would
    wait. So the name is looked up here first, in a thread of its own that is left to
    finish on its own if it hangs.
    """
    if host.startswith("/"):  # a Unix socket folder: nothing to resolve
        return
    outcome: queue.SimpleQueue[OSError | None] = queue.SimpleQueue()

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome.put(exc)
            return
        outcome.put(None)

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    try:
        error = outcome.get(timeout=timeout)
    except queue.Empty:
        raise psycopg.OperationalError(
            f"could not resolve host {host!r} within {timeout:g}s"
        ) from None
    if error is not None:
        raise psycopg.OperationalError(f"could not resolve host {host!r}: {error}")


@dataclass
class Written:
    """What one committed write stored. A message ID in neither set was there already
    (a redelivery), which the ``ON CONFLICT`` clauses turn into nothing."""

    # Message IDs stored as the mapper's rows.
    stored: set[str] = field(default_factory=set)
    rejects: set[str] = field(default_factory=set)
    # Rows the database refused, stored in ``rejects`` instead.
    refused: list[RejectRow] = field(default_factory=list)


def insert_query(table: str, columns: tuple[str, ...]) -> sql.Composed:
    """``INSERT INTO <table> (message_id, <columns>) ... ON CONFLICT (message_id) DO
    NOTHING RETURNING message_id``, every name quoted ("shop.orders": schema, table)."""
    names = [sql.Identifier(KEY), *(sql.Identifier(column) for column in columns)]
    return sql.SQL(
        "INSERT INTO {table} ({columns}) VALUES ({values}) "
        "ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    ).format(
        table=sql.Identifier(*table.split(".")),
        columns=sql.SQL(", ").join(names),
        values=sql.SQL(", ").join([sql.Placeholder()] * len(names)),
        key=sql.Identifier(KEY),
    )


def _row_params(row: MappedRow) -> tuple[Any, ...]:
    # A dict or list is JSON for a json/jsonb column; psycopg adapts everything else.
    values = (Jsonb(v) if isinstance(v, dict | list) else v for v in row.row.values.values())
    return (row.message.message_id, *values)


def _grouped(rows: list[MappedRow]) -> dict[tuple[str, tuple[str, ...]], list[MappedRow]]:
    """Rows by (table, columns): one ``executemany`` each."""
    groups: dict[tuple[str, tuple[str, ...]], list[MappedRow]] = defaultdict(list)
    for row in rows:
        groups[row.row.table, row.columns].append(row)
    return groups


def _reject_params(row: RejectRow) -> tuple[Any, ...]:
    message = row.message
    return (
        message.message_id,
        storable(capped(row.reason)),
        message.data,
        Jsonb(message.attributes) if row.keep_attributes else None,
        message.publish_time,
        message.received_at,
    )


def _insert(
    cursor: psycopg.Cursor[Any], query: str | sql.Composed, params: list[tuple[Any, ...]]
) -> set[str]:
    """Run ``query`` for each row; the message IDs it inserted."""
    if not params:
        return set()
    inserted: set[str] = set()
    cursor.executemany(query.encode() if isinstance(query, str) else query, params, returning=True)
    while True:
        inserted.update(str(row[0]) for row in cursor.fetchall())
        if not cursor.nextset():
            return inserted


def connection_settings(config: DatabaseConfig, user: str, password: str | None) -> dict[str, Any]:
    """psycopg's connect arguments for ``config`` as ``user``."""
    settings: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "dbname": config.dbname,
        "user": user,
        "connect_timeout": config.connect_timeout_seconds,
        "application_name": "pubsub-fanout-sink",
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        # A peer that vanished without closing (a lost host) is noticed after 10 s idle and
        # 3 unanswered probes 5 s apart (benchmarks/README.md, "Measured behaviour ...").
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "sslmode": config.sslmode,
    }
    if config.sslrootcert is not None:
        settings["sslrootcert"] = config.sslrootcert
    if password is not None:
        settings["password"] = password
    return settings


class Store:
    def __init__(
        self, config: DatabaseConfig, migrations: tuple[MigrationSet, ...] | None = None
    ) -> None:
        self._config = config
        # The project's own, then the user's (SINK_MIGRATIONS), each tracked in its table.
        self._migrations = (project_migrations(),) if migrations is None else migrations
        self._connection: psycopg.Connection[Any] | None = None

    def connect(self) -> None:
        """Connect, if not connected, and bring the schema up to date (as the migration
        owner, on a connection of its own, when there is one)."""
        if self._connection is not None and not self._connection.closed:
            return
        config = self._config
        check_resolvable(config.host, config.connect_timeout_seconds)
        runtime = connection_settings(config, config.user, config.password)
        if config.migrates_as == config.user:
            connection = psycopg.connect(autocommit=True, **runtime)
            try:
                migrate(connection, self._migrations)
            except BaseException:
                connection.close()
                raise
        else:
            owner = connection_settings(config, config.migrates_as, config.migration_password)
            with psycopg.connect(autocommit=True, **owner) as migrating:
                migrate(migrating, self._migrations, runtime_role=config.user)
            connection = psycopg.connect(autocommit=True, **runtime)
        self._connection = connection

    def close(self) -> None:
        """Drop the connection (after an error: the next ``write`` opens a fresh one)."""
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None

    def write(self, rows: Rows) -> Written:
        """Store every row in one transaction; returns once it is committed."""
        self.connect()
        connection = self._connection
        assert connection is not None
        try:
            with connection.transaction(), connection.cursor() as cursor:
                written = Written()
                for (table, columns), group in _grouped(rows.mapped).items():
                    query = insert_query(table, columns)
                    written.stored |= _insert(cursor, query, [_row_params(r) for r in group])
                params = [_reject_params(r) for r in rows.rejects]
                written.rejects = _insert(cursor, INSERT_REJECT, params)
                return written
        except Exception as exc:
            if not row_error(exc):
                raise
            log.warning(
                "a row of the batch cannot be stored (%s); storing it row by row",
                describe_error(exc),
            )
        return self._write_row_by_row(connection, rows)

    def _write_row_by_row(self, connection: psycopg.Connection[Any], rows: Rows) -> Written:
        written = Written()
        with connection.transaction(), connection.cursor() as cursor:
            for row in rows.mapped:
                query = insert_query(row.row.table, row.columns)
                try:
                    with connection.transaction():  # a savepoint: undoes this row only
                        written.stored |= _insert(cursor, query, [_row_params(row)])
                except Exception as exc:
                    if not row_error(exc):
                        raise
                    written.refused.append(refused(row, row_reason(exc)))
            for reject in [*rows.rejects, *written.refused]:
                try:
                    with connection.transaction():
                        written.rejects |= _insert(cursor, INSERT_REJECT, [_reject_params(reject)])
                except Exception as exc:
                    if not row_error(exc):
                        raise
                    # Only the attributes can be refused here (data is bytea): drop them.
                    bare = reject.without_attributes(describe_error(exc))
                    written.rejects |= _insert(cursor, INSERT_REJECT, [_reject_params(bare)])
        return written
