"""Sink mode against the real emulator and a real PostgreSQL server of its own.

The sink runs as a real process (``python -m subscriber`` with SUBSCRIPTION_MODE=sink);
the tests publish, stop and start the database under it, and read what it stored.
"""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest
from google.cloud import pubsub_v1

from common.messages.readings import random_reading
from subscriber.sink.config import DatabaseConfig
from subscriber.sink.store import Store, check_resolvable
from tests.integration.conftest import PROJECT, Services, subscriptions_of, unacked
from tests.integration.sinks import publish, publish_reading, query, start_sink, stored_ids
from tests.support.compose import stop_grace_seconds
from tests.support.postgres import DATABASE, PASSWORD, USER, PostgresServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_bad_messages_land_in_rejects_once_and_never_block_good_ones(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    sink = start_sink(services, created_topic, postgres)
    sink.wait_for_event("connected")
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
    for message_id, what in bad.items():
        [line] = sink.events("rejected", message_id=message_id)
        assert line["reason"] == reasons[message_id], what

    status, seconds = sink.terminate()
    print(f"\nsink shutdown: {seconds:.2f}s")
    assert status == 0, sink.details()
    assert seconds < stop_grace_seconds("sink"), f"SIGTERM took {seconds:.1f}s"
    # Rejected once each, acked, not retried: nothing came back while the sink ran, and
    # nothing is left to come back.
    [stopped] = sink.events("stopped")
    assert (stopped["stored"], stopped["rejected"]) == (len(good), len(bad)), stopped
    assert stopped["already_stored"] == 0, sink.details()
    sink_subscription = f"projects/{PROJECT}/subscriptions/{created_topic}-sink"
    assert sink_subscription in subscriptions_of(subscriber_client, created_topic)
    assert unacked(subscriber_client, sink_subscription) == [], "everything was acked"


def test_sigterm_while_the_database_is_down_leaves_messages_for_the_next_sink(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    first = start_sink(services, created_topic, postgres, DRAIN_SECONDS="2")
    first.wait_for_event("connected")
    postgres.stop("fast")
    rng = random.Random(6)
    published = [
        publish_reading(publisher_client, created_topic, random_reading(rng)) for _ in range(3)
    ]
    first.wait_for_event("unavailable", peer="database")
    status, seconds = first.terminate()
    print(f"\nsink shutdown with the database down: {seconds:.2f}s")
    assert status == 0, first.details()
    assert seconds < stop_grace_seconds("sink"), f"SIGTERM took {seconds:.1f}s"
    [handed_back] = first.events("handed back")
    assert 1 <= handed_back["count"] <= 3, first.details()

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
    seconds = time.monotonic() - started
    print(f"\nan unresolvable host refused after {seconds:.2f}s (timeout 2 s)")
    # Twice the timeout: room for a busy machine, far from a resolver's own ~10 s.
    assert seconds < 4, "bounded by the timeout, not by the resolver"
