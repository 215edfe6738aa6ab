"""Publishes in flight: every future checked when it resolves, all awaited on shutdown.

``PublisherClient.publish`` returns at once with a future; an error surfaces only there.
The publisher and the replicas' receipts both publish this way, so both keep their
futures here: each resolution goes to a callback of theirs, and ``wait`` tells how many
failed or are still unresolved when the service stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Generic, TypeVar

from google.cloud import pubsub_v1

T = TypeVar("T")


class Publishes(Generic[T]):
    """Publishes to one topic; ``on_done(future, context)`` runs as each one resolves,
    on the client's thread, with the ``context`` given to ``publish``."""

    def __init__(
        self,
        client: pubsub_v1.PublisherClient,
        topic_path: str,
        on_done: Callable[[futures.Future[str], T], None],
    ) -> None:
        self._client = client
        self._topic_path = topic_path
        self._on_done = on_done
        # Each publish in flight, and when it was made (monotonic).
        self._pending: dict[futures.Future[str], float] = {}
        self._lock = threading.Lock()
        # Told how long each publish took to resolve, in seconds (common.metrics).
        self.latency: Callable[[float], None] = _ignore

    def publish(self, data: bytes, attributes: dict[str, str], context: T) -> None:
        """Publish; raises what ``PublisherClient.publish`` raises at once (a flow-control
        limit, a message too large), and reports everything else to ``on_done``."""
        future = self._client.publish(self._topic_path, data, **attributes)
        with self._lock:
            self._pending[future] = time.monotonic()
        future.add_done_callback(lambda done: self._resolved(done, context))

    def _resolved(self, future: futures.Future[str], context: T) -> None:
        with self._lock:
            started = self._pending.pop(future, None)
        if started is not None:
            self.latency(time.monotonic() - started)
        self._on_done(future, context)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def oldest_seconds(self) -> float:
        """How long the oldest publish in flight has been waiting; 0 with none. The client
        retries an unreachable Pub/Sub for minutes: this is how a stall shows."""
        with self._lock:
            oldest = min(self._pending.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def wait(self, timeout: float) -> tuple[int, int]:
        """Wait up to ``timeout`` seconds for the publishes in flight; returns how many of
        them failed and how many are still unresolved."""
        with self._lock:
            pending = set(self._pending)
        done, not_done = futures.wait(pending, timeout=timeout)
        failed = sum(1 for future in done if future.exception() is not None)
        return failed, len(not_done)


def _ignore(_seconds: float) -> None:
    pass
