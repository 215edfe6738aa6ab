"""A fan-out replica's life: its own subscription, received from until SIGTERM, then deleted.

Each replica owns one subscription, ``<topic>-<replica id>``, so Pub/Sub delivers every
message to every replica (fan-out). Its name outlives the process: a replica killed
without SIGTERM (an OOM kill, a lost node) and restarted in place resumes it, and receives
what was published meanwhile (``identity`` keeps two live processes off one name). A
clean stop deletes it; a replica that never comes back leaves it to expire after a day
without subscribers, the shortest expiration Pub/Sub allows.

Unary Pull, like the work queue and the sink, not StreamingPull: on the emulator a killed
StreamingPull consumer keeps a resumed subscription's messages (measured, SIGKILL then a
restart on the same subscription, 5 trials each: streaming before and after received 11
to 19 of the 30 messages published while it was down, the rest held for 60 s; unary Pull
received 30 of 30 within 2 s; docs/operations.md).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from google.cloud import pubsub_v1

from common import logs
from common.health import HEARTBEAT_INTERVAL_SECONDS, Beat
from common.pubsub import (
    delete_subscription,
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from common.service import EXIT_CONFIG_ERROR
from common.subscriptions import owned_request, replica_subscription_id
from common.unary_pull.leaser import Leaser
from common.unary_pull.loop import Consumer, run_until_stopped
from common.unary_pull.puller import Puller
from subscriber import dead_letter
from subscriber.fanout.config import FanoutConfig
from subscriber.fanout.dispatcher import Dispatcher
from subscriber.fanout.identity import Claim, IdentityTaken
from subscriber.fanout.receipts import ReceiptSender

log = logging.getLogger(__name__)

# Shutdown budget, well inside compose's stop_grace_period: handlers in flight finish,
# then the receipts and the delete call get their own short deadlines.
DRAIN_TIMEOUT_SECONDS = 1.5
RECEIPTS_FLUSH_TIMEOUT_SECONDS = 0.3
# How long a replica holds a message it pulled, renewed a third of the way in: a
# replica killed while handling one hands it back to its restarted self this soon.
LEASE_SECONDS = 10
# The pull threads end this soon once their channel is closed.
PULLERS_STOP_SECONDS = 0.5
# While handlers run, acks go out this often, each call carrying every message handled
# since the last: fewer calls than one per pull (each costs about 300 µs of CPU, measured
# on the emulator), and still well inside the lease.
SETTLE_SECONDS = 0.05


def subscription_request(config: FanoutConfig) -> dict[str, Any]:
    """The replica's own subscription: ``<topic>-<replica id>``, with a dead-letter policy."""
    pubsub = config.pubsub
    request = owned_request(
        pubsub,
        replica_subscription_id(pubsub.topic_id, config.replica_id),
        pubsub.topic_id,
        role="fanout-subscriber",
        host=config.replica_id,
    )
    request["dead_letter_policy"] = dead_letter.policy(pubsub, config.dead_letter)
    # Each delivery comes with the replica's whole lease, so the leaser need not take it.
    request["ack_deadline_seconds"] = LEASE_SECONDS
    return request


def run(config: FanoutConfig, stop: threading.Event) -> int:
    """Receive until ``stop`` is set or Pub/Sub refuses for good; the exit status."""
    subscriber = subscriber_client(config.pubsub)
    # Admin calls on topics, and the receipts, go through the publisher client.
    topics = publisher_client(config.pubsub)
    replica = Replica(subscriber, topics, config, stop)
    try:
        return replica.run()
    finally:
        # Closing the channel cuts short the pulls still waiting for messages (each waits
        # up to PULL_TIMEOUT_SECONDS): the subscription is gone, nothing is left to pull.
        subscriber.close()
        replica.stop_pulling()


class Replica:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        topics: pubsub_v1.PublisherClient,
        config: FanoutConfig,
        stop: threading.Event,
    ) -> None:
        self._subscriber = subscriber
        self._topics = topics
        self._config = config
        self._stop = stop
        self._request = subscription_request(config)
        self.path: str = self._request["name"]
        self._claim = Claim(subscriber, topics, config.pubsub, config.replica_id)
        self._leaser = Leaser(
            subscriber,
            self.path,
            lease_seconds=LEASE_SECONDS,
            capacity=config.max_outstanding_messages,
            granted_seconds=LEASE_SECONDS,
        )
        self._puller = Puller(
            subscriber, self.path, self._leaser, stop, threads=config.pull_threads
        )
        self._receipts: ReceiptSender | None = None
        if config.receipts_topic_id is not None:
            self._receipts = ReceiptSender(
                topics,
                config.pubsub.topic_path_of(config.receipts_topic_id),
                replica=config.replica_id,
                subscription=self.path,
                # No "alive" while it cannot pull: the live view then shows it silent.
                listening=lambda: not self._puller.not_ready(),
            )
        self._dispatcher = Dispatcher(
            config.handler,
            self._leaser,
            subscription=self.path,
            threads=config.handler_threads,
            max_delivery_attempts=config.dead_letter.max_delivery_attempts,
            on_outcome=self._receipts.handled if self._receipts is not None else None,
        )
        self._subscribed = False
        self._next_settle = 0.0

    def run(self) -> int:
        logs.set_context(replica=self._config.replica_id, subscription=self.path)
        consumer = Consumer(
            provision=self._provision, started=self._started, step=self._step, drain=self._drain
        )
        try:
            status = run_until_stopped(self._puller, self.path, self._stop, consumer)
        except IdentityTaken as exc:
            # Another live process uses this subscription now: leave it to that one.
            log.critical("%s; stopping without deleting %s", exc, self.path)
            return EXIT_CONFIG_ERROR
        log.info(
            "stopped receiving: %d handled, %d rejected",
            self._dispatcher.handled,
            self._dispatcher.rejected,
        )
        if self._subscribed:
            self._leave()
        return status

    def _provision(self, beat: Beat) -> None:
        """Everything the replica owns or needs, created if missing; again after Pub/Sub
        lost it (an emulator restarted empty, a subscription deleted by someone)."""
        pubsub = self._config.pubsub
        kwargs: dict[str, Any] = {"stop": self._stop, "logger": log, "beat": beat}
        dead_letter.ensure(
            pubsub,
            self._config.dead_letter,
            topics=self._topics,
            subscriber=self._subscriber,
            **kwargs,
        )
        if self._config.receipts_topic_id is not None:
            ensure_topic(
                self._topics, pubsub.topic_path_of(self._config.receipts_topic_id), **kwargs
            )
        self._claim.take(self._stop, beat)
        created = ensure_subscription(
            self._subscriber, self._request, wait_for_topic=True, **kwargs
        )
        if not created:
            log.info("resuming subscription %s: a process of this replica left it", self.path)
        self._subscribed = True

    def _started(self) -> None:
        log.info("listening on %s", self.path)
        if self._receipts is not None:
            self._receipts.lifecycle("joined")

    def _step(self) -> None:
        now = time.monotonic()
        if self._dispatcher.in_flight:
            timeout = self._next_settle - now
        else:
            timeout = min(self._leaser.next_renewal - now, HEARTBEAT_INTERVAL_SECONDS)
        self._puller.wait(max(timeout, 0.0))
        if received := self._puller.take():
            self._dispatcher.submit(received)
        now = time.monotonic()
        if now >= self._next_settle:
            self._dispatcher.settle()
            self._next_settle = now + SETTLE_SECONDS
        self._leaser.renew_if_due()
        self._claim.check_if_due()

    def _drain(self) -> None:
        """SIGTERM: let the handlers in hand finish and ack, within the budget."""
        self._dispatcher.drain(DRAIN_TIMEOUT_SECONDS)

    def stop_pulling(self) -> None:
        """After the channel is closed: the pull threads end."""
        if not self._puller.started:
            return
        running = self._puller.join(PULLERS_STOP_SECONDS)
        if running:
            log.warning("%d pull thread(s) still running; exiting anyway", running)
        else:
            log.info("all %d pull threads stopped", self._config.pull_threads)

    def _leave(self) -> None:
        if self._receipts is not None:
            # Before the delete, so the live view hears it while the replica still exists.
            self._receipts.lifecycle("left")
            self._receipts.flush(RECEIPTS_FLUSH_TIMEOUT_SECONDS)
        delete_subscription(self._subscriber, self.path, logger=log)
        self._claim.release()
