"""The dashboard's Pub/Sub side: its own subscriptions, their messages handed to asyncio.

It never takes a message from the demo's subscribers: it reads three subscriptions of its
own (on the topic, on the receipts topic and on the dead-letter topic), named after the
host plus a random suffix, labelled, expiring after a day without a subscriber (should the
dashboard die without cleaning up) and deleted on shutdown.

It receives as the replicas do (``common.receive``) and recovers the same way: a
subscription Pub/Sub lost (an emulator restarted empty) is provisioned again and the feed
carries on; while one cannot pull, ``not_ready`` says so and ``/healthz`` is red.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from google.pubsub_v1 import types

from common import metrics
from common.health import HEARTBEAT_INTERVAL_SECONDS, MAX_AGE_SECONDS
from common.logs import fields
from common.messages import receipts
from common.outage import ShutdownRequested
from common.provision import Provisioner
from common.pubsub import publisher_client, subscriber_client
from common.receive import FlowControl, Received, ReceiveFuture, subscribe
from common.resources import owned, random_suffix, subscription_id, topic
from dashboard.config import DashboardConfig
from dashboard.grid import Delivery, Grid

log = logging.getLogger(__name__)

# The dashboard acks at once: this only caps what a burst puts in its memory.
FLOW_CONTROL = FlowControl(max_messages=1000, max_bytes=64 * 1024 * 1024)
# What the feeds' receiving may take to stop on the way out (pulls ended, acks flushed).
STOP_SECONDS = 3.0


def declared(config: DashboardConfig, topic_id: str, host: str, suffix: str) -> types.Subscription:
    """One of the dashboard's own subscriptions, ``<topic>-dashboard-<host>-<suffix>``."""
    name = subscription_id(f"{topic_id}-dashboard", host, suffix)
    return owned(config.pubsub, name, topic_id, role="dashboard", host=host)


def delivered(received: Received) -> Delivery:
    """What the grid needs of a message: its ID, data, attributes, publish time."""
    return Delivery(
        received.message_id,
        bytes(received.data),
        dict(received.attributes),
        received.publish_time,
    )


@dataclass
class Feed:
    """One subscription and what is done with each of its messages."""

    subscription: types.Subscription
    handle: Callable[[Delivery], None]
    future: ReceiveFuture | None = None

    def received(self, message: Received) -> None:
        """The receive callback: to the grid, then acked (the dashboard only watches)."""
        self.handle(delivered(message))
        message.ack()


class Feeds:
    """Creates the subscriptions, receives from them into the grid, deletes them at the end.

    The grid is only ever touched through ``apply``, which the caller makes run on the
    event loop's thread (at the next tick: ``dashboard.hub``).
    """

    def __init__(
        self,
        config: DashboardConfig,
        host: str,
        grid: Grid,
        apply: Callable[[Callable[[], object]], None],
        stop: threading.Event,
    ) -> None:
        self._config = config
        self._grid = grid
        self._apply = apply
        self._stop = stop
        self._subscriber = subscriber_client(config.pubsub)
        self._provisioner = Provisioner(publisher_client(config.pubsub), self._subscriber, stop)
        suffix = random_suffix()
        handlers = {
            config.pubsub.topic_id: self._on_message,
            config.receipts_topic_id: self._on_receipt,
            config.dead_letter_topic_id: self._on_dead_letter,
        }
        self._feeds = [
            Feed(declared(config, topic_id, host, suffix), handle)
            for topic_id, handle in handlers.items()
        ]
        self._waiting = "starting"  # why the feeds are not receiving yet, while they wait
        self._last_turn = time.monotonic()

    def run(self) -> None:
        """The feeds' thread: provision and subscribe, then watch until the stop event."""
        try:
            for feed in self._feeds:
                granted = self._provision(feed, self._waited)
                feed.future = subscribe(
                    self._subscriber,
                    granted,
                    feed.received,
                    flow_control=FLOW_CONTROL,
                    recover=functools.partial(self._provision, feed),
                    observer=metrics.consumer(granted.name),
                )
        except ShutdownRequested:
            log.info("stopped before subscribing", extra=fields(event="stopped before subscribing"))
            return
        self._waiting = ""
        while not self._stop.wait(HEARTBEAT_INTERVAL_SECONDS):
            self._last_turn = time.monotonic()

    def _waited(self, reason: str) -> None:
        self._waiting = reason
        self._last_turn = time.monotonic()

    def _provision(
        self, feed: Feed, beat: Callable[[str], None] | None = None
    ) -> types.Subscription:
        """The feed's topic (the dashboard may start first, and every service tolerates a
        topic that exists; the main one retains REPLAY_SECONDS, as the publisher makes it)
        and its own subscription."""
        name = feed.subscription.topic
        retention = self._config.topic_retention if name == self._config.pubsub.topic_path else None
        self._provisioner.ensure_topic(topic(name, retention), beat)
        return self._provisioner.ensure_subscription(feed.subscription, beat)

    def stalled(self) -> str:
        """Why the feeds' thread is not turning, or "": what only a restart mends."""
        stalled = time.monotonic() - self._last_turn
        if stalled > MAX_AGE_SECONDS:
            return f"the feeds' thread has not turned for {stalled:.0f}s"
        return ""

    def not_ready(self) -> str:
        """Why the feeds are not following Pub/Sub now, or "" while they are."""
        if stalled := self.stalled():
            return stalled
        if self._waiting:
            return self._waiting
        futures = [feed.future for feed in self._feeds if feed.future is not None]
        return next((reason for future in futures if (reason := future.not_ready)), "")

    def _on_message(self, delivery: Delivery) -> None:
        log.debug(
            "seen message_id=%s",
            delivery.message_id,
            extra=fields(event="seen", message_id=delivery.message_id),
        )
        self._apply(lambda: self._grid.published(delivery))

    def _on_receipt(self, delivery: Delivery) -> None:
        try:
            receipt = receipts.decode(delivery.data)
        except receipts.InvalidReceipt as exc:
            log.warning(
                "ignored receipt message_id=%s: %s",
                delivery.message_id,
                exc,
                extra=fields(event="receipt ignored", message_id=delivery.message_id),
            )
            return
        log.debug("receipt %s from %s", receipt.kind, receipt.sender.subscription)
        self._apply(lambda: self._grid.receipt(receipt, delivery))

    def _on_dead_letter(self, delivery: Delivery) -> None:
        log.info(
            "dead-lettered message_id=%s",
            delivery.message_id,
            extra=fields(event="dead-lettered", message_id=delivery.message_id),
        )
        self._apply(lambda: self._grid.dead_lettered(delivery))

    def close(self) -> None:
        """Stop receiving and delete the subscriptions, each call with a short deadline."""
        self._stop.set()
        futures = [feed.future for feed in self._feeds if feed.future is not None]
        for future in futures:
            future.cancel()
        # One wait for all three, which stop together: shutdown has a budget
        # (docs/kubernetes.md, grace periods).
        deadline = time.monotonic() + STOP_SECONDS
        for future in futures:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # reported where it ended receiving
                log.debug("feed ended with %s", exc)
            self._provisioner.delete_subscription(future.subscription)
        self._subscriber.close()
