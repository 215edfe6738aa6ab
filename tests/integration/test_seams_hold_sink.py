"""The sink holds against its row mapper's mistakes and its rows' (issue 21): each is a row
in ``rejects`` with its reason, the readings before and after are stored, and the sink
runs on until SIGTERM. The mapper is ``mistakes.careless_row``."""

from __future__ import annotations

import random

import pytest
from google.cloud import pubsub_v1

from common.messages.readings import random_reading
from tests.integration.conftest import Services
from tests.integration.sinks import publish, publish_reading, query, start_sink
from tests.support.postgres import PostgresServer
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration
MAPPER = "tests.integration.mistakes:careless_row"


def store_around(
    sink: ServiceProcess,
    postgres: PostgresServer,
    publisher: pubsub_v1.PublisherClient,
    topic: str,
    bodies: list[bytes],
) -> dict[bytes, str]:
    """Publish a good reading, ``bodies``, another good reading; wait until both are
    stored and each body is a reject; the reason stored for each body."""
    rng = random.Random(21)
    good = [publish_reading(publisher, topic, random_reading(rng))]
    bad = {publish(publisher, topic, body): body for body in bodies}
    good.append(publish_reading(publisher, topic, random_reading(rng)))
    for message_id in good:
        sink.wait_for_event("stored", message_id=message_id)
    for message_id in bad:
        sink.wait_for_event("rejected", message_id=message_id)
    stored = {str(row[0]) for row in query(postgres, "SELECT message_id FROM readings")}
    assert stored == set(good), "the good readings, and nothing else"
    rejects = dict(query(postgres, "SELECT message_id, reason FROM rejects"))
    assert set(rejects) == set(bad)
    return {bad[message_id]: str(reason) for message_id, reason in rejects.items()}


def stop(sink: ServiceProcess, stored: int, rejected: int) -> None:
    """SIGTERM, the only way out: status 0, with these counts."""
    assert sink.process.poll() is None, f"the sink must run on\n{sink.details()}"
    status, _ = sink.terminate()
    assert status == 0, sink.details()
    (stopped,) = sink.events("stopped")
    assert (stopped["stored"], stopped["rejected"]) == (stored, rejected)


def test_a_base_exception_or_an_awaitable_from_the_row_mapper_is_a_reject(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    sink = start_sink(services, created_topic, postgres, SINK_ROW_MAPPER=MAPPER)
    sink.wait_for_event("connected")
    bodies = [b"exit", b"interrupt", b"cancel", b"async"]
    reasons = store_around(sink, postgres, publisher_client, created_topic, bodies)
    assert reasons[b"exit"] == "SystemExit: 2"
    assert reasons[b"interrupt"] == "KeyboardInterrupt"
    assert reasons[b"cancel"] == "CancelledError"
    assert reasons[b"async"].startswith("TypeError: the row mapper returned an awaitable")
    assert not sink.events("handed back")
    stop(sink, stored=2, rejected=4)


def test_a_row_the_driver_cannot_send_is_a_reject_not_an_outage(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    sink = start_sink(services, created_topic, postgres, SINK_ROW_MAPPER=MAPPER)
    sink.wait_for_event("connected")
    reasons = store_around(sink, postgres, publisher_client, created_topic, [b"decimal", b"set"])
    assert reasons[b"decimal"] == (
        "cannot be sent to the database: TypeError: Object of type Decimal is not JSON serializable"
    )
    assert reasons[b"set"].startswith(
        "cannot be sent to the database: ProgrammingError: cannot adapt type 'set'"
    )
    assert not sink.events("unavailable"), "no outage: the database was there all along"
    stop(sink, stored=2, rejected=2)


def test_a_reading_with_a_number_out_of_range_is_a_clean_reject(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    sink = start_sink(services, created_topic, postgres)  # the demo's own mapper
    sink.wait_for_event("connected")
    huge = (  # 309 digits: past float's range
        b'{"device": "kitchen", "metric": "co2", "value": 1' + b"0" * 308 + b', "unit": "ppm", '
        b'"measured_at": "2026-11-25T17:00:00Z"}'
    )
    reasons = store_around(sink, postgres, publisher_client, created_topic, [huge])
    assert reasons[huge] == "value 100000… (309 digits)ppm is out of range for co2 (0 to 40000)"
    stop(sink, stored=2, rejected=1)
