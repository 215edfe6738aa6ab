"""Work-queue mode: replicas are competing workers on one shared subscription.

Each message is given to the task function (TASK_FUNCTION, ``common.seams.TaskFunction``;
the demo's runs the tasks of ``common.messages.tasks``) in a worker process (``pool``).
The worker knows messages, not tasks: its log lines name them by message ID, and the
function's one-line result ends the "completed" line. It receives with
``common.receive``, holding at most one message per process (flow control), whose lease
the receiving side renews while the task runs; it terminates a task past its deadline
and nacks it so that it is retried (after MAX_DELIVERY_ATTEMPTS Pub/Sub dead-letters
it), and acks only after a task succeeded.

Threads: the pull thread hands each message to ``_received``, which queues it and wakes
the main thread; the main thread starts tasks, collects outcomes and settles messages.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common import metrics, tracing
from common.health import HEARTBEAT_INTERVAL_SECONDS, Beat, Heartbeat
from common.logs import fields
from common.outage import ShutdownRequested
from common.provision import Provisioner
from common.pubsub import publisher_client, subscriber_client
from common.receive import Received, ReceiveFuture, subscribe
from common.resources import Plan, durable, topic
from common.seams import Delivery
from subscriber import dead_letter
from subscriber.workqueue.config import WorkQueueConfig
from subscriber.workqueue.pool import LogSettings, Outcome, ProcessSlots
from subscriber.workqueue.running import (
    Running,
    log_completed,
    log_failed,
    log_handed_back,
    log_started,
    log_stopped,
    log_timed_out,
    log_working,
)

log = logging.getLogger(__name__)

# Beyond DRAIN_SECONDS, what the receiving side may take to stop (acks flushed).
STOP_SECONDS = 3.0


def plan(config: WorkQueueConfig) -> Plan:
    """The queue and what it needs, created if missing: at start, and again after Pub/Sub
    lost them. The workers make the queue, so that tasks published before any worker has
    run wait in it; its dead-letter policy parks a task failing every attempt."""
    pubsub = config.pubsub
    queue_subscription = durable(
        pubsub,
        config.subscription_id,
        pubsub.topic_id,
        role="work-queue",
        ack_deadline_seconds=config.ack_deadline_seconds,
        dead_letter=dead_letter.policy(pubsub, config.dead_letter),
    )
    own = Plan(topics=(topic(pubsub.topic_path),), subscriptions=(queue_subscription,))
    return dead_letter.plan(pubsub, config.dead_letter) + own


def run(config: WorkQueueConfig, stop: threading.Event) -> int:
    """Provision the queue, then work until ``stop``; the exit status."""
    with subscriber_client(config.pubsub) as subscriber:
        provisioner = Provisioner(publisher_client(config.pubsub), subscriber, stop)
        return Worker(subscriber, provisioner, config, stop).run()


class Worker:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        provisioner: Provisioner,
        config: WorkQueueConfig,
        stop: threading.Event,
    ) -> None:
        self._subscriber = subscriber
        self._provisioner = provisioner
        self._config = config
        self._plan = plan(config)
        self._max_attempts = config.dead_letter.max_delivery_attempts
        self._stop = stop
        pubsub = config.pubsub
        self._slots = ProcessSlots(
            config.worker_processes,
            config.task_function,
            LogSettings(pubsub.log_level, pubsub.log_format),
        )
        self._inbox: queue.SimpleQueue[Received] = queue.SimpleQueue()
        self._wake_reader, self._wake_writer = Pipe(duplex=False)
        self._running: dict[int, Running] = {}  # by slot number
        self._path = config.pubsub.subscription_path(config.subscription_id)
        self._metrics = metrics.workqueue(self._path)
        self.completed = self.failed = 0

    def run(self) -> int:
        heartbeat = Heartbeat()
        try:
            granted = self._provision(lambda reason: heartbeat.beat(not_ready=reason))
        except ShutdownRequested:
            log.info("stopped before subscribing", extra=fields(event="stopped before subscribing"))
            self._slots.close()
            return 0
        future = subscribe(
            self._subscriber,
            granted,
            self._received,
            flow_control=self._config.flow_control,
            drain_seconds=self._config.drain_seconds + STOP_SECONDS,
            recover=self._provision,
            observer=self._metrics,
        )
        log_working(granted.name, self._slots.size, self._config)
        wake = (self._stop, self._wake_writer)
        threading.Thread(target=_wake_on_stop, args=wake, name="wake-on-stop", daemon=True).start()
        try:
            while not self._stop.is_set() and not future.done():
                self._step()
                heartbeat.beat(not_ready=future.not_ready)
            self._drain(future)
            future.result(STOP_SECONDS)
        except TimeoutError:
            log.warning("receiving still stopping after %gs; leaving", STOP_SECONDS)
        finally:
            heartbeat.clear()
            self._slots.close()
            log_stopped(self.completed, self.failed)
        return 0

    def _provision(self, beat: Beat | None = None) -> types.Subscription:
        return self._provisioner.ensure(self._plan, beat)[-1]

    def _received(self, received: Received) -> None:
        """The receive callback, on the pull thread: queue it and wake the main thread."""
        self._inbox.put(received)
        self._wake_writer.send_bytes(b"")

    def _step(self) -> None:
        now = time.monotonic()
        soonest = min((task.deadline for task in self._running.values()), default=now + 60)
        timeout = min(max(soonest - now, 0.0), HEARTBEAT_INTERVAL_SECONDS)
        for number, outcome in self._slots.wait(timeout, wake=self._wake_reader):
            self._finish(number, outcome)
        while self._wake_reader.poll():
            self._wake_reader.recv_bytes()
        self._start_received()
        self._stop_overdue()

    def _start_received(self) -> None:
        while True:
            try:
                received = self._inbox.get_nowait()
            except queue.Empty:
                return
            if self._stop.is_set():
                received.nack()
                continue
            number = self._slots.start(Delivery.of(received))
            now, seconds = time.monotonic(), self._config.task_deadline_seconds
            span = tracing.consuming(self._path, received)
            task = Running(received, now, now + seconds, span, self._metrics)
            self._running[number] = task
            log_started(task, number, self._max_attempts)

    def _finish(self, number: int, outcome: Outcome) -> None:
        task = self._running.pop(number)
        seconds = time.monotonic() - task.started
        if outcome.ok:
            # The record of the work comes before the ack: a worker killed in between
            # leaves a duplicate to see, never a task done without a trace.
            self.completed += 1
            log_completed(task, seconds, outcome.text)
            task.ack()
            return
        self.failed += 1
        task.nack()
        log_failed(task, seconds, outcome.text, self._max_attempts)

    def _stop_overdue(self) -> None:
        now = time.monotonic()
        for number, task in list(self._running.items()):
            if now < task.deadline:
                continue
            self._slots.kill(number)
            del self._running[number]
            self.failed += 1
            task.nack()
            log_timed_out(task, self._config.task_deadline_seconds, self._max_attempts)

    def _drain(self, future: ReceiveFuture) -> None:
        """SIGTERM: take no more tasks; let those in hand finish until the drain deadline,
        then give the rest back so other workers retry them at once."""
        future.cancel()
        log.info(
            "stopping: %d task(s) in hand, waiting up to %gs for them",
            len(self._running),
            self._config.drain_seconds,
        )
        deadline = time.monotonic() + self._config.drain_seconds
        while self._running and time.monotonic() < deadline:
            timeout = min(deadline - time.monotonic(), HEARTBEAT_INTERVAL_SECONDS)
            for number, outcome in self._slots.wait(max(timeout, 0.0)):
                self._finish(number, outcome)
            self._stop_overdue()
        for task in self._running.values():
            task.nack()
            log_handed_back(task)
        self._running.clear()
        self._start_received()  # nacks whatever the last pull brought


def _wake_on_stop(stop: threading.Event, wake: Connection) -> None:
    """A main thread waiting on its processes' pipes and ``wake`` wakes on SIGTERM."""
    stop.wait()
    wake.send_bytes(b"")
