"""Sink mode: store every message in PostgreSQL, and ack it only once that is committed.

Replicas share one durable subscription (``<topic>-sink``) and pull with unary Pull
(``subscriber.puller``; why not StreamingPull: see ``subscriber.workqueue``). Each
batch in hand becomes rows (``subscriber.rows``): readings, and rejects for messages
that are not readings; both go in one transaction (``subscriber.store``), and the whole
batch is acked after the commit. A bad message is stored as a reject and acked, so it
is never retried forever and never holds up the good ones.

While the database is unavailable the sink never nacks: a nack counts a delivery
attempt and hands the message straight back, to be pulled again and fail again. It
keeps the batch in hand instead, renews its leases, pulls nothing more, and retries with
capped exponential backoff, reconnecting each time. Every write is idempotent (keyed by
the message ID), so a message that does come back (a lapsed lease, a sink killed after
its commit but before its ack) adds no second row.

Threads: the puller thread only pulls; the main thread writes, acks, renews leases and
beats the heartbeat, which it keeps doing while the database is down: the sink is alive
and holding the data, which is its job.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.health import HEARTBEAT_INTERVAL_SECONDS
from common.retry import backoff_delays
from subscriber.config import SubscriberConfig
from subscriber.puller import (
    PULL_TIMEOUT_SECONDS,
    RPC_TIMEOUT_SECONDS,
    Puller,
    run_until_stopped,
    set_lease,
)
from subscriber.rows import Incoming, Rows, split
from subscriber.store import Store, Written, describe_error

log = logging.getLogger(__name__)

# While the database stays down, one reminder line this often rather than one per retry.
REMINDER_SECONDS = 60.0


@dataclass(frozen=True)
class Held:
    """A message in hand: pulled and leased, not yet stored."""

    ack_id: str
    message: Incoming


class Sink:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        path: str,
        config: SubscriberConfig,
        stop: threading.Event,
    ) -> None:
        assert config.sink is not None
        self._subscriber = subscriber
        self._path = path
        self._settings = config.sink
        self._stop = stop
        self._store = Store(self._settings.database)
        # One permit per message in hand: a batch never outgrows batch_size.
        self._permits = threading.Semaphore(self._settings.batch_size)
        self._puller = Puller(
            subscriber, path, self._settings.ack_deadline_seconds, self._permits, stop
        )
        # Nothing is pulled before the database is reachable and its schema up to date.
        self._puller.paused.set()
        self._held: list[Held] = []
        self._connected = False
        # Since when the database has been unavailable (monotonic); None while it is up.
        self._down_since: float | None = None
        self._next_reminder = math.inf
        self._delays = backoff_delays(maximum=self._settings.retry_max_seconds)
        self._next_attempt = 0.0
        # Renew a third of the way into a lease: two chances more before it lapses.
        self._renew_every = self._settings.ack_deadline_seconds / 3
        self._next_renewal = time.monotonic() + self._renew_every
        self.stored = 0
        self.rejected = 0
        self.already_stored = 0

    def run(self) -> int:
        log.info(
            "storing messages from %s in PostgreSQL at %s: batches of up to %d, lease %ds",
            self._path,
            self._settings.database.describe(),
            self._settings.batch_size,
            self._settings.ack_deadline_seconds,
        )
        try:
            return run_until_stopped(
                self._puller, self._path, self._stop, step=self._step, drain=self._drain
            )
        finally:
            self._store.close()
            log.info(
                "sink stopped: %d stored, %d rejected, %d already stored; %d left unacked",
                self.stored,
                self.rejected,
                self.already_stored,
                len(self._held),
            )

    def _step(self) -> None:
        now = time.monotonic()
        wake_at = self._next_renewal
        if self._held or not self._connected:
            wake_at = min(wake_at, self._next_attempt)
        timeout = min(max(wake_at - now, 0.0), HEARTBEAT_INTERVAL_SECONDS)
        if self._puller.wake_reader.poll(timeout):
            while self._puller.wake_reader.poll():
                self._puller.wake_reader.recv_bytes()
        self._take_received()
        if (self._held or not self._connected) and time.monotonic() >= self._next_attempt:
            self._attempt()
        if time.monotonic() >= self._next_renewal:
            self._renew_leases()

    def _take_received(self) -> None:
        while not self._puller.inbox.empty():
            received = self._puller.inbox.get_nowait()
            message = received.message
            incoming = Incoming(
                message_id=message.message_id,
                data=bytes(message.data),
                attributes=dict(message.attributes),
                publish_time=message.publish_time,
                received_at=datetime.now(UTC),
            )
            log.debug("pulled message_id=%s", incoming.message_id)
            self._held.append(Held(received.ack_id, incoming))

    def _attempt(self) -> bool:
        """Store what is in hand (or just connect); True once committed and acked."""
        batch = list(self._held)
        rows = split([held.message for held in batch])
        try:
            if batch:
                written = self._store.write(rows)
            else:
                self._store.connect()
                written = Written()
        except psycopg.Error as exc:
            self._store.close()
            self._unavailable(exc)
            return False
        self._available(len(batch))
        self._report(rows, written)
        self._acknowledge(batch)
        return True

    def _unavailable(self, exc: psycopg.Error) -> None:
        now = time.monotonic()
        delay = next(self._delays)
        self._next_attempt = now + delay
        # Hold what is in hand; take nothing more until the database is back.
        self._puller.paused.set()
        if self._down_since is None:
            self._down_since = now
            self._next_reminder = now + REMINDER_SECONDS
            log.warning(
                "database unavailable (%s); holding %d messages, retrying in %.1fs",
                describe_error(exc),
                len(self._held),
                delay,
            )
            return
        if now >= self._next_reminder:
            self._next_reminder = now + REMINDER_SECONDS
            log.warning(
                "database still unavailable after %.0fs (%s); holding %d messages",
                now - self._down_since,
                describe_error(exc),
                len(self._held),
            )
        else:
            log.debug("database still unavailable (%s); retrying in %.1fs", exc, delay)

    def _available(self, stored: int) -> None:
        if not self._connected:
            self._connected = True
            log.info("connected to PostgreSQL at %s", self._settings.database.describe())
        if self._down_since is not None:
            log.info(
                "database back after %.1fs; stored %d messages",
                time.monotonic() - self._down_since,
                stored,
            )
            self._down_since = None
            self._next_reminder = math.inf
        self._delays = backoff_delays(maximum=self._settings.retry_max_seconds)
        self._next_attempt = 0.0
        self._puller.paused.clear()

    def _report(self, rows: Rows, written: Written) -> None:
        """One line per message, after the commit: where it went."""
        refused = {reject.message.message_id: reject for reject in written.refused}
        for row in rows.readings:
            message_id = row.message.message_id
            if message_id in written.readings:
                self.stored += 1
                log.info(
                    "stored message_id=%s %s measured_at=%s",
                    message_id,
                    row.reading.describe(),
                    row.reading.measured_at.isoformat(),
                )
            elif message_id in refused:
                self.rejected += 1
                log.warning(
                    "rejected message_id=%s: %s; kept in table rejects",
                    message_id,
                    refused[message_id].reason,
                )
            else:
                self.already_stored += 1
                log.info("message_id=%s was already stored (a redelivery)", message_id)
        for reject in rows.rejects:
            message_id = reject.message.message_id
            if message_id in written.rejects:
                self.rejected += 1
                log.warning(
                    "rejected message_id=%s: %s; kept in table rejects", message_id, reject.reason
                )
            else:
                self.already_stored += 1
                log.info("message_id=%s was already in rejects (a redelivery)", message_id)

    def _acknowledge(self, batch: list[Held]) -> None:
        if not batch:
            return
        try:
            self._subscriber.acknowledge(
                subscription=self._path,
                ack_ids=[held.ack_id for held in batch],
                timeout=RPC_TIMEOUT_SECONDS,
            )
        except exceptions.GoogleAPICallError as exc:
            # Committed but not acked: they come back and meet their own rows.
            log.warning(
                "ack of %d stored message(s) failed (%s); they will come back as redeliveries",
                len(batch),
                exc,
            )
        del self._held[: len(batch)]
        for _ in batch:
            self._permits.release()

    def _renew_leases(self) -> None:
        self._next_renewal = time.monotonic() + self._renew_every
        if not self._held:
            return
        seconds = self._settings.ack_deadline_seconds
        set_lease(self._subscriber, self._path, [held.ack_id for held in self._held], seconds)
        log.debug("lease of %d held message(s) extended by %ds", len(self._held), seconds)

    def _drain(self) -> None:
        """SIGTERM: pull no more; store and ack what is in hand if the database allows
        within the drain budget, else leave it unacked: Pub/Sub redelivers it when its
        lease lapses, and storing it again is idempotent."""
        self._puller.join(PULL_TIMEOUT_SECONDS + 1)  # the puller nacks a late pull itself
        self._take_received()
        if not self._held:
            return
        deadline = time.monotonic() + self._settings.drain_seconds
        log.info(
            "stopping: %d message(s) in hand; trying to store them for up to %gs",
            len(self._held),
            self._settings.drain_seconds,
        )
        while self._held and time.monotonic() < deadline:
            if self._attempt():
                return
            time.sleep(max(min(self._next_attempt, deadline) - time.monotonic(), 0.0))
        log.warning(
            "leaving %d message(s) unacked: Pub/Sub redelivers them when their lease lapses",
            len(self._held),
        )
