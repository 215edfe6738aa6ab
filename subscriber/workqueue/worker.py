"""Work-queue mode: replicas are competing workers on one shared subscription.

Each message is given to the task function (TASK_FUNCTION, ``common.seams.TaskFunction``;
the demo's runs the tasks of ``common.messages.tasks``) in a worker process (``pool``).
The worker knows messages, not tasks: its log lines name them by message ID, and the
function's one-line result ends the "completed" line. The worker takes only as many
messages as it has free processes (flow control), keeps their leases alive while they
run (``common.unary_pull``), terminates a task that passes its deadline and nacks it so
that it is retried (after max delivery attempts Pub/Sub dead-letters it), and acks only
after a task succeeded.

Unary Pull rather than StreamingPull, because a consumer that goes away must not strand
the subscription's messages on the emulator (docs/work-queue.md, "Why unary Pull").

Threads: the puller thread only pulls; the main thread starts tasks, collects outcomes,
renews leases, acks and nacks.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage

from common import tracing
from common.health import HEARTBEAT_INTERVAL_SECONDS, Beat
from common.pubsub import (
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from common.seams import Delivery
from common.subscriptions import durable_request
from common.unary_pull.leaser import Leaser
from common.unary_pull.loop import Consumer, Provision, run_until_stopped
from common.unary_pull.pulled import raw
from common.unary_pull.puller import PULL_TIMEOUT_SECONDS, Puller
from subscriber import dead_letter
from subscriber.workqueue.config import WorkQueueConfig
from subscriber.workqueue.leases import (
    Lease,
    log_completed,
    log_failed,
    log_renewals,
    log_started,
    log_timed_out,
)
from subscriber.workqueue.pool import LogSettings, Outcome, ProcessSlots

log = logging.getLogger(__name__)


def subscription_request(config: WorkQueueConfig) -> dict[str, Any]:
    """The queue: one durable subscription every worker pulls from, with a dead-letter
    policy so that a task failing every attempt is parked rather than retried forever."""
    pubsub = config.pubsub
    request = durable_request(pubsub, config.subscription_id, pubsub.topic_id, role="work-queue")
    request["ack_deadline_seconds"] = config.ack_deadline_seconds
    request["dead_letter_policy"] = dead_letter.policy(pubsub, config.dead_letter)
    return request


def run(config: WorkQueueConfig, stop: threading.Event) -> int:
    """Provision the queue, then work until ``stop``; the exit status."""
    with subscriber_client(config.pubsub) as subscriber:
        topics = publisher_client(config.pubsub)
        return Worker(subscriber, config, stop).run(
            lambda beat: provision(config, subscriber, topics, stop, beat)
        )


def provision(
    config: WorkQueueConfig,
    subscriber: pubsub_v1.SubscriberClient,
    topics: pubsub_v1.PublisherClient,
    stop: threading.Event,
    beat: Beat,
) -> None:
    """The queue and what it needs, created if missing: at start, and again after Pub/Sub
    lost them. The workers provision the queue, so that tasks published before any worker
    has run wait in it rather than go nowhere."""
    kwargs: dict[str, Any] = {"stop": stop, "logger": log, "beat": beat}
    dead_letter.ensure(
        config.pubsub, config.dead_letter, topics=topics, subscriber=subscriber, **kwargs
    )
    ensure_topic(topics, config.pubsub.topic_path, **kwargs)
    ensure_subscription(subscriber, subscription_request(config), wait_for_topic=True, **kwargs)


class Worker:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        config: WorkQueueConfig,
        stop: threading.Event,
    ) -> None:
        self._path = path = config.pubsub.subscription_path(config.subscription_id)
        self._config = config
        self._max_attempts = config.dead_letter.max_delivery_attempts
        self._stop = stop
        pubsub = config.pubsub
        self._slots = ProcessSlots(
            config.worker_processes,
            config.task_function,
            LogSettings(pubsub.log_level, pubsub.log_format),
        )
        # One permit per worker process: the puller takes no more than there are free.
        self._leaser = Leaser(
            subscriber, path, lease_seconds=config.ack_deadline_seconds, capacity=self._slots.size
        )
        self._puller = Puller(subscriber, path, self._leaser, stop)
        self._leases: dict[int, Lease] = {}  # by slot number
        self.completed = 0
        self.failed = 0

    def run(self, provision: Provision) -> int:
        consumer = Consumer(
            provision=provision, started=self._started, step=self._step, drain=self._drain
        )
        try:
            return run_until_stopped(self._puller, self._path, self._stop, consumer)
        finally:
            self._slots.close()
            log.info(
                "worker stopped: %d completed, %d failed or timed out", self.completed, self.failed
            )

    def _started(self) -> None:
        log.info(
            "working on %s with %d processes; task function %s, deadline %gs, lease %ds",
            self._path,
            self._slots.size,
            self._config.task_function,
            self._config.task_deadline_seconds,
            self._config.ack_deadline_seconds,
        )

    def _step(self) -> None:
        now = time.monotonic()
        deadlines = (lease.deadline for lease in self._leases.values())
        soonest = min([self._leaser.next_renewal, *deadlines])
        timeout = min(max(soonest - now, 0.0), HEARTBEAT_INTERVAL_SECONDS)
        for number, outcome in self._slots.wait(timeout, wake=self._puller.wake_reader):
            self._finish(number, outcome)
        for received in self._puller.take():
            self._start(received)
        self._stop_overdue()
        if self._leaser.renew_if_due():
            leases = list(self._leases.values())
            log_renewals(leases, self._leaser, self._config.task_deadline_seconds)

    def _start(self, received: ReceivedMessage) -> None:
        pb = raw(received)
        if self._stop.is_set():
            self._leaser.nack([pb.ack_id])
            return
        message = Delivery.of(received)
        number = self._slots.start(message)
        now = time.monotonic()
        deadline = now + self._config.task_deadline_seconds
        attempt = message.delivery_attempt
        span = tracing.consuming(self._path, received)
        lease = Lease(pb.ack_id, message.message_id, attempt, now, deadline, span)
        self._leases[number] = lease
        log_started(lease, number, self._max_attempts)

    def _finish(self, number: int, outcome: Outcome) -> None:
        lease = self._leases.pop(number)
        seconds = time.monotonic() - lease.started
        if outcome.ok:
            # The record of the work comes before the ack: a worker killed in between
            # leaves a duplicate to see, never a task done without a trace.
            self.completed += 1
            log_completed(lease, seconds, outcome.text)
            self._leaser.ack([lease.ack_id])
            lease.end("ack")
            return
        self.failed += 1
        self._leaser.nack([lease.ack_id])
        lease.end("nack")
        log_failed(lease, seconds, outcome.text, self._max_attempts)

    def _stop_overdue(self) -> None:
        now = time.monotonic()
        for number, lease in list(self._leases.items()):
            if now < lease.deadline:
                continue
            self._slots.kill(number)
            del self._leases[number]
            self.failed += 1
            self._leaser.nack([lease.ack_id])
            lease.end("nack")
            log_timed_out(lease, self._config.task_deadline_seconds, self._max_attempts)

    def _drain(self) -> None:
        """SIGTERM: take no more tasks; let those in hand finish until the drain deadline,
        then give the rest back so other workers retry them at once."""
        log.info(
            "stopping: %d task(s) in hand, waiting up to %gs for them",
            len(self._leases),
            self._config.drain_seconds,
        )
        deadline = time.monotonic() + self._config.drain_seconds
        while self._leases and time.monotonic() < deadline:
            timeout = min(deadline - time.monotonic(), HEARTBEAT_INTERVAL_SECONDS)
            for number, outcome in self._slots.wait(max(timeout, 0.0)):
                self._finish(number, outcome)
            self._stop_overdue()
        if self._leases:
            self._leaser.nack([lease.ack_id for lease in self._leases.values()])
            for lease in self._leases.values():
                lease.end("nack")
                log.warning("nacked message_id=%s: still running at shutdown", lease.message_id)
            self._leases.clear()
        self._puller.join(PULL_TIMEOUT_SECONDS + 1)
        for received in self._puller.take():  # nacks whatever the last pull brought
            self._start(received)
