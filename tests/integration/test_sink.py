"""Sink mode against the real emulator and a real PostgreSQL server of its own.

The sink runs as a real process (``python -m subscriber`` with SUBSCRIPTION_MODE=sink);
the tests publish, stop and start the database under it, and read what it stored.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from google.cloud import pubsub_v1

from common.messages.readings import Reading, random_reading
from subscriber.sink.config import DatabaseConfig
from subscriber.sink.store import Store, check_resolvable
from tests.conftest import unavailable
from tests.integration.conftest import (
    PROJECT,
    Services,
    save_report,
    subscriptions_of,
    topic_path,
)
from tests.support.logs import message_ids
from tests.support.postgres import DATABASE, PASSWORD, USER, PostgresServer, PostgresUnavailable
from tests.support.postgres import postgres_server as running_postgres
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        unavailable(str(exc))


def start_sink(
    services: Services, topic: str, server: PostgresServer, **settings: str
) -> ServiceProcess:
    password_file = services.tmp_path / "postgres-password.txt"
    password_file.write_text(PASSWORD + "\n")
    sink = services.start(
        "subscriber",
        topic,
        SUBSCRIPTION_MODE="sink",
        POSTGRES_PASSWORD_FILE=str(password_file),
        ACK_DEADLINE_SECONDS="10",
        DB_RETRY_MAX_SECONDS="2",
        **server.settings(),
        **settings,
    )
    return sink


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


def test_every_reading_stored_once_through_a_database_outage(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    total, interval, stop_at, down_for = 300, 0.12, 60, 16.0
    sink = start_sink(services, created_topic, postgres)
    sink.wait_for_log(r"connected to PostgreSQL at sink@127\.0\.0\.1")

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
    log = sink.log()
    assert sink.process.poll() is None, "the sink kept running through the outage"
    assert len(ids) == total
    assert set(ids) == set(published)
    assert stored_ids(postgres, "rejects") == []
    outage = re.search(
        r"database unavailable \((\w+): .*\); holding (\d+) messages, retrying in", log
    )
    back = re.search(r"database back after ([\d.]+)s; stored (\d+) messages", log)
    assert outage is not None, log[-3000:]
    assert back is not None, log[-3000:]
    assert float(back[1]) >= down_for - 3, "the sink noticed the outage near its start"
    # One line per state change, not one per retry.
    assert log.count("database unavailable") == 1
    assert log.count("database back after") == 1
    stored_lines = message_ids(log, "stored")
    redeliveries = log.count("was already stored")
    report = (
        f"sink outage: {total} readings published over {total * interval:.0f}s, database "
        f"stopped (pg_ctl -m fast) after #{stop_at} for {down_seconds:.1f}s; sink saw "
        f"{outage[1]}, held {outage[2]}, back after {back[1]}s storing {back[2]} at once; "
        f"publishing went on {published_all_at - started_at:.1f}s after the restart; all "
        f"stored {caught_up:.1f}s after the last publish.\n"
        f"rows {len(ids)}, distinct {len(set(ids))}, missing {len(set(published) - set(ids))}, "
        f"stored lines {len(stored_lines)}, redeliveries found already stored {redeliveries}\n"
    )
    save_report("sink-outage.txt", report)
    status, _ = sink.terminate()
    assert status == 0, sink.details()


def test_bad_messages_land_in_rejects_once_and_never_block_good_ones(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    sink = start_sink(services, created_topic, postgres)
    sink.wait_for_log("connected to PostgreSQL")
    rng = random.Random(5)
    valid = '{"device": "kitchen", "metric": "co2", "value": 700, "unit": "ppm", '
    bad_bodies = {
        "not JSON": "not json at all",
        "JSON, not a reading": '{"channel_number": 22, "channel_name": "Cartoon"}',
        "out of range": valid.replace("700", "-5") + '"measured_at": "2026-11-25T17:00:00Z"}',
        # Valid to the sink's parser, refused by PostgreSQL: jsonb cannot hold \u0000.
        "refused by the database": (
            valid + '"measured_at": "2026-11-25T17:00:00Z", "note": "\\u0000"}'
        ),
    }
    good: list[str] = []
    bad: dict[str, str] = {}
    for what, body in bad_bodies.items():
        good.append(publish_reading(publisher_client, created_topic, random_reading(rng)))
        bad[publish(publisher_client, created_topic, body.encode(), origin="test")] = what
        good.append(publish_reading(publisher_client, created_topic, random_reading(rng)))

    wait_for(
        lambda: (
            len(stored_ids(postgres)) == len(good)
            and len(stored_ids(postgres, "rejects")) == len(bad)
        ),
        timeout=30,
        what="good readings stored and bad messages rejected",
        details=sink.details,
    )
    assert set(stored_ids(postgres)) == set(good)
    reasons = {
        str(row[0]): str(row[1])
        for row in query(postgres, "SELECT message_id, reason FROM rejects")
    }
    assert set(reasons) == set(bad)
    by_kind = {bad[message_id]: reason for message_id, reason in reasons.items()}
    assert by_kind["not JSON"].startswith("body is not JSON")
    assert by_kind["JSON, not a reading"].startswith("not a reading: missing device")
    assert by_kind["out of range"] == "value -5ppm is out of range for co2 (0 to 40000)"
    assert by_kind["refused by the database"].startswith(
        "refused by the database: UntranslatableCharacter"
    )
    (raw, attributes), *_ = query(
        postgres,
        "SELECT data, attributes FROM rejects WHERE reason LIKE 'body is not JSON%'",
    )
    assert bytes(raw) == b"not json at all"
    assert attributes == {"origin": "test"}
    # Rejected once each: acked, not retried.
    time.sleep(12)  # past the 10 s lease: an unacked message would be back by now
    log = sink.log()
    for message_id in bad:
        assert len(re.findall(rf"rejected message_id={message_id}:", log)) == 1, log
    assert "was already" not in log

    status, seconds = sink.terminate()
    assert status == 0, sink.details()
    assert seconds < 6, f"SIGTERM took {seconds:.1f}s"
    sink_subscription = f"projects/{PROJECT}/subscriptions/{created_topic}-sink"
    assert sink_subscription in subscriptions_of(subscriber_client, created_topic)
    leftover = subscriber_client.pull(subscription=sink_subscription, max_messages=10, timeout=3)
    assert list(leftover.received_messages) == [], "everything was acked"


def test_sigterm_while_the_database_is_down_leaves_messages_for_the_next_sink(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    first = start_sink(services, created_topic, postgres, DRAIN_SECONDS="2")
    first.wait_for_log("connected to PostgreSQL")
    postgres.stop("fast")
    rng = random.Random(6)
    published = [
        publish_reading(publisher_client, created_topic, random_reading(rng)) for _ in range(3)
    ]
    first.wait_for_log(r"database unavailable \(.*\); holding [1-3] messages")
    status, seconds = first.terminate()
    assert status == 0, first.details()
    assert seconds < 9, f"SIGTERM took {seconds:.1f}s"
    assert re.search(r"leaving [1-3] message\(s\) unacked", first.log()), first.details()

    postgres.start()
    second = start_sink(services, created_topic, postgres)
    wait_for(
        lambda: sorted(stored_ids(postgres)) == sorted(published),
        timeout=40,  # the first sink's leases (10 s) lapse, then Pub/Sub redelivers
        what="the held readings stored by the next sink",
        details=second.details,
    )
    status, _ = second.terminate()
    assert status == 0, second.details()


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
    sink.wait_for_log(r"connected to PostgreSQL")
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
        line = sink.wait_for_log(
            r"database unavailable \(no answer for (\d+)s\); holding (\d+) messages", timeout=30
        )
        noticed = time.monotonic() - frozen_at
        time.sleep(max(frozen_for - noticed, 0))
        # The loop turned all along: a fresh heartbeat, which says why it is not ready.
        age = time.time() - heartbeat.stat().st_mtime
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
        f"({line[0]!r}); heartbeat {age:.1f}s old at the end, {state!r}; "
        f"{len(published)} published, {len(set(published) - set(ids))} lost, "
        f"{len(ids) - len(set(ids))} duplicates"
    )
    assert noticed < 15
    assert age < 5, "the heartbeat, hence the loop and its lease renewals, went on"
    assert state.startswith("not ready: database unavailable")
    assert sink.process.poll() is None
    assert len(ids) == len(set(ids)) == len(published)


def test_sinks_starting_together_migrate_once(postgres: PostgresServer) -> None:
    config = DatabaseConfig("127.0.0.1", postgres.port, DATABASE, USER, PASSWORD, 5)
    stores = [Store(config) for _ in range(4)]
    errors: list[BaseException] = []

    def connect(store: Store) -> None:
        try:
            store.connect()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=connect, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for store in stores:
        store.close()
    assert errors == []
    assert query(postgres, "SELECT version, name FROM schema_migrations") == [
        (1, "0001_readings_and_rejects.sql")
    ]
    indexes = {row[0] for row in query(postgres, "SELECT indexname FROM pg_indexes")}
    assert {"readings_pkey", "readings_device_metric_time", "rejects_pkey"} <= indexes


def test_a_host_name_that_does_not_resolve_fails_within_the_connect_timeout() -> None:
    check_resolvable("localhost", 5)
    check_resolvable("/var/run/postgresql", 5)
    started = time.monotonic()
    # .invalid never resolves (RFC 2606); whether the resolver says so at once or hangs,
    # the answer is an OperationalError, the sink's "database unavailable".
    with pytest.raises(psycopg.OperationalError, match=r"could not resolve host 'db\.invalid'"):
        check_resolvable("db.invalid", 2)
    assert time.monotonic() - started < 3
