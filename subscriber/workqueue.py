"""Shared mode: replicas are competing workers on one subscription, a work queue.

Each message is a task (see ``common.tasks``) run in a worker process. The worker takes
only as many messages as it has free processes (flow control), keeps their leases alive
while they run, terminates a task that passes its deadline and nacks it so that it is
retried (after max delivery attempts Pub/Sub dead-letters it), and acks only after a
task succeeded.

Why unary Pull rather than the client's StreamingPull: on the Pub/Sub emulator (0.8.20,
measured; see the README), once a StreamingPull consumer goes away (a cancel and exit,
SIGKILL), the emulator can go on handing the subscription's messages to the dead stream:
a new consumer received 0 of 200 messages in 90 s. In a work queue, consumers come and
go whenever a worker stops, scales down or is killed, so the others could starve. Unary
Pull holds no stream: a killed worker's messages come back to the others when their
lease lapses. The price is doing lease management here instead of in the client: one
``modify_ack_deadline`` call per renewal for all messages in hand.

Threads: a puller thread (``subscriber.puller``) only pulls; the main thread starts
tasks, collects outcomes, renews leases, acks and nacks. A semaphore of one permit per
worker process keeps the puller from taking more messages than there are processes free.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.health import HEARTBEAT_INTERVAL_SECONDS
from common.tasks import InvalidTask, Task, decode
from subscriber.config import SubscriberConfig
from subscriber.handler import rejection_fate
from subscriber.pool import Outcome, ProcessSlots
from subscriber.puller import (
    PULL_TIMEOUT_SECONDS,
    RPC_TIMEOUT_SECONDS,
    Puller,
    nack,
    run_until_stopped,
    set_lease,
)

log = logging.getLogger(__name__)


@dataclass
class Lease:
    """A message in hand and the task running for it."""

    ack_id: str
    message_id: str
    task: Task
    delivery_attempt: int | None
    started: float
    deadline: float


class Worker:
    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        path: str,
        config: SubscriberConfig,
        stop: threading.Event,
    ) -> None:
        assert config.work_queue is not None
        self._subscriber = subscriber
        self._path = path
        self._settings = config.work_queue
        self._max_attempts = config.max_delivery_attempts
        self._stop = stop
        self._slots = ProcessSlots(self._settings.worker_processes)
        self._permits = threading.Semaphore(self._slots.size)
        self._puller = Puller(
            subscriber, path, self._settings.ack_deadline_seconds, self._permits, stop
        )
        self._leases: dict[int, Lease] = {}  # by slot number
        # Renew a third of the way into a lease: two chances more before it lapses.
        self._renew_every = self._settings.ack_deadline_seconds / 3
        self._next_renewal = time.monotonic() + self._renew_every
        self.completed = 0
        self.failed = 0

    def run(self) -> int:
        log.info(
            "working on %s with %d processes; task deadline %gs, lease %ds",
            self._path,
            self._slots.size,
            self._settings.task_deadline_seconds,
            self._settings.ack_deadline_seconds,
        )
        try:
            return run_until_stopped(
                self._puller, self._path, self._stop, step=self._step, drain=self._drain
            )
        finally:
            self._slots.close()
            log.info(
                "worker stopped: %d completed, %d failed or timed out", self.completed, self.failed
            )

    def _step(self) -> None:
        now = time.monotonic()
        soonest = min([self._next_renewal, *(lease.deadline for lease in self._leases.values())])
        timeout = min(max(soonest - now, 0.0), HEARTBEAT_INTERVAL_SECONDS)
        for number, outcome in self._slots.wait(timeout, wake=self._puller.wake_reader):
            self._finish(number, outcome)
        while self._puller.wake_reader.poll():
            self._puller.wake_reader.recv_bytes()
        self._start_received()
        self._stop_overdue()
        if time.monotonic() >= self._next_renewal:
            self._renew_leases()

    def _start_received(self) -> None:
        while True:
            try:
                received = self._puller.inbox.get_nowait()
            except queue.Empty:
                return
            message = received.message
            attempt = received.delivery_attempt or None
            if self._stop.is_set():
                nack(self._subscriber, self._path, [received.ack_id])
                self._permits.release()
                continue
            try:
                task = decode(message.data)
            except InvalidTask as exc:
                log.warning(
                    "rejected message_id=%s: %s; %s",
                    message.message_id,
                    exc,
                    rejection_fate(attempt, self._max_attempts),
                )
                nack(self._subscriber, self._path, [received.ack_id])
                self._permits.release()
                continue
            number = self._slots.start(task)
            log.debug(
                "started %s message_id=%s in process %d, delivery attempt %s",
                task.describe(),
                message.message_id,
                number,
                attempt,
            )
            now = time.monotonic()
            self._leases[number] = Lease(
                received.ack_id,
                message.message_id,
                task,
                attempt,
                now,
                now + self._settings.task_deadline_seconds,
            )
            if attempt is not None and attempt > 1:
                log.info(
                    "retrying %s message_id=%s: delivery attempt %d of %d",
                    task.describe(),
                    message.message_id,
                    attempt,
                    self._max_attempts,
                )

    def _finish(self, number: int, outcome: Outcome) -> None:
        lease = self._leases.pop(number)
        self._permits.release()
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
            )
            try:
                self._subscriber.acknowledge(
                    subscription=self._path, ack_ids=[lease.ack_id], timeout=RPC_TIMEOUT_SECONDS
                )
            except exceptions.GoogleAPICallError as exc:
                log.warning(
                    "ack of message_id=%s failed (%s); it will come back", lease.message_id, exc
                )
            return
        self.failed += 1
        nack(self._subscriber, self._path, [lease.ack_id])
        log.warning(
            "failed %s message_id=%s after %.2fs: %s; %s",
            lease.task.describe(),
            lease.message_id,
            seconds,
            outcome.text,
            rejection_fate(lease.delivery_attempt, self._max_attempts),
        )

    def _stop_overdue(self) -> None:
        now = time.monotonic()
        for number, lease in list(self._leases.items()):
            if now < lease.deadline:
                continue
            self._slots.kill(number)
            del self._leases[number]
            self._permits.release()
            self.failed += 1
            nack(self._subscriber, self._path, [lease.ack_id])
            log.warning(
                "timed out %s message_id=%s: still running after its %gs deadline; "
                "process terminated, %s",
                lease.task.describe(),
                lease.message_id,
                self._settings.task_deadline_seconds,
                rejection_fate(lease.delivery_attempt, self._max_attempts),
            )

    def _renew_leases(self) -> None:
        self._next_renewal = time.monotonic() + self._renew_every
        if not self._leases:
            return
        seconds = self._settings.ack_deadline_seconds
        set_lease(
            self._subscriber, self._path, [lease.ack_id for lease in self._leases.values()], seconds
        )
        now = time.monotonic()
        for lease in self._leases.values():
            running = now - lease.started
            # Tasks that have run for a while are the interesting ones; a task that
            # happened to start a moment ago is renewed quietly.
            level = logging.INFO if running >= self._renew_every else logging.DEBUG
            log.log(
                level,
                "lease extended by %ds: %s message_id=%s running %.0fs of its %gs deadline",
                seconds,
                lease.task.describe(),
                lease.message_id,
                running,
                self._settings.task_deadline_seconds,
            )

    def _drain(self) -> None:
        """SIGTERM: take no more tasks; let those in hand finish until the drain deadline,
        then give the rest back so other workers retry them at once."""
        log.info(
            "stopping: %d task(s) in hand, waiting up to %gs for them",
            len(self._leases),
            self._settings.drain_seconds,
        )
        deadline = time.monotonic() + self._settings.drain_seconds
        while self._leases and time.monotonic() < deadline:
            timeout = min(deadline - time.monotonic(), HEARTBEAT_INTERVAL_SECONDS)
            for number, outcome in self._slots.wait(max(timeout, 0.0)):
                self._finish(number, outcome)
            self._stop_overdue()
        if self._leases:
            nack(self._subscriber, self._path, [lease.ack_id for lease in self._leases.values()])
            for lease in self._leases.values():
                log.warning(
                    "nacked %s message_id=%s: still running at shutdown",
                    lease.task.describe(),
                    lease.message_id,
                )
            self._leases.clear()
        self._puller.join(PULL_TIMEOUT_SECONDS + 1)
        self._start_received()  # nacks whatever the last pull brought
