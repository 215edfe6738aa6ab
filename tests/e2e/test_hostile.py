"""A hostile publisher against the whole stack: every topic it reads, every demo running.

A corpus of bad messages (binary garbage, invalid UTF-8, an empty body, a body at the
size limit, nested JSON, numbers too large or not finite, control characters and line
breaks in every text field, a hundred attributes) goes to the channel, tasks, readings,
receipts and dead-letter topics, with good messages between them. Nothing may crash,
hang, loop or forge a log line, and every good message must be handled. The stack logs
JSON, as for every end-to-end test: a forged line would be a line that is not one of a
service's records, or a record whose text a viewer shows decoded (``jq -r``, a log
console) holding a line break or an escape sequence. The text format escapes the same
characters (tests/unit/common/test_logs.py).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from common.logs import escape
from common.messages.channels import Channel, ChannelMessage
from common.messages.readings import Reading
from common.messages.tasks import Task
from tests.e2e.conftest import ARTIFACTS, stack_for_test
from tests.support.compose import Stack, events, inspect, logs, running_stack
from tests.support.logs import message_ids, records
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
FORGED = "\n2026-01-01T00:00:00.000Z INFO    subscriber.fanout.handler: received message_id=FORGED"
HOSTILE_TEXT = f"x{FORGED}\x1b[2J\x1b]0;owned\x07\u2028\r\t\x00"
# Pub/Sub takes bodies up to 10 MB; this one, with its attributes, is just under.
BIG = 10_000_000 - 1_000
APP_SERVICES = ("publisher", "subscriber", "dashboard", "worker", "sink")
# MAX_DELIVERY_ATTEMPTS, as the stack leaves it: after as many deliveries, Pub/Sub moves a
# message to the dead-letter topic.
MAX_DELIVERY_ATTEMPTS = 5


def corpus(fields: list[str]) -> list[tuple[bytes, dict[str, str]]]:
    """Bad bodies for a topic whose messages have these text ``fields``."""
    rng = random.Random(7)
    bodies: list[tuple[bytes, dict[str, str]]] = [
        (bytes(rng.randrange(256) for _ in range(4096)), {}),
        (b"\xff\xfe\xfd" + HOSTILE_TEXT.encode(), {}),
        (b"", {"why": "an empty body needs an attribute"}),
        (b'{"pad": "' + b"A" * BIG + b'"}', {}),
        (b"[" * 100_000 + b"]" * 100_000, {}),
        (b'{"n": ' + b"1" * 5_000 + b"}", {}),
        (b'{"n": 1e999, "m": NaN, "o": -Infinity}', {}),
        (b"nothing but text" + HOSTILE_TEXT.encode(), {f"k{i}": HOSTILE_TEXT for i in range(100)}),
    ]
    for field in fields:
        bodies.append((json.dumps({field: HOSTILE_TEXT}).encode(), {field: HOSTILE_TEXT}))
    return bodies


@pytest.fixture(scope="module")
def stack(project_copy: Path) -> Iterator[Stack]:
    settings = {
        "PUBLISH_INTERVAL_SECONDS": "1",
        "TASK_INTERVAL_SECONDS": "5",
        "READINGS_INTERVAL_SECONDS": "1",
        "WORKER_PROCESSES": "1",
        "RETRY_MIN_BACKOFF_SECONDS": "1",
        "RETRY_MAX_BACKOFF_SECONDS": "2",
    }
    new = stack_for_test(project_copy, "pubsub-hostile-e2e", settings, ("workqueue", "sink"))
    with running_stack(
        new, "--scale", "worker=1", ready=("sink", 1), artifacts=ARTIFACTS
    ) as running:
        wait_for(
            lambda: running.all_healthy("dashboard", 1) and running.all_healthy("worker", 1),
            timeout=120,
            interval=0.5,
            what="every service healthy",
        )
        yield running


def test_a_hostile_corpus_on_every_topic_breaks_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{stack.emulator_port}")
    publisher = pubsub_v1.PublisherClient()

    def topic(name: str) -> str:
        return f"projects/{EMULATOR_DEFAULT_PROJECT}/topics/{name}"

    started = {
        c: inspect(c, "{{.State.StartedAt}}") for s in APP_SERVICES for c in stack.containers(s)
    }
    good: dict[str, list[str]] = {"channel": [], "tasks": [], "readings": []}
    bad: dict[str, list[str]] = {}
    texts = {
        "channel": ["channel_name", "publisher", "sent_at"],
        "tasks": ["task_id", "kind"],
        "readings": ["device", "metric", "unit", "measured_at"],
        "channel-receipts": ["kind", "replica", "subscription"],
        "channel-dead-letter": ["channel_name"],
    }
    for name, fields in texts.items():
        for n, (data, attributes) in enumerate(corpus(fields)):
            future = publisher.publish(topic(name), data, **attributes)
            bad.setdefault(name, []).append(future.result(timeout=60))
            if name in good:
                good[name].append(publish_good(publisher, topic(name), name, n))

    expected_channel = set(good["channel"])
    replicas = stack.containers("subscriber")
    for replica in replicas:
        wait_for(
            partial(has_all, replica, "received", expected_channel),
            timeout=120,
            interval=1,
            what="every good channel message at every replica",
        )
    (worker,) = stack.containers("worker")
    wait_for(
        partial(has_all, worker, "completed", set(good["tasks"])),
        timeout=120,
        interval=1,
        what="every good task completed",
    )
    (sink,) = stack.containers("sink")
    wait_for(
        partial(has_all, sink, "stored", set(good["readings"])),
        timeout=120,
        interval=1,
        what="every good reading stored",
    )
    # The bad channel messages go to the dead-letter topic after their attempts, not round
    # and round: each replica rejects each on its last attempt, after which Pub/Sub
    # delivers it no more, and never more often than that.
    for replica in replicas:
        wait_for(
            partial(rejected_for_good, replica, set(bad["channel"])),
            timeout=120,
            interval=1,
            what="every bad channel message rejected on its last attempt, at every replica",
        )
        rejected = message_ids(logs(replica), "rejected")
        assert max(rejected.count(m) for m in bad["channel"]) <= MAX_DELIVERY_ATTEMPTS
    sink_rejects = message_ids(logs(sink), "rejected")
    assert set(bad["readings"]) <= set(sink_rejects), "every bad reading kept in rejects"

    for service in APP_SERVICES:
        for container in stack.containers(service):
            assert inspect(container, "{{.State.StartedAt}}") == started[container], (
                f"{service} restarted"
            )
            assert inspect(container, "{{.State.Health.Status}}") == "healthy", service
            output = logs(container)
            assert "\x1b" not in output, f"{service}: a raw escape sequence reached the log"
            found = records(output)
            forged = [line for line in output.splitlines() if not line.startswith('{"severity"')]
            assert forged == [], f"{service}: lines no service wrote: {forged[:3]}"
            assert len(found) == len(output.splitlines()), f"{service}: a line not whole"
            shown = [v for r in found for v in r.values() if isinstance(v, str)]
            unsafe = [text for text in shown if escape(text) != text]
            assert unsafe == [], f"{service}: text a viewer would show unescaped: {unsafe[:3]}"
            assert "FORGED" not in message_ids(output, "received"), service
    print(
        f"\nhostile corpus: {sum(map(len, bad.values()))} bad messages on {len(bad)} topics, "
        f"{sum(map(len, good.values()))} good ones between them, all handled; "
        "no restart, no forged line, every service healthy"
    )


def has_all(container: str, event: str, expected: set[str]) -> bool:
    return expected <= set(message_ids(logs(container), event))


def rejected_for_good(container: str, bad: set[str]) -> bool:
    """Whether ``container`` has rejected every one of ``bad`` on its last attempt."""
    last = events(container, "rejected", attempt=MAX_DELIVERY_ATTEMPTS)
    return bad <= {str(record["message_id"]) for record in last}


def publish_good(publisher: pubsub_v1.PublisherClient, topic: str, kind: str, n: int) -> str:
    if kind == "channel":
        data, attributes = ChannelMessage(Channel(52, "News"), sequence=n).encode()
    elif kind == "tasks":
        data, attributes = Task(f"good-{n}", "primes", 1000).encode()
    else:
        reading = Reading("kitchen", "co2", 600.0 + n, "ppm", datetime.now(UTC))
        data, attributes = reading.encode()
    return str(publisher.publish(topic, data, **attributes).result(timeout=60))
