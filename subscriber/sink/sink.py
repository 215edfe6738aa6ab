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
(``common.outage``), reconnecting each time. Every write is idempotent (keyed by the
message ID), so a message that does come back (a lapsed lease, a sink killed after its
commit but before its ack) adds no second row.

Threads: the pull thread hands each message to ``storing``; the main thread writes
(through ``writer``'s thread), acks and beats the heartbeat, which it keeps doing while
the database is down: the sink is alive and holding the data, which is its job.
"""

from __future__ import annotations

import logging
import threading
import time

from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.logs import fields
from common.outage import ShutdownRequested
from common.provision import Provisioner
from common.pubsub import publisher_client, subscriber_client
from common.receive import ReceiveFuture, subscribe
from common.resources import Plan, durable, topic
from subscriber.sink.config import SinkConfig
from subscriber.sink.storing import Storing

log = logging.getLogger(__name__)

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
        self._path = config.pubsub.subscription_path(config.subscription_id)
        self._config = config
        self._stop = stop
        self._wake = threading.Event()
        self._storing = Storing(config, self._path, self._wake)

    def run(self) -> int:
        heartbeat = Heartbeat()
        plan_ = plan(self._config)
        try:
            granted = self._provisioner.ensure(plan_, lambda why: heartbeat.beat(not_ready=why))
        except ShutdownRequested:
            log.info("stopped before subscribing", extra=fields(event="stopped before subscribing"))
            return 0
        storing = self._storing
        future: ReceiveFuture | None = None
        threading.Thread(target=self._wake_on_stop, name="wake-on-stop", daemon=True).start()
        try:
            while not self._stop.is_set() and not (future is not None and future.done()):
                now = time.monotonic()
                wake_at = min(now + HEARTBEAT_INTERVAL_SECONDS, storing.wake_at(now))
                if self._wake.wait(max(wake_at - now, 0.0)):
                    self._wake.clear()
                storing.attempt()
                if future is None and storing.connected:
                    # Nothing is pulled before the database is reachable and migrated.
                    future = self._subscribe(granted[-1], plan_)
                not_ready = future.not_ready if future is not None else ""
                heartbeat.beat(not_ready=not_ready or storing.not_ready())
            if future is not None:
                self._drain(future)
        finally:
            heartbeat.clear()
            storing.close()
            log.info(
                "sink stopped: %d stored, %d rejected, %d already stored",
                storing.stored,
                storing.rejected,
                storing.already_stored,
                extra=fields(
                    event="stopped",
                    stored=storing.stored,
                    rejected=storing.rejected,
                    already_stored=storing.already_stored,
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
            self._storing.add,
            flow_control=self._config.flow_control,
            drain_seconds=self._config.drain_seconds + STOP_SECONDS,
            recover=lambda: self._provisioner.ensure(plan_)[-1],
            observer=self._storing.metrics,
        )

    def _wake_on_stop(self) -> None:
        self._stop.wait()
        self._wake.set()

    def _drain(self, future: ReceiveFuture) -> None:
        """SIGTERM: pull no more; store and ack what is in hand if the database allows
        within the drain budget, else hand it back: another sink stores it (idempotent)."""
        future.cancel()
        storing = self._storing
        if storing.held:
            log.info(
                "stopping: %d message(s) in hand; trying to store them for up to %gs",
                len(storing.held),
                self._config.drain_seconds,
            )
        deadline = time.monotonic() + self._config.drain_seconds
        while storing.held and time.monotonic() < deadline:
            if not storing.attempt():
                wake_at = min(storing.next_try(), deadline)
                self._wake.wait(max(wake_at - time.monotonic(), 0.05))
                self._wake.clear()
        storing.hand_back()
        try:
            future.result(STOP_SECONDS)
        except TimeoutError:
            log.warning("receiving still stopping after %gs; leaving", STOP_SECONDS)
