"""A task in hand (a lease: the message, the process running it, its deadline) and the
lines the worker logs about it, each carrying the message ID."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from opentelemetry.trace import Span

from common import tracing
from common.logs import fields
from common.unary_pull.leaser import Leaser
from subscriber.dead_letter import rejection_fate

log = logging.getLogger("subscriber.workqueue.worker")


@dataclass
class Lease:
    """A message in hand and the task function running for it."""

    ack_id: str
    message_id: str
    delivery_attempt: int | None
    started: float
    deadline: float
    # The span of its handling, with tracing on (common.tracing).
    span: Span | None = None

    def fate(self, max_delivery_attempts: int) -> str:
        """What happens to the message once nacked, for the log line."""
        return rejection_fate(self.delivery_attempt, max_delivery_attempts)

    def end(self, result: str) -> None:
        tracing.finish(self.span, result)


def log_started(lease: Lease, slot: int, max_delivery_attempts: int) -> None:
    log.debug(
        "started message_id=%s in process %d, delivery attempt %s",
        lease.message_id,
        slot,
        lease.delivery_attempt,
    )
    if lease.delivery_attempt is not None and lease.delivery_attempt > 1:
        log.info(
            "retrying message_id=%s: delivery attempt %d of %d",
            lease.message_id,
            lease.delivery_attempt,
            max_delivery_attempts,
        )


def log_completed(lease: Lease, seconds: float, text: str) -> None:
    log.info(
        "completed message_id=%s in %.2fs%s",
        lease.message_id,
        seconds,
        f": {text}" if text else "",
        extra=fields(event="completed", message_id=lease.message_id),
    )


def log_failed(lease: Lease, seconds: float, text: str, max_delivery_attempts: int) -> None:
    log.warning(
        "failed message_id=%s after %.2fs: %s; %s",
        lease.message_id,
        seconds,
        text,
        lease.fate(max_delivery_attempts),
        extra=fields(event="failed", message_id=lease.message_id),
    )


def log_timed_out(lease: Lease, deadline_seconds: float, max_delivery_attempts: int) -> None:
    log.warning(
        "timed out message_id=%s: still running after its %gs deadline; process terminated, %s",
        lease.message_id,
        deadline_seconds,
        lease.fate(max_delivery_attempts),
        extra=fields(event="timed out", message_id=lease.message_id),
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
            "lease extended by %ds: message_id=%s running %.0fs of its %gs deadline",
            leaser.lease_seconds,
            lease.message_id,
            running,
            deadline_seconds,
        )
