"""The sink through its database's outages: stopped by an administrator, and hung.

Against the real emulator and a private PostgreSQL server; the sink is a real process
that keeps running while its database goes and comes back.
"""

from __future__ import annotations

import random
import time

import pytest
from google.cloud import pubsub_v1

from common.health import check
from common.messages.readings import random_reading
from subscriber.sink.storing import ANSWER_SECONDS
from tests.integration.conftest import Services, save_report
from tests.integration.sinks import publish_reading, start_sink, stored_ids
from tests.support.logs import message_ids
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_every_reading_stored_once_through_a_database_outage(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    total, interval, stop_at, down_for = 300, 0.12, 60, 16.0
    sink = start_sink(services, created_topic, postgres)
    sink.wait_for_event("connected")

    rng = random.Random(4)
    published: list[str] = []
    stopped_at = started_at = 0.0
    due = time.monotonic()
    for number in range(total):
        published.append(publish_reading(publisher_client, created_topic, random_reading(rng)))
        if number == stop_at:
            postgres.stop("fast")  # every client disconnected, as an admin shutdown does
            stopped_at = time.monotonic()
        if stopped_at and not started_at and time.monotonic() - stopped_at >= down_for:
            postgres.start()
            started_at = time.monotonic()
        due += interval
        time.sleep(max(due - time.monotonic(), 0.0))
    assert started_at, "the outage ended while publishing"
    down_seconds = started_at - stopped_at
    published_all_at = time.monotonic()

    wait_for(
        lambda: len(stored_ids(postgres)) >= total,
        timeout=60,
        interval=0.5,
        what=f"{total} readings stored",
        details=lambda: f"{len(stored_ids(postgres))} stored\n{sink.details()[-4000:]}",
    )
    caught_up = time.monotonic() - published_all_at
    ids = stored_ids(postgres)
    assert sink.process.poll() is None, "the sink kept running through the outage"
    assert len(ids) == total
    assert set(ids) == set(published)
    assert stored_ids(postgres, "rejects") == []
    # One line per state change, not one per retry.
    [outage] = sink.events("unavailable", peer="database")
    [back] = sink.events("available", peer="database")
    assert back["seconds"] >= down_for - 3, "the sink noticed the outage near its start"

    stored_lines = message_ids(sink.log(), "stored")
    redeliveries = len(sink.events("already stored"))
    report = (
        f"sink outage: {total} readings published over {total * interval:.0f}s, database "
        f"stopped (pg_ctl -m fast) after #{stop_at} for {down_seconds:.1f}s; sink saw "
        f"{outage['reason']!r} ({outage['message']!r}), back after {back['seconds']:.1f}s "
        f"({back['message']!r}); publishing went on {published_all_at - started_at:.1f}s after "
        f"the restart; all stored {caught_up:.1f}s after the last publish.\n"
        f"rows {len(ids)}, distinct {len(set(ids))}, missing {len(set(published) - set(ids))}, "
        f"stored lines {len(stored_lines)}, redeliveries found already stored {redeliveries}\n"
    )
    save_report("sink-outage.txt", report)
    status, _ = sink.terminate()
    assert status == 0, sink.details()


def test_a_hung_database_costs_a_log_line_and_readiness_not_a_stalled_loop(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    """Its server stopped (SIGSTOP): no error comes back, no timeout of the server's own
    fires; the sink's bound on the client side does."""
    frozen_for = 20.0
    sink = start_sink(services, created_topic, postgres)
    sink.wait_for_event("connected")
    heartbeat = services.tmp_path / "heartbeat-0"
    rng = random.Random(5)
    published = [publish_reading(publisher_client, created_topic, random_reading(rng))]
    wait_for(lambda: len(stored_ids(postgres)) == 1, timeout=30, what="the first reading")
    postgres.freeze(True)
    frozen_at = time.monotonic()
    try:
        for _ in range(10):
            published.append(publish_reading(publisher_client, created_topic, random_reading(rng)))
            time.sleep(0.5)
        # A bound on the client side fires: no error comes from a stopped server.
        line = sink.wait_for_event("unavailable", peer="database", timeout=3 * ANSWER_SECONDS)
        noticed = time.monotonic() - frozen_at
        time.sleep(max(frozen_for - noticed, 0))  # the rest of the freeze: the fault itself
        # The loop turned all along: a fresh heartbeat (as its liveness check reads it),
        # which says why it is not ready.
        age = time.time() - heartbeat.stat().st_mtime
        alive = check(heartbeat, now=time.time(), live_only=True)
        state = heartbeat.read_text().strip()
    finally:
        postgres.freeze(False)
    wait_for(
        lambda: set(published) <= set(stored_ids(postgres)),
        timeout=60,
        interval=0.5,
        what="every reading stored after the server resumed",
        details=sink.details,
    )
    ids = stored_ids(postgres)
    print(
        f"\nhung database ({frozen_for:.0f}s SIGSTOP): the sink said so {noticed:.1f}s in "
        f"({line['message']!r}); heartbeat {age:.1f}s old at the end, {state!r}; "
        f"{len(published)} published, {len(set(published) - set(ids))} lost, "
        f"{len(ids) - len(set(ids))} duplicates"
    )
    assert line["reason"].startswith("no answer for"), line
    assert alive == "", "the heartbeat, hence the loop and its lease renewals, went on"
    assert state.startswith("not ready: database unavailable")

    assert sink.process.poll() is None
    assert len(ids) == len(set(ids)) == len(published)
