"""The dashboard's Pub/Sub side: its own subscriptions, and their messages handed to asyncio.

It never takes a message from the demo's subscribers: it reads three subscriptions of its
own (on the topic, on the receipts topic and on the dead-letter topic), named after the
host plus a random suffix, labelled, expiring after a day without a subscriber (should the
dashboard die without cleaning up) and deleted on shutdown. StreamingPull suits them: each
lives exactly as long as the dashboard.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.message import Message

from common.messages import receipts
from common.pubsub import delete_subscription, ensure_subscription, ensure_topic
from common.retry import ShutdownRequested
from common.subscriptions import owned_request, random_suffix, subscription_id
from dashboard.config import DashboardConfig
from dashboard.grid import Delivery, Grid

log = logging.getLogger(__name__)

CANCEL_TIMEOUT_SECONDS = 1.0
# What the dashboard holds unacknowledged: it acks at once, so this is only a safety cap.
MAX_OUTSTANDING = 1000
FEEDS = ("messages", "receipts", "dead-letter")


def dashboard_subscription_request(
    config: DashboardConfig, topic_id: str, host: str, suffix: str
) -> dict[str, Any]:
    """One of the dashboard's own subscriptions, ``<topic>-dashboard-<host>-<suffix>``."""
    name = subscription_id(f"{topic_id}-dashboard", host, suffix)
    return owned_request(config.pubsub, name, topic_id, role="dashboard", host=host)


def delivered(message: Message) -> Delivery:
    """What the grid needs of a message: its ID, data, attributes and publish time."""
    return Delivery(
        message.message_id, message.data, dict(message.attributes), message.publish_time
    )


class Feeds:
    """Creates the subscriptions, streams from them into the grid, deletes them at the end.

    The grid is only ever touched through ``apply``, which the caller makes run on the
    event loop's thread (``loop.call_soon_threadsafe``).
    """

    def __init__(
        self,
        config: DashboardConfig,
        host: str,
        grid: Grid,
        apply: Callable[[Callable[[], object]], None],
    ) -> None:
        self._config = config
        self._grid = grid
        self._apply = apply
        suffix = random_suffix()
        topics = {
            "messages": config.pubsub.topic_id,
            "receipts": config.receipts_topic_id,
            "dead-letter": config.dead_letter_topic_id,
        }
        self._requests = {
            feed: dashboard_subscription_request(config, topic, host, suffix)
            for feed, topic in topics.items()
        }
        self._subscriber = pubsub_v1.SubscriberClient()
        self._streams: list[pubsub_v1.subscriber.futures.StreamingPullFuture] = []
        self._created: list[str] = []
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Provision and start streaming; returns once listening (or stopped)."""
        topics = pubsub_v1.PublisherClient()
        try:
            # The dashboard may start first: make the topics so its subscriptions exist
            # before the first message (every service tolerates a topic that exists).
            for request in self._requests.values():
                ensure_topic(topics, request["topic"], stop=stop, logger=log)
            for request in self._requests.values():
                ensure_subscription(self._subscriber, request, stop=stop, logger=log)
                self._created.append(request["name"])
        except ShutdownRequested:
            log.info("stopped before subscribing")
            return
        callbacks = {
            "messages": self._on_message,
            "receipts": self._on_receipt,
            "dead-letter": self._on_dead_letter,
        }
        for feed, request in self._requests.items():
            self._streams.append(
                self._subscriber.subscribe(
                    request["name"],
                    callback=callbacks[feed],
                    flow_control=pubsub_v1.types.FlowControl(max_messages=MAX_OUTSTANDING),
                )
            )
            log.info("listening on %s", request["name"])
        self.ready.set()

    def healthy(self) -> bool:
        return self.ready.is_set() and not any(stream.done() for stream in self._streams)

    def _on_message(self, message: Message) -> None:
        message.ack()  # the dashboard only watches; nothing to retry
        delivery = delivered(message)
        log.debug("published message_id=%s", delivery.message_id)
        self._apply(lambda: self._grid.published(delivery))

    def _on_receipt(self, message: Message) -> None:
        message.ack()
        try:
            receipt = receipts.decode(message.data)
        except receipts.InvalidReceipt as exc:
            log.warning("ignored receipt message_id=%s: %s", message.message_id, exc)
            return
        receipt_id = message.message_id
        log.debug("receipt %s from %s", receipt.kind, receipt.sender.subscription)
        self._apply(lambda: self._grid.receipt(receipt, receipt_id))

    def _on_dead_letter(self, message: Message) -> None:
        message.ack()
        log.info("dead-lettered message_id=%s", message.message_id)
        delivery = delivered(message)
        self._apply(lambda: self._grid.dead_lettered(delivery))

    def close(self) -> None:
        """Stop streaming and delete the subscriptions, each call with a short deadline."""
        for stream in self._streams:
            stream.cancel()
        for stream in self._streams:
            # A stream's own failure was logged by the client; a slow one is left behind.
            with contextlib.suppress(Exception):
                stream.result(timeout=CANCEL_TIMEOUT_SECONDS)
        for name in self._created:
            delete_subscription(self._subscriber, name, logger=log)
        self._subscriber.close()
