"""One fan-out trial on the emulator: ours or raw, N subscriptions, one rate.

- "ours": ``python -m publisher`` and N ``python -m subscriber`` processes, exactly as
  the containers run them. Latency is the handler's log time minus the message's
  ``sent_at`` (set just before the publish call); both have millisecond resolution.
- "raw": ``benchmarks/raw_client.py``, the bare client: the same pacing and message body,
  N subscriber processes whose callback records the time and acks, nothing else.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from google.cloud import pubsub_v1

from benchmarks.stats import TrialResult, summarize
from common.config import EMULATOR_DEFAULT_PROJECT
from tests.support import ROOT
from tests.support.environment import clean_env
from tests.support.processes import ServiceProcess

RAW_CLIENT = ROOT / "benchmarks" / "raw_client.py"
# How long the subscriptions get to catch up once publishing stops.
DRAIN_SECONDS = 20

RECEIVED = re.compile(
    r"^(\S+)Z INFO +subscriber\.fanout\.handler: received .* sequence=(\d+) .*sent_at=(\S+)Z$", re.M
)
PUBLISHED = re.compile(r"^(\S+)Z INFO +publisher\.loop: published .* sequence=(\d+)$", re.M)


def utc_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


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

    def ours(self, subscriptions: int, rate: float) -> TrialResult:
        topic, _ = self.new_topic()
        with self.processes() as started:
            subscribers = []
            for n in range(subscriptions):
                env = self.env(topic, HEARTBEAT_FILE=str(self.workdir / f"{topic}-{n}.beat"))
                log = self.workdir / f"{topic}-sub-{n}.log"
                subscribers.append(ServiceProcess("subscriber", env, log))
            started.extend(subscribers)
            for process in subscribers:
                process.wait_for_log(r"subscriber\.fanout\.replica: listening on ", timeout=60)
            cpu_before = sum(process.cpu_seconds() for process in subscribers)
            env = self.env(
                topic,
                PUBLISH_INTERVAL_SECONDS=repr(1 / rate),
                HEARTBEAT_FILE=str(self.workdir / f"{topic}-pub.beat"),
            )
            publisher = ServiceProcess("publisher", env, self.workdir / f"{topic}-pub.log")
            started.append(publisher)
            publisher.wait_for_log(r"publisher\.loop: publishing ", timeout=60)
            time.sleep(self.seconds)
            publisher.stop()
            published = {
                int(sequence): utc_seconds(stamp)
                for stamp, sequence in PUBLISHED.findall(publisher.log())
            }

            def received() -> list[list[tuple[int, float, float]]]:
                return [
                    [
                        (int(seq), utc_seconds(handled), utc_seconds(sent))
                        for handled, seq, sent in RECEIVED.findall(process.log())
                    ]
                    for process in subscribers
                ]

            deliveries = drain(published.keys(), received)
            cpu = sum(process.cpu_seconds() for process in subscribers) - cpu_before
        # The publish time is the message's sent_at, as every subscriber saw it.
        sent = dict(published)
        for per_subscription in deliveries:
            for sequence, _, sent_at in per_subscription:
                sent[sequence] = sent_at
        return summarize(
            "ours",
            rate,
            sent,
            [[(seq, handled) for seq, handled, _ in rows] for rows in deliveries],
            publish_seconds=self.seconds,
            subscriber_cpu_seconds=cpu,
        )

    def raw(self, subscriptions: int, rate: float) -> TrialResult:
        topic, topic_path = self.new_topic()
        env = self.env(topic)
        with self.processes() as started:
            outputs, paths = [], []
            for n in range(subscriptions):
                path = self.subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, f"{topic}-{n}")
                self.subscriber.create_subscription(name=path, topic=topic_path)
                paths.append(path)
                outputs.append(self.workdir / f"{topic}-raw-{n}.txt")
                started.append(
                    ServiceProcess(
                        "raw_client",
                        env,
                        self.workdir / f"{topic}-raw-{n}.log",
                        args=[sys.executable, str(RAW_CLIENT), "subscribe", path, str(outputs[-1])],
                    )
                )
            for process in started:
                process.wait_for_log(r"^listening$", timeout=60)
            subscribers = list(started)
            cpu_before = sum(process.cpu_seconds() for process in subscribers)
            sent_file = self.workdir / f"{topic}-raw-sent.txt"
            publisher = ServiceProcess(
                "raw_client",
                env,
                self.workdir / f"{topic}-raw-pub.log",
                args=[
                    sys.executable,
                    str(RAW_CLIENT),
                    "publish",
                    topic_path,
                    str(rate),
                    str(self.seconds),
                    str(sent_file),
                ],
            )
            if publisher.process.wait(timeout=self.seconds + 120) != 0:
                sys.exit(f"the raw publisher failed:\n{publisher.log()}")
            sent = read_pairs(sent_file)

            def received() -> list[list[tuple[int, float, float]]]:
                return [[(seq, when, 0.0) for seq, when in read_pairs(o).items()] for o in outputs]

            # Duplicates would collapse in a dict; count them from the raw lines instead.
            drain(sent.keys(), received)
            cpu = sum(process.cpu_seconds() for process in subscribers) - cpu_before
            deliveries = [read_rows(output) for output in outputs]
        for path in paths:  # ours delete their own on the way out
            self.subscriber.delete_subscription(subscription=path)
        return summarize(
            "raw",
            rate,
            sent,
            deliveries,
            publish_seconds=self.seconds,
            subscriber_cpu_seconds=cpu,
        )


def drain(
    expected: Iterable[int], received: Callable[[], list[list[tuple[int, float, float]]]]
) -> list[list[tuple[int, float, float]]]:
    """Wait until every subscription has every published message, or until nothing
    has arrived for a while; return what each subscription received."""
    wanted = set(expected)
    deadline = time.monotonic() + DRAIN_SECONDS
    last_total, last_change = -1, time.monotonic()
    while True:
        rows: list[list[tuple[int, float, float]]] = received()
        if all(wanted <= {row[0] for row in per} for per in rows):
            return rows
        total = sum(len(per) for per in rows)
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > 5:
            return rows
        time.sleep(0.25)


def read_rows(path: Path) -> list[tuple[int, float]]:
    rows = []
    for line in path.read_text().splitlines():
        sequence, when = line.split()
        rows.append((int(sequence), float(when)))
    return rows


def read_pairs(path: Path) -> dict[int, float]:
    return dict(read_rows(path)) if path.exists() else {}
