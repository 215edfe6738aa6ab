"""Sink mode: store every message in PostgreSQL, and ack it only once that is committed.

Replicas share one durable subscription (``<topic>-sink``) and pull with unary Pull
(``common.unary_pull``). Each batch in hand becomes rows (``rows``): readings, and
rejects for messages that are not readings; both go in one transaction (``store``), and
the whole batch is acked after the commit. A bad message is stored as a reject and
acked, so it is never retried forever and never holds up the good ones.

While the database is unavailable the sink never nacks: a nack counts a delivery
attempt and hands the message straight back, to be pulled again and fail again. It
keeps the batch in hand instead, renews its leases, pulls nothing more, and retries with
capped exponential backoff (``common.outage``), reconnecting each time. Every write is
idempotent (keyed by the message ID), so a message that does come back (a lapsed lease, a
sink killed after its commit but before its ack) adds no second row.

Threads: the puller thread only pulls; the main thread writes, acks, renews leases and
beats the heartbeat, which it keeps doing while the database is down: the sink is alive
and holding the data, which is its job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage

from common.health import HEARTBEAT_INTERVAL_SECONDS, Beat
from common.logs import fields
from common.outage import Outage
from common.pubsub import (
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from common.subscriptions import durable_request
from common.unary_pull.leaser import Leaser
from common.unary_pull.loop import Consumer, Provision, run_until_stopped
from common.unary_pull.pulled import publish_time, raw
from common.unary_pull.puller import PULL_TIMEOUT_SECONDS, Puller
from subscriber.sink.config import SinkConfig
from subscriber.sink.rows import Incoming, Rows, split
from subscriber.sink.store import Written, describe_error
from subscriber.sink.writer import Writer

log = logging.getLogger(__name__)

# A database call running this long is reported: one line, and not ready (sink.writer).
ANSWER_SECONDS = 10.0
DRAIN_POLL_SECONDS = 0.1


def subscription_request(config: SinkConfig) -> dict[str, Any]:
    """One durable subscription all sinks share, with no dead-letter policy.

    The sink never nacks, and stores what it cannot parse in its rejects table and acks
    it, so delivery attempts grow only when leases lapse (a sink killed, or stalled past
    its lease). A dead-letter policy would then move good readings out of the database's
    way for good after a long outage with restarting sinks; without one they wait in the
    subscription (up to its 7-day retention).
    """
    pubsub = config.pubsub
    request = durable_request(pubsub, config.subscription_id, pubsub.topic_id, role="sink")
    request["ack_deadline_seconds"] = config.ack_deadline_seconds
    return request


def run(config: SinkConfig, stop: threading.Event) -> int:
    """Provision the subscription, then store until ``stop``; the exit status."""
    with subscriber_client(config.pubsub) as subscriber:
        topics = publisher_client(config.pubsub)
        return Sink(subscriber, config, stop).run(
            lambda beat: provision(config, subscriber, topics, stop, beat)
        )


def provision(
    config: SinkConfig,
    subscriber: pubsub_v1.SubscriberClient,
    topics: pubsub_v1.PublisherClient,
    stop: threading.Event,
    beat: Beat,
) -> None:
    """The topic and the subscription, created if missing: at start, and again after
    Pub/Sub lost them. The sinks provision them, so that readings published before any
    sink has run wait in the subscription rather than go nowhere."""
    kwargs: dict[str, Any] = {"stop": stop, "logger": log, "beat": beat}
    ensure_topic(topics, config.pubsub.topic_path, **kwargs)
    ensure_subscription(subscriber, subscription_request(config), wait_for_topic=True, **kwargs)


def report(rows: Rows, written: Written) -> Counter[str]:
    """One line per message, after the commit: where it went. Returns the count of each
    fate: "stored", "rejected", "already stored"."""
    counts: Counter[str] = Counter()
    refused = {reject.message.message_id: reject.reason for reject in written.refused}
    for row in rows.readings:
        message_id = row.message.message_id
        if message_id in written.readings:
            counts["stored"] += 1
            log.info(
                "stored message_id=%s %s measured_at=%s",
                message_id,
                row.reading.describe(),
                row.reading.measured_at.isoformat(),
                extra=fields(event="stored", message_id=message_id),
            )
        elif message_id in refused:
            counts["rejected"] += 1
            log_rejected(message_id, refused[message_id])
        else:
            counts["already stored"] += 1
            log.info("message_id=%s was already stored (a redelivery)", message_id)
    for reject in rows.rejects:
        message_id = reject.message.message_id
        if message_id in written.rejects:
            counts["rejected"] += 1
            log_rejected(message_id, reject.reason)
        else:
            counts["already stored"] += 1
            log.info("message_id=%s was already in rejects (a redelivery)", message_id)
    return counts


def log_rejected(message_id: str, reason: str) -> None:
    log.warning(
        "rejected message_id=%s: %s; kept in table rejects",
        message_id,
        reason,
        extra=fields(event="rejected", message_id=message_id),
    )


@dataclass(frozen=True)
class Held:
    """A message in hand: pulled and leased, not yet stored."""

    ack_id: str
    message: Incoming


def held(received: ReceivedMessage) -> Held:
    pb = raw(received)
    message = pb.message
    incoming = Incoming(
        message_id=message.message_id,
        data=bytes(message.data),
        attributes=dict(message.attributes),
        publish_time=publish_time(message),
        received_at=datetime.now(UTC),
    )
    return Held(pb.ack_id, incoming)


class Sink:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        config: SinkConfig,
        stop: threading.Event,
    ) -> None:
        self._path = path = config.pubsub.subscription_path(config.subscription_id)
        self._config = config
        self._stop = stop
        # One permit per message in hand: a batch never outgrows batch_size.
        self._leaser = Leaser(
            subscriber, path, lease_seconds=config.ack_deadline_seconds, capacity=config.batch_size
        )
        self._puller = Puller(subscriber, path, self._leaser, stop)
        # Nothing is pulled before the database is reachable and its schema up to date.
        self._puller.paused.set()
        self._writer = Writer(config.database, on_done=self._puller.wake)
        self._held: list[Held] = []
        # The batch the database call in progress is writing.
        self._batch: list[Held] = []
        self._rows = Rows([], [])
        self._connected = False
        self._outage = Outage("database", log, retry_max_seconds=config.retry_max_seconds)
        self.stored = 0
        self.rejected = 0
        self.already_stored = 0

    def run(self, provision: Provision) -> int:
        consumer = Consumer(
            provision=provision,
            started=self._started,
            step=self._step,
            drain=self._drain,
            not_ready=self._not_ready,
        )
        try:
            return run_until_stopped(self._puller, self._path, self._stop, consumer)
        finally:
            self._writer.close()
            log.info(
                "sink stopped: %d stored, %d rejected, %d already stored; %d left unacked",
                self.stored,
                self.rejected,
                self.already_stored,
                len(self._held),
            )

    def _step(self) -> None:
        wake_at = self._leaser.next_renewal
        if self._writer.busy:
            wake_at = min(wake_at, time.monotonic() + ANSWER_SECONDS)
        elif self._held or not self._connected:
            wake_at = min(wake_at, self._outage.next_attempt)
        self._puller.wait(min(max(wake_at - time.monotonic(), 0.0), HEARTBEAT_INTERVAL_SECONDS))
        self._held.extend(held(received) for received in self._puller.take())
        self._attempt()
        self._leaser.renew_if_due()

    def _started(self) -> None:
        log.info(
            "storing messages from %s in PostgreSQL at %s: batches of up to %d, lease %ds",
            self._path,
            self._config.database.describe(),
            self._config.batch_size,
            self._config.ack_deadline_seconds,
        )

    def _not_ready(self) -> str:
        if self._outage.down:
            return f"database unavailable, holding {len(self._held)} messages"
        return "" if self._connected else "not connected to the database yet"

    def _attempt(self) -> bool:
        """Start storing what is in hand (or just connecting) when due, or see how the
        call in progress is doing; True once a batch is committed and acked."""
        if not self._writer.busy:
            due = self._held or not self._connected
            if not due or time.monotonic() < self._outage.next_attempt:
                return False
            self._batch = list(self._held)
            self._rows = split([entry.message for entry in self._batch])
            self._writer.start(self._rows if self._batch else None)
        try:
            written = self._writer.poll()
        except psycopg.Error as exc:
            self._unavailable(describe_error(exc))
            return False
        if written is None:
            waited = self._writer.waited()
            if waited >= ANSWER_SECONDS and not self._outage.down:
                self._unavailable(f"no answer for {waited:.0f}s")
            return False
        if not self._connected:
            self._connected = True
            log.info("connected to PostgreSQL at %s", self._config.database.describe())
        self._outage.succeeded(f"stored {len(self._batch)} messages")
        self._puller.paused.clear()
        counts = report(self._rows, written)
        self.stored += counts["stored"]
        self.rejected += counts["rejected"]
        self.already_stored += counts["already stored"]
        self._leaser.ack([entry.ack_id for entry in self._batch])
        del self._held[: len(self._batch)]
        return True

    def _unavailable(self, error: str) -> None:
        # Hold what is in hand; take nothing more until the database is back.
        self._puller.paused.set()
        self._outage.failed(error, f"holding {len(self._held)} messages")

    def _drain(self) -> None:
        """SIGTERM: pull no more; store and ack what is in hand if the database allows
        within the drain budget, else leave it unacked: Pub/Sub redelivers it when its
        lease lapses, and storing it again is idempotent."""
        self._puller.join(PULL_TIMEOUT_SECONDS + 1)  # the puller nacks a late pull itself
        self._held.extend(held(received) for received in self._puller.take())
        if not self._held:
            return
        deadline = time.monotonic() + self._config.drain_seconds
        log.info(
            "stopping: %d message(s) in hand; trying to store them for up to %gs",
            len(self._held),
            self._config.drain_seconds,
        )
        while self._held and time.monotonic() < deadline:
            if self._attempt():
                continue
            wake_at = self._outage.next_attempt if not self._writer.busy else 0.0
            time.sleep(max(min(wake_at, deadline) - time.monotonic(), DRAIN_POLL_SECONDS))
        log.warning(
            "leaving %d message(s) unacked: Pub/Sub redelivers them when their lease lapses",
            len(self._held),
        )
