"""A replica's life: create its subscription, receive from it, and clean up on the way out.

Per-replica mode (the default) is described below; shared mode, where the replicas
are workers of one work queue, is in ``subscriber.workqueue``; sink mode, where they
store every message in PostgreSQL, in ``subscriber.sink``.

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

from common.config import PubSubConfig
from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.naming import APP_LABEL, random_suffix, subscription_id, subscription_labels
from common.resources import (
    SUBSCRIPTION_TTL,
    delete_subscription,
    ensure_subscription,
    ensure_topic,
)
from common.retry import ShutdownRequested
from subscriber.config import SubscriberConfig
from subscriber.handler import ChannelHandler
from subscriber.receipts import ReceiptSender
from subscriber.sink import Sink
from subscriber.workqueue import Worker

log = logging.getLogger(__name__)

# Shutdown budget, well inside compose's stop_grace_period: callbacks in flight finish,
# then the delete call gets its own short deadline.
DRAIN_TIMEOUT_SECONDS = 1.5
# The "left" receipt and any receipts still in flight, before the delete.
RECEIPTS_FLUSH_TIMEOUT_SECONDS = 0.3


def dead_letter_policy(config: SubscriberConfig) -> dict[str, Any]:
    return {
        "dead_letter_topic": config.pubsub.topic_path_of(config.dead_letter_topic_id),
        "max_delivery_attempts": config.max_delivery_attempts,
    }


def replica_subscription_request(
    config: SubscriberConfig, subscription_path: str, host: str
) -> dict[str, Any]:
    return {
        "name": subscription_path,
        "topic": config.pubsub.topic_path,
        "labels": subscription_labels(host),
        "expiration_policy": {"ttl": SUBSCRIPTION_TTL},
        "dead_letter_policy": dead_letter_policy(config),
    }


def durable_subscription_request(
    config: SubscriberConfig,
    subscription_path: str,
    *,
    role: str,
    ack_deadline_seconds: int,
    dead_letter: bool,
) -> dict[str, Any]:
    # It belongs to the pool of replicas, not to one of them: no replica deletes it, and
    # it never expires, so messages wait in it while no replica runs.
    request: dict[str, Any] = {
        "name": subscription_path,
        "topic": config.pubsub.topic_path,
        "labels": {"app": APP_LABEL, "role": role},
        "ack_deadline_seconds": ack_deadline_seconds,
        "expiration_policy": {},
    }
    if dead_letter:
        request["dead_letter_policy"] = dead_letter_policy(config)
    return request


def shared_subscription_request(config: SubscriberConfig, subscription_path: str) -> dict[str, Any]:
    assert config.work_queue is not None
    return durable_subscription_request(
        config,
        subscription_path,
        role="work-queue",
        ack_deadline_seconds=config.work_queue.ack_deadline_seconds,
        dead_letter=True,
    )


def sink_subscription_request(config: SubscriberConfig, subscription_path: str) -> dict[str, Any]:
    # No dead-letter policy: the sink never nacks, and stores what it cannot parse in
    # its rejects table and acks it, so delivery attempts grow only when leases lapse (a
    # sink killed, or stalled past its lease). A dead-letter policy would then move good
    # readings out of the database's way for good after a long outage with restarting
    # sinks; without one they wait in the subscription (up to its 7-day retention).
    assert config.sink is not None
    return durable_subscription_request(
        config,
        subscription_path,
        role="sink",
        ack_deadline_seconds=config.sink.ack_deadline_seconds,
        dead_letter=False,
    )


def dead_letter_subscription_request(
    pubsub: PubSubConfig, dead_letter_topic_id: str
) -> dict[str, Any]:
    # Shared by all replicas and durable on purpose: it holds rejected messages until
    # someone looks at them, so it never expires and no replica deletes it.
    return {
        "name": pubsub.subscription_path(dead_letter_topic_id),
        "topic": pubsub.topic_path_of(dead_letter_topic_id),
        "labels": {"app": APP_LABEL, "role": "dead-letter"},
        "expiration_policy": {},  # no TTL: never expires
    }


def run(config: SubscriberConfig, stop: threading.Event, host: str) -> int:
    """Receive until ``stop`` is set or the subscription fails; return the exit status."""
    pubsub = config.pubsub
    if config.work_queue is not None:
        path = pubsub.subscription_path(config.work_queue.subscription_id)
        request = shared_subscription_request(config, path)
    elif config.sink is not None:
        path = pubsub.subscription_path(config.sink.subscription_id)
        request = sink_subscription_request(config, path)
    else:
        path = pubsub.subscription_path(subscription_id(pubsub.topic_id, host, random_suffix()))
        request = replica_subscription_request(config, path, host)
    with pubsub_v1.SubscriberClient() as subscriber:
        try:
            # Admin calls on topics live on the publisher client.
            topics = pubsub_v1.PublisherClient()
            if "dead_letter_policy" in request:
                ensure_topic(
                    topics, pubsub.topic_path_of(config.dead_letter_topic_id), stop=stop, logger=log
                )
                ensure_subscription(
                    subscriber,
                    dead_letter_subscription_request(pubsub, config.dead_letter_topic_id),
                    stop=stop,
                    logger=log,
                )
            if config.work_queue is not None or config.sink is not None:
                # A work queue or a sink is provisioned by its replicas, so that messages
                # published before any replica has run wait in it rather than go nowhere.
                ensure_topic(topics, pubsub.topic_path, stop=stop, logger=log)
            if config.receipts_topic_id is not None:
                ensure_topic(
                    topics, pubsub.topic_path_of(config.receipts_topic_id), stop=stop, logger=log
                )
            ensure_subscription(subscriber, request, stop=stop, logger=log, wait_for_topic=True)
        except ShutdownRequested:
            log.info("stopped before subscribing")
            return 0
        if config.work_queue is not None:
            return Worker(subscriber, path, config, stop).run()
        if config.sink is not None:
            return Sink(subscriber, path, config, stop).run()
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
    config: SubscriberConfig,
    path: str,
    stop: threading.Event,
    heartbeat: Heartbeat,
    *,
    receipts: ReceiptSender | None,
) -> int:
    handler = ChannelHandler(
        config.max_delivery_attempts, receipts.handled if receipts is not None else None
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
