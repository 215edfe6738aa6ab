"""Sink mode: store every message in PostgreSQL, and ack it only once that is committed.

Replicas share one durable subscription (``<topic>-sink``) and receive with
``common.receive``, once the database is reachable and its schema up to date. Each
batch in hand becomes rows (``rows``): the row mapper's (SINK_ROW_MAPPER; the demo's
makes readings), and rejects for messages it refuses; all go in one transaction
(``store``), and the whole batch is acked after the commit. A bad message is stored as
a reject and acked, so it is never retried forever and never holds up the good ones.

While the database is unavailable the sink never nacks: a nack counts a delivery
attempt and hands the message straight back, to be pulled again and fail again. It
keeps the batch in hand instead, whose leases the receiving side renews; once the batch
is full, flow control pulls nothing more; it retries with capped exponential backoff
(``common.outage``), reconnecting each time. Every write is
idempotent (keyed by the message ID), so a message that does come back (a lapsed lease, a
sink killed after its commit but before its ack) adds no second row.

Threads: the pull thread hands each message to ``_received``; the main thread writes
(through ``writer``'s thread), acks and beats the heartbeat, which it keeps doing while
the database is down: the sink is alive and holding the data, which is its job.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.logs import fields
from common.outage import Outage, ShutdownRequested
from common.provision import Provisioner
from common.pubsub import publisher_client, subscriber_client
from common.receive import Received, ReceiveFuture, subscribe
from common.resources import Plan, durable, topic
from subscriber.sink.batch import Held, finish, held, report
from subscriber.sink.config import SinkConfig
from subscriber.sink.rows import Rows, split
from subscriber.sink.store import describe_error
from subscriber.sink.writer import Writer

log = logging.getLogger(__name__)

# A database call running this long is reported: one line, and not ready (sink.writer).
ANSWER_SECONDS = 10.0
# Beyond DRAIN_SECONDS, what the receiving side may take to stop (acks flushed).
STOP_SECONDS = 3.0


def plan(config: SinkConfig) -> Plan:
    """The topic and one durable subscription all sinks share, with no dead-letter policy.

    The sinks make them, so that readings published before any sink has run wait in the
    subscription. The sink never nacks while it runs, and stores what it cannot parse in
    its rejects table and acks it, so delivery attempts grow only when leases lapse (a
    sink killed, or stalled past its lease). A dead-letter policy would then move good
    readings out of the database's way for good after a long outage with restarting
    sinks; without one they wait in the subscription (up to its 7-day retention).
    """
    pubsub = config.pubsub
    subscription = durable(
        pubsub,
        config.subscription_id,
        pubsub.topic_id,
        role="sink",
        ack_deadline_seconds=config.ack_deadline_seconds,
    )
    return Plan(topics=(topic(pubsub.topic_path),), subscriptions=(subscription,))


def run(config: SinkConfig, stop: threading.Event) -> int:
    """Provision the subscription, connect, then store until ``stop``; the exit status."""
    with subscriber_client(config.pubsub) as subscriber:
        provisioner = Provisioner(publisher_client(config.pubsub), subscriber, stop)
        return Sink(subscriber, provisioner, config, stop).run()


class Sink:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        provisioner: Provisioner,
        config: SinkConfig,
        stop: threading.Event,
    ) -> None:
        self._subscriber = subscriber
        self._provisioner = provisioner
        self._path = path = config.pubsub.subscription_path(config.subscription_id)
        self._config = config
        self._stop = stop
        self._wake = threading.Event()
        self._writer = Writer(
            config.database, path, on_done=self._wake.set, migrations=config.migrations
        )
        self._lock = threading.Lock()
        self._held: list[Held] = []  # appended by the pull thread
        # The batch the database call in progress is writing.
        self._batch: list[Held] = []
        self._rows = Rows([], [])
        self._connected = False
        self._outage = Outage("database", retry_max_seconds=config.retry_max_seconds)
        self.stored = 0
        self.rejected = 0
        self.already_stored = 0

    def run(self) -> int:
        heartbeat = Heartbeat()
        plan_ = plan(self._config)
        try:
            granted = self._provisioner.ensure(plan_, lambda why: heartbeat.beat(not_ready=why))
        except ShutdownRequested:
            log.info("stopped before subscribing", extra=fields(event="stopped before subscribing"))
            return 0
        future: ReceiveFuture | None = None
        threading.Thread(target=self._wake_on_stop, name="wake-on-stop", daemon=True).start()
        try:
            while not self._stop.is_set() and not (future is not None and future.done()):
                self._step()
                if future is None and self._connected:
                    # Nothing is pulled before the database is reachable and migrated.
                    future = self._subscribe(granted[-1], plan_)
                not_ready = future.not_ready if future is not None else ""
                heartbeat.beat(not_ready=not_ready or self._not_ready())
            if future is not None:
                self._drain(future)
        finally:
            heartbeat.clear()
            self._writer.close()
            log.info(
                "sink stopped: %d stored, %d rejected, %d already stored",
                self.stored,
                self.rejected,
                self.already_stored,
                extra=fields(
                    event="stopped",
                    stored=self.stored,
                    rejected=self.rejected,
                    already_stored=self.already_stored,
                ),
            )
        return 0

    def _subscribe(self, granted: types.Subscription, plan_: Plan) -> ReceiveFuture:
        log.info(
            "storing messages from %s in PostgreSQL at %s with %s: batches of up to %d",
            self._path,
            self._config.database.describe(),
            self._config.row_mapper_path,
            self._config.batch_size,
            extra=fields(event="storing", subscription=self._path),
        )
        return subscribe(
            self._subscriber,
            granted,
            self._received,
            flow_control=self._config.flow_control,
            drain_seconds=self._config.drain_seconds + STOP_SECONDS,
            recover=lambda stop: self._provisioner.ensure(plan_)[-1],
        )

    def _wake_on_stop(self) -> None:
        self._stop.wait()
        self._wake.set()

    def _received(self, received: Received) -> None:
        """The receive callback, on the pull thread."""
        entry = held(received, self._path)
        with self._lock:
            self._held.append(entry)
        self._wake.set()

    def _step(self) -> None:
        now = time.monotonic()
        wake_at = now + HEARTBEAT_INTERVAL_SECONDS
        if self._writer.busy:
            wake_at = min(wake_at, now + ANSWER_SECONDS)
        elif self._held or not self._connected:
            wake_at = min(wake_at, self._outage.next_attempt)
        if self._wake.wait(max(wake_at - now, 0.0)):
            self._wake.clear()
        self._attempt()

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
            with self._lock:
                self._batch = list(self._held)
            self._rows = split([entry.message for entry in self._batch], self._config.row_mapper)
            spans = [entry.span for entry in self._batch]
            self._writer.start(self._rows if self._batch else None, spans)
        try:
            written = self._writer.poll()
        except psycopg.Error as exc:
            # Hold what is in hand: flow control pulls nothing more once it is full.
            self._outage.failed(describe_error(exc), f"holding {len(self._held)} messages")
            return False
        if written is None:
            waited = self._writer.waited()
            if waited >= ANSWER_SECONDS and not self._outage.down:
                self._outage.failed(f"no answer for {waited:.0f}s")
            return False
        if not self._connected:
            self._connected = True
            log.info(
                "connected to PostgreSQL at %s",
                self._config.database.describe(),
                extra=fields(event="connected"),
            )
        self._outage.succeeded(f"stored {len(self._batch)} messages")
        counts = report(self._rows, written)
        self.stored += counts["stored"]
        self.rejected += counts["rejected"]
        self.already_stored += counts["already stored"]
        for entry in self._batch:
            entry.received.ack()
        finish(self._batch, "ack")
        with self._lock:
            del self._held[: len(self._batch)]
        self._batch = []
        return True

    def _drain(self, future: ReceiveFuture) -> None:
        """SIGTERM: pull no more; store and ack what is in hand if the database allows
        within the drain budget, else hand it back: another sink stores it (idempotent)."""
        future.cancel()
        if self._held:
            log.info(
                "stopping: %d message(s) in hand; trying to store them for up to %gs",
                len(self._held),
                self._config.drain_seconds,
            )
        deadline = time.monotonic() + self._config.drain_seconds
        while self._held and time.monotonic() < deadline:
            if not self._attempt():
                wake_at = self._outage.next_attempt if not self._writer.busy else 0.0
                self._wake.wait(max(min(wake_at, deadline) - time.monotonic(), 0.05))
                self._wake.clear()
        if self._held:
            finish(self._held, "nack")
            log.warning(
                "handing back %d message(s) not stored: another sink takes them",
                len(self._held),
                extra=fields(event="handed back", count=len(self._held)),
            )
            for entry in self._held:
                entry.received.nack()
        try:
            future.result(STOP_SECONDS)
        except TimeoutError:
            log.warning("receiving still stopping after %gs; leaving", STOP_SECONDS)
