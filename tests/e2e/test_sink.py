"""`docker compose --profile sink up readings-publisher sink`: the durable sink demo.

The readings publisher logs the ID of every reading Pub/Sub accepted; the test stops
the postgres container for 15 s under the running stack, starts it again, and then
finds every one of those IDs in the table exactly once.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.support.compose import Stack, docker, inspect, logs
from tests.support.logs import message_ids
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
OUTAGE_SECONDS = 15
# Reads the password from the container's own secret, so it is in no command line.
PSQL = (
    'PGPASSWORD="$(cat /run/secrets/postgres-password)" '
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

    sink_stack("stop", "postgres")
    time.sleep(OUTAGE_SECONDS)
    during = len(published(sink_stack))
    assert inspect(sink, "{{.State.Status}}") == "running"
    assert inspect(sink, "{{.State.Health.Status}}") == "healthy", "alive, holding the data"
    sink_stack("start", "postgres")

    back = re.compile(r"database back after ([\d.]+)s; stored (\d+) messages")
    wait_for(
        lambda: back.search(logs(sink)),
        timeout=60,
        interval=1,
        what="the sink's recovery line",
        details=lambda: logs(sink)[-3000:],
    )
    expected = set(published(sink_stack))
    wait_for(
        lambda: expected <= set(stored(sink_stack)),
        timeout=60,
        interval=1,
        what=f"all {len(expected)} published readings stored",
        details=lambda: f"missing {sorted(expected - set(stored(sink_stack)))[:20]}",
    )
    rows = stored(sink_stack)
    log = logs(sink)
    assert len(rows) == len(set(rows)), "no message stored twice"
    assert inspect(sink, "{{.RestartCount}}") == "0"
    outage = re.search(r"database unavailable \((\w+): .*\); holding (\d+) messages", log)
    assert outage is not None, log[-3000:]
    match = back.search(log)
    assert match is not None
    print(
        f"\nsink e2e: {before} readings published before the outage, {during - before} during "
        f"{OUTAGE_SECONDS}s down ({outage[1]}), database back after {match[1]}s; "
        f"{len(expected)} published, {len(set(rows) & expected)} stored once each, "
        f"{len(rows)} rows in all"
    )
    by_metric = psql(sink_stack, "SELECT metric || '=' || count(*) FROM readings GROUP BY metric")
    assert {entry.split("=")[0] for entry in by_metric} <= {"temperature", "humidity", "co2"}


def test_a_stopped_sink_exits_zero_and_the_subscription_stays(sink_stack: Stack) -> None:
    sink = sink_stack.containers("sink")[0]
    started = time.monotonic()
    docker("stop", "--time", "20", sink)
    seconds = time.monotonic() - started
    assert inspect(sink, "{{.State.ExitCode}}") == "0", logs(sink)
    assert seconds < 12, f"docker stop took {seconds:.1f}s"
    assert "sink stopped:" in logs(sink)
    assert "readings-sink" in sink_stack.subscriptions()
