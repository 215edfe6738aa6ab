"""Work-queue mode: replicas are competing workers on one shared subscription.

Each message is a task (``common.messages.tasks``) run in a worker process (``pool``).
The worker takes only as many messages as it has free processes (flow control), keeps
their leases alive while they run (``common.unary_pull``), terminates a task that
passes its deadline and nacks it so that it is retried (after max delivery attempts
Pub/Sub dead-letters it), and acks only after a task succeeded.

Unary Pull rather than StreamingPull, because a consumer that goes away must not strand
the subscription's messages on the emulator (docs/work-queue.md, "Why unary Pull").

Threads: the puller thread only pulls; the main thread starts tasks, collects outcomes,
renews leases, acks and nacks.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage

from common.health import HEARTBEAT_INTERVAL_SECONDS, Beat
from common.logs import fields
from common.messages.tasks import InvalidTask, Task, decode
from common.pubsub import (
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from common.subscriptions import durable_request
from common.unary_pull.leaser import Leaser
from common.unary_pull.loop import Consumer, Provision, run_until_stopped
from common.unary_pull.pulled import raw
from common.unary_pull.puller import PULL_TIMEOUT_SECONDS, Puller
from subscriber import dead_letter
from subscriber.dead_letter import log_rejected, rejection_fate
from subscriber.workqueue.config import WorkQueueConfig
from subscriber.workqueue.pool import Outcome, ProcessSlots

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


@dataclass
class Lease:
    """A message in hand and the task running for it."""

    ack_id: str
    message_id: str
    task: Task
    delivery_attempt: int | None
    started: float
    deadline: float

    def fate(self, max_delivery_attempts: int) -> str:
        """What happens to the message once nacked, for the log line."""
        return rejection_fate(self.delivery_attempt, max_delivery_attempts)


def log_started(lease: Lease, slot: int, max_delivery_attempts: int) -> None:
    log.debug(
        "started %s message_id=%s in process %d, delivery attempt %s",
        lease.task.describe(),
        lease.message_id,
        slot,
        lease.delivery_attempt,
    )
    if lease.delivery_attempt is not None and lease.delivery_attempt > 1:
        log.info(
            "retrying %s message_id=%s: delivery attempt %d of %d",
            lease.task.describe(),
            lease.message_id,
            lease.delivery_attempt,
            max_delivery_attempts,
        )


def log_renewals(leases: list[Lease], leaser: Leaser, deadline_seconds: float) -> None:
    now = time.monotonic()
    for lease in leases:
        running = now - lease.started
        # Tasks that have run for a while are the interesting ones; a task that happened
        # to start a moment ago is renewed quietly.
        level = logging.INFO if running >= leaser.renew_every else logging.DEBUG
        log.log(
            level,
            "lease extended by %ds: %s message_id=%s running %.0fs of its %gs deadline",
            leaser.lease_seconds,
            lease.task.describe(),
            lease.message_id,
            running,
            deadline_seconds,
        )


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
        self._slots = ProcessSlots(config.worker_processes)
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
            "working on %s with %d processes; task deadline %gs, lease %ds",
            self._path,
            self._slots.size,
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
        message = pb.message
        attempt = pb.delivery_attempt or None
        if self._stop.is_set():
            self._leaser.nack([pb.ack_id])
            return
        try:
            task = decode(message.data)
        except InvalidTask as exc:
            log_rejected(log, message.message_id, str(exc), attempt, self._max_attempts)
            self._leaser.nack([pb.ack_id])
            return
        number = self._slots.start(task)
        now = time.monotonic()
        deadline = now + self._config.task_deadline_seconds
        lease = Lease(pb.ack_id, message.message_id, task, attempt, now, deadline)
        self._leases[number] = lease
        log_started(lease, number, self._max_attempts)

    def _finish(self, number: int, outcome: Outcome) -> None:
        lease = self._leases.pop(number)
        seconds = time.monotonic() - lease.started
        if outcome.ok:
            # The record of the work comes before the ack: a worker killed in between
            # leaves a duplicate to see, never a task done without a trace.
            self.completed += 1
            log.info(
                "completed %s message_id=%s in %.2fs: %s",
                lease.task.describe(),
                lease.message_id,
                seconds,
                outcome.text,
                extra=fields(event="completed", message_id=lease.message_id),
            )
            self._leaser.ack([lease.ack_id])
            return
        self.failed += 1
        self._leaser.nack([lease.ack_id])
        log.warning(
            "failed %s message_id=%s after %.2fs: %s; %s",
            lease.task.describe(),
            lease.message_id,
            seconds,
            outcome.text,
            lease.fate(self._max_attempts),
            extra=fields(event="failed", message_id=lease.message_id),
        )

    def _stop_overdue(self) -> None:
        now = time.monotonic()
        for number, lease in list(self._leases.items()):
            if now < lease.deadline:
                continue
            self._slots.kill(number)
            del self._leases[number]
            self.failed += 1
            self._leaser.nack([lease.ack_id])
            log.warning(
                "timed out %s message_id=%s: still running after its %gs deadline; "
                "process terminated, %s",
                lease.task.describe(),
                lease.message_id,
                self._config.task_deadline_seconds,
                lease.fate(self._max_attempts),
                extra=fields(event="timed out", message_id=lease.message_id),
            )

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
                log.warning(
                    "nacked %s message_id=%s: still running at shutdown",
                    lease.task.describe(),
                    lease.message_id,
                )
            self._leases.clear()
        self._puller.join(PULL_TIMEOUT_SECONDS + 1)
        for received in self._puller.take():  # nacks whatever the last pull brought
            self._start(received)
