"""`docker compose --profile sink up readings-publisher sink`: the durable sink demo.

The readings publisher logs the ID of every reading Pub/Sub accepted; the test stops
the postgres container for 15 s under the running stack, starts it again, and then
finds every one of those IDs in the table exactly once.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.compose import (
    Stack,
    docker,
    events,
    inspect,
    logs,
    run,
    stop_grace_seconds,
)
from tests.support.logs import message_ids
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
OUTAGE_SECONDS = 15
# As the sink's runtime role (it may read its tables), the password read from the
# container's own secret, so it is in no command line.
PSQL = (
    'PGPASSWORD="$(cat /run/secrets/postgres-sink-password)" '
    'exec psql --host=localhost --username=sink --dbname=readings -At -c "$1"'
)


def psql(stack: Stack, sql: str) -> list[str]:
    result = stack("exec", "-T", "postgres", "sh", "-c", PSQL, "psql", sql)
    return result.stdout.split()


def stored(stack: Stack) -> list[str]:
    return psql(stack, "SELECT message_id FROM readings")


def published(stack: Stack) -> list[str]:
    return message_ids(logs(stack.containers("readings-publisher")[0]), "published")


def test_readings_are_stored_once_each_through_a_database_outage(sink_stack: Stack) -> None:
    sink = sink_stack.containers("sink")[0]
    wait_for(
        lambda: len(stored(sink_stack)) >= 5,
        timeout=60,
        interval=1,
        what="readings in postgres",
        details=lambda: logs(sink)[-3000:],
    )
    before = len(published(sink_stack))
    recoveries = len(events(sink, "available", peer="database"))

    sink_stack("stop", "postgres")
    time.sleep(OUTAGE_SECONDS)
    during = len(published(sink_stack))
    assert inspect(sink, "{{.State.Status}}") == "running"
    # Alive, holding the data; but not ready, and its health check says why.
    assert docker("exec", sink, "python", "-m", "common.health", "--live") == ""
    not_ready = run("docker", "exec", sink, "python", "-m", "common.health", check=False)
    assert not_ready.returncode == 1
    assert "not ready: database unavailable" in not_ready.stderr
    sink_stack("start", "postgres")

    back = wait_for(
        lambda: events(sink, "available", peer="database")[recoveries:] or None,
        timeout=60,
        interval=1,
        what="the sink's recovery",
        details=lambda: logs(sink)[-3000:],
    )[0]
    expected = set(published(sink_stack))
    wait_for(
        lambda: expected <= set(stored(sink_stack)),
        timeout=60,
        interval=1,
        what=f"all {len(expected)} published readings stored",
        details=lambda: f"missing {sorted(expected - set(stored(sink_stack)))[:20]}",
    )
    rows = stored(sink_stack)
    assert len(rows) == len(set(rows)), "no message stored twice"
    assert inspect(sink, "{{.RestartCount}}") == "0"
    outage = events(sink, "unavailable", peer="database")[-1]
    print(
        f"\nsink e2e: {before} readings published before the outage, {during - before} during "
        f"{OUTAGE_SECONDS}s down ({outage['reason']}), database back after "
        f"{back['seconds']:.1f}s; "
        f"{len(expected)} published, {len(set(rows) & expected)} stored once each, "
        f"{len(rows)} rows in all"
    )
    by_metric = psql(sink_stack, "SELECT metric || '=' || count(*) FROM readings GROUP BY metric")
    assert {entry.split("=")[0] for entry in by_metric} <= {"temperature", "humidity", "co2"}


def test_postgres_killed_under_load_loses_nothing(sink_stack: Stack) -> None:
    """SIGKILL, no shutdown: PostgreSQL restarts (its restart policy) and recovers from its
    write-ahead log; the sink reconnects and stores what it held, once."""
    sink = sink_stack.containers("sink")[0]
    (postgres,) = sink_stack.containers("postgres")
    first = len(published(sink_stack))
    wait_for(lambda: len(published(sink_stack)) >= first + 5, timeout=30, what="readings flowing")
    # From the host, as the kernel's OOM killer would: `docker kill` counts as a manual
    # stop, which no restart policy answers.
    os.kill(int(inspect(postgres, "{{.State.Pid}}")), signal.SIGKILL)
    killed = time.monotonic()
    wait_for(
        lambda: sink_stack.all_healthy("postgres", 1),
        timeout=90,
        interval=0.5,
        what="postgres restarted by its restart policy",
    )
    back = len(published(sink_stack))
    wait_for(
        lambda: len(published(sink_stack)) >= back + 5,
        timeout=30,
        what="readings published after postgres came back",
    )
    expected = set(published(sink_stack))
    wait_for(
        lambda: expected <= set(stored(sink_stack)),
        timeout=90,
        interval=1,
        what=f"all {len(expected)} published readings stored",
        details=lambda: f"missing {sorted(expected - set(stored(sink_stack)))[:20]}",
    )
    rows = stored(sink_stack)
    print(
        f"\npostgres SIGKILLed under load: back and every reading stored "
        f"{time.monotonic() - killed:.1f}s later; {len(expected)} published, "
        f"{len(expected - set(rows))} lost, {len(rows) - len(set(rows))} duplicate rows; "
        f"postgres restarts: {inspect(postgres, '{{.RestartCount}}')}"
    )
    assert len(rows) == len(set(rows)), "no message stored twice"
    assert inspect(sink, "{{.RestartCount}}") == "0", "the sink rode it out in process"


def test_a_stopped_sink_exits_zero_and_the_subscription_stays(sink_stack: Stack) -> None:
    sink = sink_stack.containers("sink")[0]
    grace = stop_grace_seconds("sink")
    started = time.monotonic()
    docker("stop", "--time", f"{grace:g}", sink)
    seconds = time.monotonic() - started
    print(f"\ndocker stop of the sink: {seconds:.1f}s")
    assert inspect(sink, "{{.State.ExitCode}}") == "0", logs(sink)
    assert seconds < grace, f"docker stop took {seconds:.1f}s"
    assert events(sink, "stopped"), logs(sink)
    assert "readings-sink" in sink_stack.subscriptions()


def test_the_sink_writes_as_a_role_of_its_own_that_can_do_little(sink_stack: Stack) -> None:
    """The compose file's roles, as the postgres image's first start made them
    (deploy/postgres/initdb.d): the sink's runtime role is no superuser, owns nothing, and
    cannot run shell commands on the database's machine or change what is stored."""
    assert psql(sink_stack, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == ["f"]
    owners = psql(sink_stack, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname='public'")
    assert owners == ["sink_owner"]
    refusals = {
        "COPY (SELECT 1) TO PROGRAM 'id'": "must be superuser or have privileges of",
        "DELETE FROM readings": "permission denied",
        "CREATE ROLE x": "permission denied",
    }
    for statement, refusal in refusals.items():
        result = sink_stack(
            "exec", "-T", "postgres", "sh", "-c", PSQL, "psql", statement, check=False
        )
        assert result.returncode != 0, statement
        assert refusal in result.stderr, result.stderr
