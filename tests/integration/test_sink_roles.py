"""The sink's database roles on a real PostgreSQL, made by the project's own script
(deploy/postgres/initdb.d/10-sink-roles.sh, which compose runs at the postgres image's
first start): the migrations run as the owner, the sink writes as the runtime role, and
the runtime role can do nothing else: no COPY ... PROGRAM (shell commands on the
database's machine), no role, no other table, no change to its own rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from google.cloud import pubsub_v1

from common.messages.readings import Reading
from common.seams import Incoming
from subscriber.sink.config import DatabaseConfig
from subscriber.sink.rows import split
from subscriber.sink.store import Store
from tests.integration.conftest import Services
from tests.integration.sinks import publish_reading, query, stored_ids
from tests.support.postgres import (
    MIGRATION_USER,
    PASSWORD,
    RUNTIME_USER,
    PostgresServer,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def roles(postgres: PostgresServer, tmp_path: Path) -> dict[str, str]:
    """The sink's environment for the two roles; a table of someone else's beside."""
    settings = postgres.create_sink_roles(tmp_path)
    with postgres.connect() as admin:  # the superuser: another application's table
        admin.execute("CREATE TABLE payroll (name text, salary integer)")
        admin.execute("INSERT INTO payroll VALUES ('ada', 100)")
    return settings


def as_runtime(postgres: PostgresServer) -> psycopg.Connection[Any]:
    return postgres.connect(user=RUNTIME_USER, password=PASSWORD)


def reading_message(message_id: str) -> Incoming:
    data, attributes = Reading("kitchen", "temperature", 21.5, "°C", datetime.now(UTC)).encode()
    now = datetime.now(UTC)
    return Incoming(message_id, data, attributes, now, now)


def refused(connection: psycopg.Connection[Any], statement: str) -> str:
    """The SQLSTATE PostgreSQL answers ``statement`` with; it must refuse it."""
    with pytest.raises(psycopg.Error) as error:
        connection.execute(statement.encode())
    return str(error.value.sqlstate)


INSUFFICIENT_PRIVILEGE = "42501"


def test_the_sink_migrates_as_the_owner_and_writes_as_the_runtime_role(
    postgres: PostgresServer, roles: dict[str, str]
) -> None:
    config = DatabaseConfig.from_env(roles)
    assert (config.user, config.migrates_as) == (RUNTIME_USER, MIGRATION_USER)
    store = Store(config)
    try:
        written = store.write(split([reading_message("m-1"), reading_message("m-2")]))
        again = store.write(split([reading_message("m-1")]))  # a redelivery adds nothing
    finally:
        store.close()
    assert written.stored == {"m-1", "m-2"}
    assert again.stored == set()
    owners = dict(
        query(postgres, "SELECT tablename, tableowner FROM pg_tables WHERE schemaname='public'")
    )
    assert owners["readings"] == owners["rejects"] == MIGRATION_USER
    assert owners["schema_migrations"] == MIGRATION_USER
    attributes = query(
        postgres,
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
        f"WHERE rolname IN ('{MIGRATION_USER}', '{RUNTIME_USER}') ORDER BY rolname",
    )
    assert attributes == [
        (MIGRATION_USER, False, False, False),
        (RUNTIME_USER, False, False, False),
    ]


def test_the_runtime_role_can_do_nothing_but_read_and_insert_its_tables(
    postgres: PostgresServer, roles: dict[str, str]
) -> None:
    store = Store(DatabaseConfig.from_env(roles))
    store.connect()  # the tables, made by the owner
    store.close()
    with as_runtime(postgres) as sink:
        # What it needs: insert, and read back what it inserted (RETURNING).
        inserted = sink.execute(
            "INSERT INTO rejects (message_id, reason, data, publish_time, received_at) "
            "VALUES ('x', 'r', '\\x00', now(), now()) ON CONFLICT (message_id) DO NOTHING "
            "RETURNING message_id"
        ).fetchall()
        assert inserted == [("x",)]
        # Shell commands on the database's machine: superusers (pg_execute_server_program).
        assert refused(sink, "COPY (SELECT 1) TO PROGRAM 'id'") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "COPY rejects FROM PROGRAM 'id'") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "COPY rejects TO '/tmp/out'") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "CREATE ROLE intruder LOGIN") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, f"ALTER ROLE {RUNTIME_USER} SUPERUSER") == INSUFFICIENT_PRIVILEGE
        # Another table, the superuser's: neither read nor written.
        assert refused(sink, "SELECT * FROM payroll") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "INSERT INTO payroll VALUES ('eve', 1)") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "UPDATE payroll SET salary = 0") == INSUFFICIENT_PRIVILEGE
        # Its own tables: no change to what is stored, no new table, no schema change.
        assert refused(sink, "UPDATE rejects SET reason = 'forged'") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "DELETE FROM readings") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "TRUNCATE readings") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "DROP TABLE readings") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "ALTER TABLE readings ADD COLUMN x int") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "CREATE TABLE mine (x int)") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "CREATE TEMP TABLE mine (x int)") == INSUFFICIENT_PRIVILEGE
        assert refused(sink, "CREATE SCHEMA mine") == INSUFFICIENT_PRIVILEGE
        # Nor can it mark a migration applied, which would have it skipped.
        assert refused(sink, "SELECT * FROM schema_migrations") == INSUFFICIENT_PRIVILEGE
        assert (
            refused(sink, "INSERT INTO schema_migrations (version, name) VALUES (99, 'skip')")
            == INSUFFICIENT_PRIVILEGE
        )
        # Nor read the server's files (pg_read_server_files).
        assert refused(sink, "SELECT pg_read_file('/etc/passwd')") == INSUFFICIENT_PRIVILEGE
    # The owner, for its part, owns its tables and nothing more.
    with postgres.connect(user=MIGRATION_USER, password=PASSWORD) as owner:
        assert refused(owner, "COPY (SELECT 1) TO PROGRAM 'id'") == INSUFFICIENT_PRIVILEGE
        assert refused(owner, "CREATE ROLE intruder LOGIN") == INSUFFICIENT_PRIVILEGE
        assert refused(owner, "SELECT * FROM payroll") == INSUFFICIENT_PRIVILEGE
    with postgres.connect() as admin:  # and the other table is as it was
        assert admin.execute("SELECT count(*) FROM payroll").fetchone() == (1,)


def test_a_sink_process_with_the_two_roles_stores_readings(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    roles: dict[str, str],
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    sink = services.start(
        "subscriber", created_topic, SUBSCRIPTION_MODE="sink", DB_RETRY_MAX_SECONDS="2", **roles
    )
    sink.wait_for_event("storing")
    reading = Reading("hall", "co2", 600.0, "ppm", datetime.now(UTC))
    message_id = publish_reading(publisher_client, created_topic, reading)
    wait_for(
        lambda: message_id in stored_ids(postgres),
        timeout=30,
        what="the reading stored",
        details=sink.details,
    )
    status, _ = sink.terminate()
    assert status == 0, sink.details()
