"""A task in hand (the message, its process slot, its deadline) and the lines the worker
logs about it, each carrying the message ID, and its metrics (``common.metrics``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry.trace import Span

from common import tracing
from common.logs import fields
from common.metrics import WorkQueueMetrics
from common.receive import Received
from subscriber.dead_letter import rejection_fate
from subscriber.workqueue.config import WorkQueueConfig

log = logging.getLogger(__name__)


@dataclass
class Running:
    """A message in hand and the task function running for it (monotonic times)."""

    received: Received
    started: float
    deadline: float
    # The span of its handling, with tracing on (common.tracing).
    span: Span | None = None
    metrics: WorkQueueMetrics | None = None

    @property
    def message_id(self) -> str:
        return self.received.message_id

    def ack(self) -> None:
        self.received.ack()
        tracing.finish(self.span, "ack")

    def nack(self) -> None:
        self.received.nack()
        tracing.finish(self.span, "nack")

    def fate(self, max_delivery_attempts: int) -> str:
        """What happens to the message once nacked, for the log line."""
        return rejection_fate(self.received.delivery_attempt, max_delivery_attempts)


def log_started(task: Running, slot: int, max_delivery_attempts: int) -> None:
    attempt = task.received.delivery_attempt
    log.debug(
        "started message_id=%s in process %d, attempt %s",
        task.message_id,
        slot,
        attempt,
        extra=fields(event="started", message_id=task.message_id, slot=slot, attempt=attempt),
    )
    if attempt is not None and attempt > 1:
        if task.metrics is not None:
            task.metrics.retried()
        log.info(
            "retrying message_id=%s: delivery attempt %d of %d",
            task.message_id,
            attempt,
            max_delivery_attempts,
            extra=fields(event="retrying", message_id=task.message_id, attempt=attempt),
        )


def log_completed(task: Running, seconds: float, text: str) -> None:
    if task.metrics is not None:
        task.metrics.processed(seconds)
    log.info(
        "completed message_id=%s in %.2fs%s",
        task.message_id,
        seconds,
        f": {text}" if text else "",
        extra=fields(
            event="completed", message_id=task.message_id, seconds=round(seconds, 3), result=text
        ),
    )


def log_failed(task: Running, seconds: float, text: str, max_delivery_attempts: int) -> None:
    if task.metrics is not None:
        task.metrics.processed(seconds)
        task.metrics.rejected("failed", task.received.delivery_attempt, max_delivery_attempts)
    log.warning(
        "failed message_id=%s after %.2fs: %s; %s",
        task.message_id,
        seconds,
        text,
        task.fate(max_delivery_attempts),
        extra=fields(
            event="failed",
            message_id=task.message_id,
            seconds=round(seconds, 3),
            reason=text,
            attempt=task.received.delivery_attempt,
        ),
    )


def log_timed_out(task: Running, deadline_seconds: float, max_delivery_attempts: int) -> None:
    if task.metrics is not None:
        task.metrics.terminated(task.received.delivery_attempt, max_delivery_attempts)
    log.warning(
        "timed out message_id=%s: still running after its %gs deadline; process terminated, %s",
        task.message_id,
        deadline_seconds,
        task.fate(max_delivery_attempts),
        extra=fields(
            event="timed out", message_id=task.message_id, attempt=task.received.delivery_attempt
        ),
    )


def log_handed_back(task: Running) -> None:
    log.warning(
        "nacked message_id=%s: still running at shutdown",
        task.message_id,
        extra=fields(event="handed back", message_id=task.message_id),
    )


def log_working(subscription: str, processes: int, config: WorkQueueConfig) -> None:
    log.info(
        "working on %s with %d processes; task function %s, deadline %gs",
        subscription,
        processes,
        config.task_function,
        config.task_deadline_seconds,
        extra=fields(
            event="working",
            subscription=subscription,
            processes=processes,
            task_function=config.task_function,
        ),
    )


def log_stopped(completed: int, failed: int) -> None:
    log.info(
        "worker stopped: %d completed, %d failed or timed out",
        completed,
        failed,
        extra=fields(event="stopped", completed=completed, failed=failed),
    )
