"""Backlog drain: N messages waiting in a subscription, then one consumer; how fast it
takes them all.

Each trial: a fresh topic and subscription, N messages published and confirmed, then the
consumer started on that subscription (ours resumes it as its own, as a replica restarted
in place does). The rate is N over the time from its first delivery to its last; its CPU
per message counts from when it listens to when it is done. Lost and duplicated messages
are counted by ID (ours) or sequence number (the peers).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import peers
from benchmarks.trials import Bench, utc_seconds
from common.config import EMULATOR_DEFAULT_PROJECT
from common.resources import replica_subscription_id
from tests.support.logs import records
from tests.support.processes import ServiceProcess

# A backlog this large takes seconds even at the fastest: start-up noise stays small.
BACKLOG = 20_000
STALL_SECONDS = 5.0


@dataclass(frozen=True)
class Drain:
    consumer: str  # "ours (2 pull threads)", "raw", "node"
    messages: int
    seconds: float  # first delivery to last
    rate: float  # messages a second
    lost: int
    duplicates: int
    cpu_us_per_message: float
    rss_mib: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def body(sequence: int) -> bytes:
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps(
        {
            "channel_number": 22,
            "channel_name": "Cartoon",
            "sequence": sequence,
            "sent_at": sent_at,
            "publisher": "bench",
        }
    ).encode()


def backlog(
    bench: Bench, subscription_id: Callable[[str], str], count: int
) -> tuple[str, dict[str, int]]:
    """A topic, a subscription and ``count`` messages waiting in it; the topic ID and
    message ID -> sequence."""
    topic, topic_path = bench.new_topic()
    path = bench.subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, subscription_id(topic))
    bench.subscriber.create_subscription(name=path, topic=topic_path, ack_deadline_seconds=10)
    futures = [(n, bench.publisher.publish(topic_path, body(n))) for n in range(1, count + 1)]
    return topic, {future.result(timeout=120): n for n, future in futures}


def ours(
    bench: Bench, count: int = BACKLOG, pull_threads: int | None = None, **settings: str
) -> Drain:
    replica = f"drain-{uuid.uuid4().hex[:6]}"
    topic, sent = backlog(bench, lambda t: replica_subscription_id(t, replica), count)
    settings |= {"REPLICA_ID": replica, "LOG_FORMAT": "json"}
    if pull_threads is not None:
        settings["PULL_THREADS"] = str(pull_threads)
    env = bench.env(topic, HEARTBEAT_FILE=str(bench.workdir / f"{topic}.beat"), **settings)
    with bench.processes() as started:
        process = ServiceProcess("subscriber", env, bench.workdir / f"{topic}-drain.log")
        started.append(process)
        process.wait_for_event("listening", timeout=60)
        cpu = process.cpu_seconds()

        def got() -> list[tuple[str, float]]:
            return [
                (r["message_id"], utc_seconds(r["time"]))
                for r in records(process.log())
                if r.get("event") == "received"
            ]

        deliveries = wait_drained(got, count)
        cpu = process.cpu_seconds() - cpu
        memory = process.rss_mib()
    name = f"ours ({pull_threads or 'default'} pull threads)"
    if settings.get("SUBSCRIBER_MAX_MESSAGES"):
        name = f"{name[:-1]}, {settings['SUBSCRIBER_MAX_MESSAGES']} in hand)"
    return summarize(name, set(sent), deliveries, cpu, memory)


def peer(bench: Bench, name: str, count: int = BACKLOG) -> Drain:
    topic, sent = backlog(bench, lambda t: f"{t}-drain", count)
    path = bench.subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, f"{topic}-drain")
    out = bench.workdir / f"{topic}-{name}-drain.txt"
    with bench.processes() as started:
        process = peers.start(name, bench.env(topic), path, out)
        started.append(process)
        cpu = process.cpu_seconds()
        deliveries = wait_drained(lambda: peers.read_rows(out), count)
        cpu = process.cpu_seconds() - cpu
        memory = process.rss_mib()
    bench.subscriber.delete_subscription(subscription=path)
    return summarize(name, set(sent.values()), deliveries, cpu, memory)


def wait_drained(got: Any, count: int) -> list[Any]:
    """Poll ``got()`` until it holds ``count`` distinct messages or stops growing."""
    last, changed = -1, time.monotonic()
    while True:
        deliveries: list[Any] = got()
        if len({key for key, _ in deliveries}) >= count:
            return deliveries
        if len(deliveries) != last:
            last, changed = len(deliveries), time.monotonic()
        elif time.monotonic() - changed > STALL_SECONDS:
            return deliveries
        time.sleep(0.2)


def summarize(name: str, sent: set[Any], deliveries: list[Any], cpu: float, memory: float) -> Drain:
    keys = [key for key, _ in deliveries]
    times = [when for _, when in deliveries]
    seconds = max(times) - min(times) if times else float("nan")
    return Drain(
        consumer=name,
        messages=len(sent),
        seconds=round(seconds, 3),
        rate=round(len(set(keys)) / seconds) if seconds > 0 else float("nan"),
        lost=len(sent - set(keys)),
        duplicates=len(keys) - len(set(keys)),
        cpu_us_per_message=round(cpu * 1e6 / max(len(keys), 1), 1),
        rss_mib=round(memory, 1),
    )
