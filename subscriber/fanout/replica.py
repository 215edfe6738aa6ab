"""A fan-out replica's life: its own subscription, received from until SIGTERM, then deleted.

Each replica owns one subscription, ``<topic>-<replica id>``, so Pub/Sub delivers every
message to every replica (fan-out). Its name outlives the process: a replica killed
without SIGTERM (an OOM kill, a lost node) and restarted in place resumes it, and receives
what was published meanwhile (``identity`` keeps two live processes off one name). A
clean stop deletes it; a replica that never comes back leaves it to expire after a day
without subscribers, the shortest expiration Pub/Sub allows.

It receives with ``common.receive`` (unary Pull: on the emulator a killed StreamingPull
consumer strands a resumed subscription's messages; docs/work-queue.md, "Why unary
Pull"); the handler threads (``dispatcher``) ack or nack, and the receipts (``receipts``)
tell the live view.
"""

from __future__ import annotations

import logging
import threading

from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common import logs, metrics, replay
from common.config import PubSubConfig
from common.health import HEARTBEAT_INTERVAL_SECONDS, Beat, Heartbeat
from common.outage import ShutdownRequested
from common.provision import Provisioner
from common.pubsub import publisher_client, subscriber_client
from common.receive import ReceiveFuture, subscribe
from common.resources import Plan, owned, replica_subscription_id, topic
from common.service import EXIT_CONFIG_ERROR
from subscriber import dead_letter
from subscriber.fanout.config import FanoutConfig
from subscriber.fanout.dispatcher import Dispatcher
from subscriber.fanout.identity import Claim, IdentityTaken, registry_topic
from subscriber.fanout.receipts import ReceiptSender

log = logging.getLogger(__name__)

# The ack deadline of the replica's subscription, hence its lease on each message: a
# replica killed while handling one hands it back to its restarted self this soon.
LEASE_SECONDS = 10
# Shutdown budget, well inside compose's stop_grace_period: handlers in flight finish,
# then the receipts and the delete call get their own short deadlines.
DRAIN_SECONDS = 1.5
RECEIPTS_FLUSH_SECONDS = 0.3
# Beyond the drain, what the receiving side may take to stop (acks flushed, pulls ended).
STOP_SECONDS = 3.0
# The role label of a replica's subscription.
ROLE = "fanout-subscriber"


def subscription(config: FanoutConfig) -> types.Subscription:
    """The replica's own subscription, ``<topic>-<replica id>``, with a dead-letter policy."""
    return declared_subscription(config.pubsub, config.dead_letter, config.replica_id)


def declared_subscription(
    pubsub: PubSubConfig, dead_letters: dead_letter.DeadLetterConfig, replica_id: str
) -> types.Subscription:
    """The subscription of replica ``replica_id``, as that replica declares it (for
    ``python -m ctl doctor`` too)."""
    return owned(
        pubsub,
        replica_subscription_id(pubsub.topic_id, replica_id),
        pubsub.topic_id,
        role=ROLE,
        host=replica_id,
        ack_deadline_seconds=LEASE_SECONDS,
        dead_letter=dead_letter.policy(pubsub, dead_letters),
    )


def plan(config: FanoutConfig) -> Plan:
    """What a replica needs before it claims its identity: the dead-letter topic and its
    subscription, the receipts topic (unless RECEIPTS=off), the replicas' registry. The
    topic itself is the publisher's: the replica's subscription waits for it."""
    pubsub = config.pubsub
    topics = [registry_topic(pubsub.topic_id)]
    if config.receipts_topic_id is not None:
        topics.append(config.receipts_topic_id)
    own = Plan(topics=tuple(topic(pubsub.topic_path_of(t)) for t in topics))
    return dead_letter.plan(pubsub, config.dead_letter) + own


def run(config: FanoutConfig, stop: threading.Event) -> int:
    """Receive until ``stop`` is set or Pub/Sub refuses for good; the exit status."""
    subscriber = subscriber_client(config.pubsub)
    try:
        return Replica(subscriber, publisher_client(config.pubsub), config, stop).run()
    finally:
        subscriber.close()


class Replica:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        topics: pubsub_v1.PublisherClient,
        config: FanoutConfig,
        stop: threading.Event,
    ) -> None:
        self._subscriber = subscriber
        self._config = config
        self._stop = stop
        self._provisioner = Provisioner(topics, subscriber, stop)
        self._declared = subscription(config)
        self.path: str = self._declared.name
        self._claim = Claim(subscriber, config.pubsub, config.replica_id, stop)
        self._future: ReceiveFuture | None = None
        self._metrics = metrics.consumer(self.path)
        self._receipts: ReceiptSender | None = None
        if config.receipts_topic_id is not None:
            self._receipts = ReceiptSender(
                topics,
                config.pubsub.topic_path_of(config.receipts_topic_id),
                replica=config.replica_id,
                subscription=self.path,
                # No "alive" while it cannot pull: the live view then shows it silent.
                listening=lambda: self._future is not None and not self._future.not_ready,
            )
        self._dispatcher = Dispatcher(
            config.handler,
            subscription=self.path,
            threads=config.handler_threads,
            max_delivery_attempts=config.dead_letter.max_delivery_attempts,
            max_lease_seconds=config.flow_control.max_lease_seconds,
            on_outcome=self._receipts.handled if self._receipts is not None else None,
            metrics=self._metrics,
        )

    def run(self) -> int:
        logs.set_context(replica=self._config.replica_id, subscription=self.path)
        heartbeat = Heartbeat()
        try:
            granted = self._provision(lambda reason: heartbeat.beat(not_ready=reason))
        except ShutdownRequested:
            log.info(
                "stopped before subscribing", extra=logs.fields(event="stopped before subscribing")
            )
            return 0
        future = self._future = subscribe(
            self._subscriber,
            granted,
            self._dispatcher.submit,
            flow_control=self._config.flow_control,
            pull_threads=self._config.pull_threads,
            drain_seconds=DRAIN_SECONDS,
            recover=self._provision,
            observer=self._metrics,
        )
        if self._receipts is not None:
            self._receipts.lifecycle("joined")
        try:
            while not future.done() and not self._stop.wait(HEARTBEAT_INTERVAL_SECONDS):
                heartbeat.beat(not_ready=future.not_ready, stuck=self._dispatcher.stuck())
                self._claim.check_if_due()
        except IdentityTaken as exc:
            # Another live process uses this subscription now: leave it to that one.
            log.critical(
                "%s; stopping without deleting %s",
                exc,
                self.path,
                extra=logs.fields(event="identity taken", replica=self._config.replica_id),
            )
            self._stop_receiving(future)
            return EXIT_CONFIG_ERROR
        finally:
            heartbeat.clear()
        error = self._stop_receiving(future)
        self._leave()
        if error is not None:
            raise error  # what ended receiving, when it was not SIGTERM (common.service)
        return 0

    def _provision(self, beat: Beat | None = None) -> types.Subscription:
        """Everything the replica owns or needs, created if missing, then its claim, then
        its subscription; again after Pub/Sub lost it (an emulator restarted empty)."""
        self._provisioner.ensure(plan(self._config), beat)
        self._claim.take(beat)
        catch_up = self._catch_up if self._config.replay_seconds > 0 else None
        return self._provisioner.ensure_subscription(self._declared, beat, on_created=catch_up)

    def _catch_up(self, created: types.Subscription) -> None:
        """A late joiner: seek the new subscription back REPLAY_SECONDS, so that Pub/Sub
        delivers what the topic retains from then on (``common.replay``)."""
        moment = replay.since(self._config.replay_seconds)
        replay.seek_to_time(self._subscriber, created.name, moment)
        log.info(
            "catching up: %s sought back %ds, to %s",
            created.name,
            self._config.replay_seconds,
            moment.isoformat(),
            extra=logs.fields(
                event="caught up", subscription=created.name, since=moment.isoformat()
            ),
        )

    def _stop_receiving(self, future: ReceiveFuture) -> Exception | None:
        """The ordered shutdown; returns the error that ended receiving, if one did."""
        future.cancel()
        self._dispatcher.stop()
        error: Exception | None = None
        try:
            future.result(DRAIN_SECONDS + STOP_SECONDS)
        except TimeoutError:
            log.warning("receiving still stopping after %gs; leaving", DRAIN_SECONDS + STOP_SECONDS)
        except Exception as exc:  # logged where it ended receiving
            error = exc
        log.info(
            "stopped receiving: %d handled, %d rejected",
            self._dispatcher.handled,
            self._dispatcher.rejected,
            extra=logs.fields(
                event="stopped receiving",
                handled=self._dispatcher.handled,
                rejected=self._dispatcher.rejected,
            ),
        )
        return error

    def _leave(self) -> None:
        if self._receipts is not None:
            # Before the delete, so the live view hears it while the replica still exists.
            self._receipts.lifecycle("left")
            self._receipts.flush(RECEIPTS_FLUSH_SECONDS)
        self._provisioner.delete_subscription(self.path)
        self._claim.release()
