"""Runs the handler on each pulled message in a pool of threads, and acks or nacks them.

Like the client library's own dispatcher: handlers run on HANDLER_THREADS threads; their
outcomes are gathered and sent to Pub/Sub in one ``acknowledge`` (and one nack) per
round of the replica's loop, rather than one call per message.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from google.pubsub_v1.types import ReceivedMessage

from common.messages.receipts import Outcome
from common.unary_pull.leaser import Leaser
from common.unary_pull.pulled import raw
from subscriber.dead_letter import log_rejected
from subscriber.fanout.handler import Delivery, Handler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """A handled message, waiting for its ack or nack."""

    ack_id: str
    message_id: str
    outcome: Outcome
    delivery_attempt: int | None


# Told each message's outcome after its ack or nack: (message_id, outcome, attempt).
OutcomeListener = Callable[[str, Outcome, int | None], None]


class Dispatcher:
    """``submit`` from the replica's loop; ``settle`` acks and nacks what is done."""

    def __init__(
        self,
        handler: Handler,
        leaser: Leaser,
        *,
        threads: int,
        max_delivery_attempts: int,
        on_outcome: OutcomeListener | None = None,
    ) -> None:
        self._handler = handler
        self._leaser = leaser
        self._max_delivery_attempts = max_delivery_attempts
        self._on_outcome = on_outcome
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="handler")
        self._done: queue.SimpleQueue[Done] = queue.SimpleQueue()
        self._running: set[Future[None]] = set()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.handled = 0
        self.rejected = 0

    def submit(self, received: ReceivedMessage) -> None:
        self.in_flight += 1
        future = self._pool.submit(self._run, received)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def _run(self, received: ReceivedMessage) -> None:
        delivery = Delivery.of(received)
        outcome: Outcome = "acked"
        try:
            self._handler(delivery)
        except Exception as exc:  # whatever the handler raises rejects the message
            outcome = "rejected"
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            log_rejected(
                log,
                delivery.message_id,
                reason,
                delivery.delivery_attempt,
                self._max_delivery_attempts,
            )
        done = Done(raw(received).ack_id, delivery.message_id, outcome, delivery.delivery_attempt)
        self._done.put(done)

    def settle(self) -> None:
        """Ack and nack every message handled since the last call, then report them."""
        settled: list[Done] = []
        while True:
            try:
                settled.append(self._done.get_nowait())
            except queue.Empty:
                break
        if not settled:
            return
        self.in_flight -= len(settled)
        self._leaser.ack([d.ack_id for d in settled if d.outcome == "acked"])
        self._leaser.nack([d.ack_id for d in settled if d.outcome == "rejected"])
        for done in settled:
            if done.outcome == "acked":
                self.handled += 1
            else:
                self.rejected += 1
            if self._on_outcome is not None:
                self._on_outcome(done.message_id, done.outcome, done.delivery_attempt)

    def drain(self, timeout: float) -> None:
        """Let the handlers in flight finish, up to ``timeout`` seconds; settle them."""
        # Handlers not started yet are dropped: their messages go back with the lease.
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = set(self._running)
        wait(running, timeout=timeout)
        self.settle()
        if self.in_flight:
            log.warning(
                "%d message(s) not handled after %.1fs; leaving them", self.in_flight, timeout
            )
