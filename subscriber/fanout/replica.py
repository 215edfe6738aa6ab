"""A fan-out replica's life: create its subscription, receive from it, clean up on exit.

Each replica owns one subscription, so Pub/Sub delivers every message to every replica
(fan-out). Deleting it on shutdown leaves nothing behind; a replica that dies without
cleaning up (SIGKILL, a lost host) leaves a subscription that expires after a day
without subscribers, the shortest expiration Pub/Sub allows.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Any

from google.cloud import pubsub_v1

from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.pubsub import delete_subscription, ensure_subscription, ensure_topic
from common.retry import ShutdownRequested
from common.subscriptions import owned_request, random_suffix, subscription_id
from subscriber import dead_letter
from subscriber.fanout.config import FanoutConfig
from subscriber.fanout.handler import ChannelHandler
from subscriber.fanout.receipts import ReceiptSender

log = logging.getLogger(__name__)

# Shutdown budget, well inside compose's stop_grace_period: callbacks in flight finish,
# then the delete call gets its own short deadline.
DRAIN_TIMEOUT_SECONDS = 1.5
# The "left" receipt and any receipts still in flight, before the delete.
RECEIPTS_FLUSH_TIMEOUT_SECONDS = 0.3


def subscription_request(config: FanoutConfig, host: str, suffix: str) -> dict[str, Any]:
    """The replica's own subscription: ``<topic>-<host>-<suffix>``, owned by this process."""
    pubsub = config.pubsub
    request = owned_request(
        pubsub,
        subscription_id(pubsub.topic_id, host, suffix),
        pubsub.topic_id,
        role="fanout-subscriber",
        host=host,
    )
    request["dead_letter_policy"] = dead_letter.policy(pubsub, config.dead_letter)
    return request


def run(config: FanoutConfig, stop: threading.Event, host: str) -> int:
    """Receive until ``stop`` is set or the subscription fails; return the exit status."""
    pubsub = config.pubsub
    request = subscription_request(config, host, random_suffix())
    path: str = request["name"]
    with pubsub_v1.SubscriberClient() as subscriber:
        # Admin calls on topics live on the publisher client.
        topics = pubsub_v1.PublisherClient()
        try:
            dead_letter.ensure(
                pubsub,
                config.dead_letter,
                topics=topics,
                subscriber=subscriber,
                stop=stop,
                logger=log,
            )
            if config.receipts_topic_id is not None:
                ensure_topic(
                    topics, pubsub.topic_path_of(config.receipts_topic_id), stop=stop, logger=log
                )
            ensure_subscription(subscriber, request, stop=stop, logger=log, wait_for_topic=True)
        except ShutdownRequested:
            log.info("stopped before subscribing")
            return 0
        receipts = None
        if config.receipts_topic_id is not None:
            receipts = ReceiptSender(
                topics,
                pubsub.topic_path_of(config.receipts_topic_id),
                replica=host,
                subscription=path,
            )
        heartbeat = Heartbeat()
        try:
            return _receive(subscriber, config, path, stop, heartbeat, receipts=receipts)
        finally:
            heartbeat.clear()
            if receipts is not None:
                # Before the delete, so the live view hears it while the replica still exists.
                receipts.lifecycle("left")
                receipts.flush(RECEIPTS_FLUSH_TIMEOUT_SECONDS)
            delete_subscription(subscriber, path, logger=log)


def _receive(
    subscriber: pubsub_v1.SubscriberClient,
    config: FanoutConfig,
    path: str,
    stop: threading.Event,
    heartbeat: Heartbeat,
    *,
    receipts: ReceiptSender | None,
) -> int:
    handler = ChannelHandler(
        config.dead_letter.max_delivery_attempts, receipts.handled if receipts is not None else None
    )
    stream = subscriber.subscribe(
        path,
        callback=handler,
        flow_control=pubsub_v1.types.FlowControl(max_messages=config.max_outstanding_messages),
        # On cancel, wait for callbacks in flight: a message in hand gets acked.
        await_callbacks_on_shutdown=True,
    )
    log.info("listening on %s", path)
    if receipts is not None:
        receipts.lifecycle("joined")
    heartbeat.beat()
    while not stop.wait(HEARTBEAT_INTERVAL_SECONDS):
        if stream.done():
            break
        heartbeat.beat()

    status = 0
    if stream.done() and not stop.is_set():
        # The client already retried what can be retried; what ends the stream is final
        # (the subscription was deleted, permission was revoked...).
        log.error("stream on %s ended: %s", path, stream.exception())
        status = 1
    stream.cancel()  # stop pulling; messages received but not yet handed out are nacked
    try:
        stream.result(timeout=DRAIN_TIMEOUT_SECONDS)
    except futures.TimeoutError:
        log.warning("callbacks still running after %.1fs; leaving them", DRAIN_TIMEOUT_SECONDS)
    except Exception:  # the stream's own failure, logged when it ended the stream
        pass
    log.info("stopped receiving: %d handled, %d rejected", handler.handled, handler.rejected)
    return status
