"""Metrics against the real client and emulator: each replica's counters agree with what
its log says it handled, and the publisher's with what it published."""

from __future__ import annotations

from functools import partial

import pytest
from google.cloud import pubsub_v1

from common.metrics import names
from tests.integration.conftest import Services, topic_path
from tests.support.metrics import Key, scrape, total
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
MESSAGES = 20
BAD = 3


def port_of(service: ServiceProcess) -> int:
    return int(service.wait_for_event("metrics on")["port"])


def handled(replica: ServiceProcess) -> tuple[int, int]:
    """What the replica's log says: (messages received and acked, messages rejected)."""
    return len(replica.events("received")), len(replica.events("rejected"))


def settled(replica: ServiceProcess, expected: int) -> bool:
    port = port_of(replica)
    samples = scrape(port)
    acked = total(samples, names.ACKED.prometheus_name)
    nacked = total(samples, names.NACKED.prometheus_name)
    return sum(handled(replica)) >= expected and acked + nacked >= expected


def agreeing(replica: ServiceProcess, labels: dict[str, str]) -> dict[Key, float] | None:
    """The replica's samples, if consumed, acked, nacked and rejected equal its log's
    received and rejected events, read before and after the scrape alike."""
    before = handled(replica)
    samples = scrape(port_of(replica))
    if handled(replica) != before:
        return None
    received, rejected = before
    found = [
        total(samples, spec.prometheus_name, **labels)
        for spec in (names.CONSUMED, names.ACKED, names.NACKED)
    ]
    found.append(total(samples, names.REJECTED.prometheus_name, **labels))
    return samples if found == [received + rejected, received, rejected, rejected] else None


def describe(replica: ServiceProcess, labels: dict[str, str]) -> str:
    samples = scrape(port_of(replica))
    counted = {
        spec.name: total(samples, spec.prometheus_name, **labels)
        for spec in (names.CONSUMED, names.ACKED, names.NACKED, names.REJECTED)
    }
    return f"log (received, rejected): {handled(replica)}; counters: {counted}"


def test_each_replicas_counters_match_its_log(
    services: Services, created_topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    replicas = [services.start("subscriber", created_topic) for _ in range(2)]
    for replica in replicas:
        replica.wait_for_event("listening")
    publisher = services.start("publisher", created_topic, PUBLISH_INTERVAL_SECONDS="0.05")
    wait_for(
        lambda: len(publisher.events("published")) >= MESSAGES,
        timeout=60,
        what=f"{MESSAGES} publishes",
        details=publisher.details,
    )
    publisher_port = port_of(publisher)

    def sent_matches_log() -> bool:
        before = len(publisher.events("published"))
        sent = total(scrape(publisher_port), names.SENT.prometheus_name)
        return before == sent == len(publisher.events("published"))

    # Between two publishes (one every 50 ms), the counter and the log agree.
    wait_for(sent_matches_log, timeout=30, interval=0.01, what="the publisher's sent total")
    failed = total(scrape(publisher_port), names.SENT.prometheus_name, error_type="_OTHER")
    assert failed == 0
    status, _ = publisher.terminate()
    assert status == 0, publisher.details()
    for _ in range(BAD):  # not a channel message: each replica rejects it
        publisher_client.publish(topic_path(created_topic), b"not json").result(timeout=30)
    published = len(publisher.events("published"))
    for replica in replicas:
        wait_for(
            partial(settled, replica, published + BAD),
            timeout=60,
            what="every message handled and settled",
            details=replica.details,
        )
        subscription = replica.wait_for_event("listening")["subscription"].rsplit("/", 1)[-1]
        labels = {"messaging_destination_subscription_name": subscription}
        # Bad messages come back after each nack: the counters agree with the log once a
        # scrape falls between two deliveries, and its last ack round has gone out.
        samples = wait_for(
            partial(agreeing, replica, labels),
            timeout=60,
            interval=0.2,
            what="the replica's counters to agree with its log",
            details=partial(describe, replica, labels),
        )
        received, rejected = handled(replica)
        assert rejected >= BAD  # first attempts, and redeliveries while the test runs
        lags = total(samples, f"{names.DELIVERY_LAG.prometheus_name}_count", **labels)
        assert 0 < lags <= received
        assert total(samples, f"{names.PROCESS_DURATION.prometheus_name}_count", **labels) > 0
        assert total(samples, names.OUTAGE.prometheus_name, pubsub_fanout_peer="pubsub") == 0
