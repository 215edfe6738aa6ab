"""Runs the handler on each received message in a pool of threads, and settles it.

``submit`` is the replica's receive callback (``common.receive``): it only queues the
message, and one of HANDLER_THREADS threads runs the handler (``common.seams.Handler``):
returning acks the message, raising (anything, ``BaseException`` included: a user's
``sys.exit`` must not kill a handler thread) rejects it with a nack, which Pub/Sub
redelivers and, after MAX_DELIVERY_ATTEMPTS, dead-letters. A handler that returns an
awaitable (an ``async def`` under a sync decorator) did nothing yet: a rejection too.

The threads take messages from one queue, with no future per message: a
``ThreadPoolExecutor`` made a ``Future`` and a done-callback for each, a fifth of a busy
replica's CPU (benchmarks/README.md, "Where the CPU goes").

A handler that never returns keeps its thread: Python cannot kill one. Its message is let
go after ``max_lease_seconds`` (``common.receive``) and redelivered; when every thread is
held that long, ``stuck`` says so and the replica's liveness check fails.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import cast

from common import logs, tracing
from common.messages.receipts import Outcome
from common.metrics import ConsumerMetrics
from common.receive import Received
from common.seams import Delivery, Handler, not_awaitable
from subscriber.dead_letter import log_rejected

log = logging.getLogger(__name__)

# Told each message's outcome after its ack or nack: (message_id, outcome, attempt).
OutcomeListener = Callable[[str, Outcome, int | None], None]


class Dispatcher:
    """``submit`` from the pull threads; ``stop`` on the way out."""

    def __init__(
        self,
        handler: Handler,
        *,
        subscription: str,
        threads: int,
        max_delivery_attempts: int,
        max_lease_seconds: float,
        on_outcome: OutcomeListener | None = None,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self._handler = handler
        self._metrics = metrics or ConsumerMetrics(subscription)
        self._subscription = subscription
        self._max_delivery_attempts = max_delivery_attempts
        self._max_lease_seconds = max_lease_seconds
        self._on_outcome = on_outcome
        # None: a thread's signal to stop.
        self._todo: queue.SimpleQueue[Received | None] = queue.SimpleQueue()
        self._stopping = False
        # Since when each thread has run its current handler (monotonic); None: idle.
        self._busy_since: list[float | None] = [None] * threads
        self._lock = threading.Lock()
        self.handled = 0
        self.rejected = 0
        self._threads = [
            threading.Thread(target=self._work, args=(n,), name=f"handler-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, received: Received) -> None:
        """Queue a message for the next free handler thread."""
        self._todo.put(received)

    def stop(self) -> None:
        """Take nothing more: hand back what is queued; the handlers running finish."""
        self._stopping = True
        while True:
            try:
                queued = self._todo.get_nowait()
            except queue.Empty:
                break
            if queued is not None:
                queued.nack()
        for _ in self._threads:
            self._todo.put(None)

    def stuck(self) -> str:
        """Why the replica needs a restart: every thread held by a handler for longer
        than ``max_lease_seconds``; "" otherwise."""
        now = time.monotonic()
        held = [since for since in self._busy_since if since is not None]
        cap = self._max_lease_seconds
        if len(held) == len(self._busy_since) and all(now - s > cap for s in held):
            return f"all {len(held)} handler threads held by handlers running over {cap:g}s"
        return ""

    def _work(self, number: int) -> None:
        while (received := self._todo.get()) is not None:
            if self._stopping:
                received.nack()
                continue
            self._busy_since[number] = time.monotonic()
            try:
                self._run(received)
            finally:
                self._busy_since[number] = None

    def _run(self, received: Received) -> None:
        delivery = Delivery.of(received)
        span = tracing.consuming(self._subscription, received)
        outcome: Outcome = "acked"
        started = time.monotonic()
        try:
            with tracing.within(span), tracing.step("process", self._subscription):
                # A Handler returns None; what a wrongly written one returns is checked.
                result = cast("Callable[[Delivery], object]", self._handler)(delivery)
            not_awaitable(result, "the handler")
        except BaseException as exc:  # whatever the handler raises rejects its message
            outcome = "rejected"
            received.nack()
            attempt = delivery.delivery_attempt
            self._metrics.rejected(type(exc).__name__, attempt, self._max_delivery_attempts)
            log_rejected(
                log,
                delivery.message_id,
                logs.error_text(exc, plain=(ValueError,)),
                delivery.delivery_attempt,
                self._max_delivery_attempts,
            )
        else:
            received.ack()
        self._metrics.processed(time.monotonic() - started)
        tracing.finish(span, "ack" if outcome == "acked" else "nack")
        with self._lock:
            if outcome == "acked":
                self.handled += 1
            else:
                self.rejected += 1
        if self._on_outcome is not None:
            self._on_outcome(delivery.message_id, outcome, delivery.delivery_attempt)
