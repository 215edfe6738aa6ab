"""The dashboard's Pub/Sub side: its own subscriptions, their messages handed to asyncio.

It never takes a message from the demo's subscribers: it reads three subscriptions of its
own (on the topic, on the receipts topic and on the dead-letter topic), named after the
host plus a random suffix, labelled, expiring after a day without a subscriber (should the
dashboard die without cleaning up) and deleted on shutdown.

It pulls them as the replicas do (``common.unary_pull``), in one thread, and
recovers the same way: a subscription Pub/Sub lost (an emulator restarted empty) is
created again and the feed carries on; while one cannot pull, ``not_ready`` says so and
``/healthz`` is red.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from google.pubsub_v1.types import ReceivedMessage

from common.health import HEARTBEAT_INTERVAL_SECONDS, MAX_AGE_SECONDS
from common.messages import receipts
from common.pubsub import (
    delete_subscription,
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from common.retry import ShutdownRequested
from common.subscriptions import owned_request, random_suffix, subscription_id
from common.unary_pull.leaser import Leaser
from common.unary_pull.puller import Puller
from dashboard.config import DashboardConfig
from dashboard.grid import Delivery, Grid

log = logging.getLogger(__name__)

# What the dashboard holds unacknowledged: it acks at once, so this is only a safety cap.
MAX_OUTSTANDING = 1000
LEASE_SECONDS = 30


def dashboard_subscription_request(
    config: DashboardConfig, topic_id: str, host: str, suffix: str
) -> dict[str, Any]:
    """One of the dashboard's own subscriptions, ``<topic>-dashboard-<host>-<suffix>``."""
    name = subscription_id(f"{topic_id}-dashboard", host, suffix)
    return owned_request(config.pubsub, name, topic_id, role="dashboard", host=host)


def delivered(received: ReceivedMessage) -> Delivery:
    """What the grid needs of a pulled message: its ID, data, attributes, publish time."""
    message = received.message
    return Delivery(
        message.message_id, message.data, dict(message.attributes), message.publish_time
    )


@dataclass
class Feed:
    """One subscription: what it is, how it is pulled, what is done with a message."""

    request: dict[str, Any]
    leaser: Leaser
    puller: Puller
    handle: Callable[[ReceivedMessage], None]


class Feeds:
    """Creates the subscriptions, pulls from them into the grid, deletes them at the end.

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
        self._topics = publisher_client(config.pubsub)
        suffix = random_suffix()
        handlers = {
            config.pubsub.topic_id: self._on_message,
            config.receipts_topic_id: self._on_receipt,
            config.dead_letter_topic_id: self._on_dead_letter,
        }
        self._feeds = [
            self._feed(topic, host, suffix, handle) for topic, handle in handlers.items()
        ]
        self._created: list[str] = []
        self._waiting = "starting"  # why the feeds are not pulling yet, while they wait
        self._last_turn = time.monotonic()
        self.ready = threading.Event()

    def _feed(
        self, topic: str, host: str, suffix: str, handle: Callable[[ReceivedMessage], None]
    ) -> Feed:
        request = dashboard_subscription_request(self._config, topic, host, suffix)
        leaser = Leaser(
            self._subscriber, request["name"], lease_seconds=LEASE_SECONDS, capacity=MAX_OUTSTANDING
        )
        puller = Puller(self._subscriber, request["name"], leaser, self._stop)
        return Feed(request, leaser, puller, handle)

    def run(self) -> None:
        """The feeds' thread: provision, then pull until the stop event is set."""
        try:
            for feed in self._feeds:
                self._provision(feed)
        except ShutdownRequested:
            log.info("stopped before subscribing")
            return
        for feed in self._feeds:
            feed.puller.start()
            log.info("listening on %s", feed.request["name"])
        self._waiting = ""
        self.ready.set()
        try:
            while not self._stop.is_set():
                self._turn()
        except ShutdownRequested:
            log.info("stopped while waiting for Pub/Sub")

    def _turn(self) -> None:
        self._last_turn = time.monotonic()
        wait([feed.puller.wake_reader for feed in self._feeds], HEARTBEAT_INTERVAL_SECONDS)
        for feed in self._feeds:
            if feed.puller.gone.is_set():
                log.warning("subscription %s is gone; creating it again", feed.request["name"])
                self._provision(feed)
                feed.puller.gone.clear()
                self._waiting = ""
            received = feed.puller.take()
            for message in received:
                feed.handle(message)
            # The dashboard only watches: nothing to retry, so everything is acked at once.
            feed.leaser.ack([message.ack_id for message in received])
            feed.leaser.renew_if_due()

    def _provision(self, feed: Feed) -> None:
        """The feed's topic (the dashboard may start first, and every service tolerates a
        topic that exists) and its own subscription."""

        def beat(reason: str) -> None:
            self._waiting = reason
            self._last_turn = time.monotonic()

        kwargs: dict[str, Any] = {"stop": self._stop, "logger": log, "beat": beat}
        ensure_topic(self._topics, feed.request["topic"], **kwargs)
        ensure_subscription(self._subscriber, feed.request, **kwargs)
        if feed.request["name"] not in self._created:
            self._created.append(feed.request["name"])

    def stalled(self) -> str:
        """Why the feeds' loop is not turning, or "": what only a restart mends."""
        stalled = time.monotonic() - self._last_turn
        return (
            f"the feeds' loop has not turned for {stalled:.0f}s"
            if stalled > MAX_AGE_SECONDS
            else ""
        )

    def not_ready(self) -> str:
        """Why the feeds are not following Pub/Sub now, or "" while they are."""
        if stalled := self.stalled():
            return stalled
        if self._waiting:
            return self._waiting
        return next((r for feed in self._feeds if (r := feed.puller.not_ready())), "")

    def healthy(self) -> bool:
        return not self.not_ready()

    def _on_message(self, message: ReceivedMessage) -> None:
        delivery = delivered(message)
        log.debug("published message_id=%s", delivery.message_id)
        self._apply(lambda: self._grid.published(delivery))

    def _on_receipt(self, message: ReceivedMessage) -> None:
        delivery = delivered(message)
        try:
            receipt = receipts.decode(delivery.data)
        except receipts.InvalidReceipt as exc:
            log.warning("ignored receipt message_id=%s: %s", delivery.message_id, exc)
            return
        log.debug("receipt %s from %s", receipt.kind, receipt.sender.subscription)
        self._apply(lambda: self._grid.receipt(receipt, delivery))

    def _on_dead_letter(self, message: ReceivedMessage) -> None:
        delivery = delivered(message)
        log.info("dead-lettered message_id=%s", delivery.message_id)
        self._apply(lambda: self._grid.dead_lettered(delivery))

    def close(self) -> None:
        """Stop pulling and delete the subscriptions, each call with a short deadline."""
        self._stop.set()
        for name in self._created:
            delete_subscription(self._subscriber, name, logger=log)
        self._subscriber.close()
