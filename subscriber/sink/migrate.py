"""The sink's migrations applied: each folder's in order, each once, under a lock.

Run as the migration owner (``POSTGRES_MIGRATION_USER``) when there is one: it owns what
the migrations create, and its default privileges (deploy/postgres/initdb.d) give the
runtime role SELECT and INSERT on each new table, but for the tracking tables, taken back
here.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import psycopg
from psycopg import sql

from common.logs import fields
from subscriber.sink.schema import MigrationSet

log = logging.getLogger(__name__)

# Any fixed number shared by every sink: pg_advisory_lock serialises their migrations.
MIGRATION_LOCK = 4_176_130_001


def migrate(
    connection: psycopg.Connection[Any],
    migrations: tuple[MigrationSet, ...],
    runtime_role: str | None = None,
) -> None:
    """Apply what each set holds that its tracking table does not list yet; with
    ``runtime_role``, keep that role off the tracking tables."""
    # Two sinks starting together: the second waits here until the first has applied
    # everything, then finds nothing left to do.
    connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        for migration_set in migrations:
            _apply(connection, migration_set, runtime_role)
    finally:
        # A lost connection has released the lock with its session already.
        with contextlib.suppress(psycopg.Error):
            connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def _apply(
    connection: psycopg.Connection[Any], migrations: MigrationSet, runtime_role: str | None
) -> None:
    """Apply what ``migrations`` holds that its tracking table does not list yet."""
    table = sql.Identifier(migrations.table)
    connection.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        ).format(table)
    )
    if runtime_role is not None:
        # The owner's default privileges give the runtime role every table it creates;
        # not this one: a role that could list a migration as applied could skip it.
        connection.execute(
            sql.SQL("REVOKE ALL ON {} FROM {}").format(table, sql.Identifier(runtime_role))
        )
    rows = connection.execute(sql.SQL("SELECT version FROM {}").format(table)).fetchall()
    applied = {int(row[0]) for row in rows}
    for migration in migrations.migrations:
        if migration.version in applied:
            continue
        # One transaction each: a migration applies whole or not at all.
        with connection.transaction():
            connection.execute(migration.sql.encode())
            connection.execute(
                sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(table),
                (migration.version, migration.name),
            )
        log.info(
            "applied migration %s (%s)",
            migration.name,
            migrations.origin,
            extra=fields(
                event="migration applied", migration=migration.name, origin=migrations.origin
            ),
        )
