"""One fan-out trial on the emulator: ours or a peer, N subscriptions, one rate.

- "ours": ``python -m publisher`` and N ``python -m subscriber`` processes, exactly as
  the containers run them, logging JSON (``LOG_FORMAT=json``). Latency is the handler's
  record ``time`` minus the message's ``sent_at`` (set just before the publish call), both
  fields of the record, to the millisecond.
- "raw" and "node" (``benchmarks.peers``): N peer processes, published to by
  ``raw_client.py publish`` with the same pacing and message body.

Each subscriber's resident memory is read once it listens (idle) and at the end of the
publishing window (busy).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from google.cloud import pubsub_v1

from benchmarks import peers
from benchmarks.stats import TrialResult, summarize
from common.config import EMULATOR_DEFAULT_PROJECT
from tests.support.environment import clean_env
from tests.support.logs import records
from tests.support.metrics import scrape
from tests.support.processes import ServiceProcess

# How long the subscriptions get to catch up once publishing stops.
DRAIN_SECONDS = 20
# With metrics on, each subscriber's /metrics is read this often while it runs, as the
# compose stack's Prometheus does: collecting is part of what metrics cost.
SCRAPE_SECONDS = 5.0
Rows = list[list[tuple[int, float, float]]]


def utc_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def received(log: str) -> list[tuple[int, float, float]]:
    """(sequence, handled, sent_at) of each message a replica logged, from its JSON."""
    return [
        (int(r["sequence"]), utc_seconds(r["time"]), utc_seconds(r["sent_at"]))
        for r in records(log)
        if r.get("event") == "received"
    ]


def published(log: str) -> dict[int, float]:
    """Sequence -> log time of each publish the publisher logged, from its JSON."""
    return {
        int(r["sequence"]): utc_seconds(r["time"])
        for r in records(log)
        if r.get("event") == "published"
    }


def rss(processes: Iterable[ServiceProcess]) -> float:
    """The largest resident memory among ``processes``, in MiB."""
    return round(max(process.rss_mib() for process in processes), 1)


class Bench:
    def __init__(self, host: str, workdir: Path, seconds: float) -> None:
        self.host = host
        self.workdir = workdir
        self.seconds = seconds
        os.environ["PUBSUB_EMULATOR_HOST"] = host
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()

    def env(self, topic: str, **settings: str) -> dict[str, str]:
        return clean_env(PUBSUB_EMULATOR_HOST=self.host, PUBSUB_TOPIC=topic, **settings)

    def new_topic(self) -> tuple[str, str]:
        topic = f"bench-{uuid.uuid4().hex[:10]}"
        path = self.publisher.topic_path(EMULATOR_DEFAULT_PROJECT, topic)
        self.publisher.create_topic(name=path)
        return topic, path

    @contextmanager
    def processes(self) -> Iterator[list[ServiceProcess]]:
        started: list[ServiceProcess] = []
        try:
            yield started
        finally:
            for process in started:
                process.stop()
                process.close()

    def ours(self, subscriptions: int, rate: float, **settings: str) -> TrialResult:
        topic, _ = self.new_topic()
        with self.processes() as started:
            subscribers = []
            for n in range(subscriptions):
                env = self.env(
                    topic,
                    LOG_FORMAT="json",
                    # Each its own replica, as each container has its own host name.
                    REPLICA_ID=f"{topic}-{n}",
                    HEARTBEAT_FILE=str(self.workdir / f"{topic}-{n}.beat"),
                    **settings,
                )
                log = self.workdir / f"{topic}-sub-{n}.log"
                subscribers.append(ServiceProcess("subscriber", env, log))
            started.extend(subscribers)
            for process in subscribers:
                process.wait_for_event("listening", timeout=60)
            idle = rss(subscribers)
            cpu_before = sum(process.cpu_seconds() for process in subscribers)
            env = self.env(
                topic,
                LOG_FORMAT="json",
                PUBLISH_INTERVAL_SECONDS=repr(1 / rate),
                HEARTBEAT_FILE=str(self.workdir / f"{topic}-pub.beat"),
            )
            publisher = ServiceProcess("publisher", env, self.workdir / f"{topic}-pub.log")
            started.append(publisher)
            publisher.wait_for_event("publishing", timeout=60)
            scraped(subscribers, self.seconds)
            busy = rss(subscribers)
            publisher.stop()
            sent = published(publisher.log())
            deliveries = drain(sent.keys(), lambda: [received(s.log()) for s in subscribers])
            cpu = sum(process.cpu_seconds() for process in subscribers) - cpu_before
        # The publish time is the message's sent_at, as every subscriber saw it.
        for per_subscription in deliveries:
            for sequence, _, sent_at in per_subscription:
                sent[sequence] = sent_at
        result = summarize(
            "ours",
            rate,
            sent,
            [[(seq, handled) for seq, handled, _ in rows] for rows in deliveries],
            publish_seconds=self.seconds,
            subscriber_cpu_seconds=cpu,
        )
        return replace(result, rss_idle_mib=idle, rss_busy_mib=busy)

    def raw(self, subscriptions: int, rate: float) -> TrialResult:
        return self.peer("raw", subscriptions, rate)

    def node(self, subscriptions: int, rate: float) -> TrialResult:
        return self.peer("node", subscriptions, rate)

    def peer(self, peer: str, subscriptions: int, rate: float) -> TrialResult:
        topic, topic_path = self.new_topic()
        env = self.env(topic)
        with self.processes() as started:
            outputs, paths = [], []
            for n in range(subscriptions):
                path = self.subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, f"{topic}-{n}")
                self.subscriber.create_subscription(name=path, topic=topic_path)
                paths.append(path)
                outputs.append(self.workdir / f"{topic}-{peer}-{n}.txt")
                started.append(peers.start(peer, env, path, outputs[-1]))
            subscribers = list(started)
            idle = rss(subscribers)
            cpu_before = sum(process.cpu_seconds() for process in subscribers)
            sent_file = self.workdir / f"{topic}-{peer}-sent.txt"
            args = [str(rate), str(self.seconds), str(sent_file)]
            publisher = ServiceProcess(
                "raw_client",
                env,
                self.workdir / f"{topic}-{peer}-pub.log",
                args=[sys.executable, str(peers.RAW_CLIENT), "publish", topic_path, *args],
            )
            started.append(publisher)
            time.sleep(self.seconds)
            busy = rss(subscribers)
            if publisher.process.wait(timeout=120) != 0:
                sys.exit(f"the raw publisher failed:\n{publisher.log()}")
            sent = dict(peers.read_rows(sent_file))
            drain(
                sent.keys(),
                lambda: [[(s, t, 0.0) for s, t in peers.read_rows(o)] for o in outputs],
            )
            cpu = sum(process.cpu_seconds() for process in subscribers) - cpu_before
            deliveries = [peers.read_rows(output) for output in outputs]
        for path in paths:  # ours delete their own on the way out
            self.subscriber.delete_subscription(subscription=path)
        result = summarize(
            peer,
            rate,
            sent,
            deliveries,
            publish_seconds=self.seconds,
            subscriber_cpu_seconds=cpu,
        )
        return replace(result, rss_idle_mib=idle, rss_busy_mib=busy)


def scraped(subscribers: list[ServiceProcess], seconds: float) -> None:
    """Wait ``seconds``, reading the metrics of the subscribers that serve them every
    ``SCRAPE_SECONDS``, as Prometheus would."""
    ports = [int(e["port"]) for s in subscribers for e in s.events("metrics on") if e["port"]]
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(SCRAPE_SECONDS, left))
        for port in ports:
            scrape(port)


def drain(expected: Iterable[int], received: Callable[[], Rows]) -> Rows:
    """Wait until every subscription has every published message, or until nothing
    has arrived for a while; return what each subscription received."""
    wanted = set(expected)
    deadline = time.monotonic() + DRAIN_SECONDS
    last_total, last_change = -1, time.monotonic()
    while True:
        rows = received()
        if all(wanted <= {row[0] for row in per} for per in rows):
            return rows
        total = sum(len(per) for per in rows)
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > 5:
            return rows
        time.sleep(0.25)
