"""Publishes in flight: every future checked when it resolves, all awaited on shutdown.

``PublisherClient.publish`` returns at once with a future; an error surfaces only there.
The publisher and the replicas' receipts both publish this way, so both keep their
futures here: each resolution goes to a callback of theirs, and ``wait`` tells how many
failed or are still unresolved when the service stops.

A message Pub/Sub would refuse never reaches the client (``check``): real Pub/Sub refuses
a whole publish request for one such message, failing the others batched with it, and
the client, refusing one too large itself, keeps its flow-control reservation, so every
later publish fails for flow control (benchmarks/README.md, "Measured behaviour behind
the code").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Generic, TypeVar

from google.cloud import pubsub_v1
from google.pubsub_v1 import types

T = TypeVar("T")

# Pub/Sub's limits (https://cloud.google.com/pubsub/quotas#resource_limits): a publish
# request, and so a message with its topic's name, of 10 MB; 100 attributes, keys of 256
# bytes, values of 1024; data or at least one attribute.
MAX_REQUEST_BYTES = 10_000_000
MAX_ATTRIBUTES = 100
MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 1024
# What the topic's name and the attributes within their limits may add to the data, at
# most: data shorter than the limit by this much needs no exact count.
_MAX_OVERHEAD_BYTES = 1_024 + MAX_ATTRIBUTES * (MAX_KEY_BYTES + MAX_VALUE_BYTES + 16)


class Unpublishable(ValueError):
    """A message Pub/Sub would refuse; the text says which limit it breaks."""


def check(topic_path: str, data: bytes, attributes: dict[str, str]) -> None:
    """Raise ``Unpublishable`` unless Pub/Sub takes this message (checked as the client's
    and the server's own checks would; cheap unless ``data`` nears 10 MB)."""
    if not data and not attributes:
        raise Unpublishable("a message needs data or at least one attribute")
    if len(attributes) > MAX_ATTRIBUTES:
        raise Unpublishable(f"{len(attributes)} attributes; Pub/Sub takes {MAX_ATTRIBUTES}")
    for key, value in attributes.items():
        if not key or len(key.encode()) > MAX_KEY_BYTES:
            raise Unpublishable(f"an attribute's key must be 1 to {MAX_KEY_BYTES} bytes")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise Unpublishable(f"attribute {key!r:.40} is over {MAX_VALUE_BYTES} bytes")
    if len(data) + _MAX_OVERHEAD_BYTES > MAX_REQUEST_BYTES:
        message = types.PubsubMessage(data=data, attributes=attributes)
        request = types.PublishRequest(topic=topic_path, messages=[message])
        size = types.PublishRequest.pb(request).ByteSize()
        if size > MAX_REQUEST_BYTES:
            raise Unpublishable(
                f"the message makes a publish request of {size:,} bytes; "
                f"Pub/Sub takes {MAX_REQUEST_BYTES:,}"
            )


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
        """Publish; raises ``Unpublishable`` for a message Pub/Sub would refuse, and what
        ``PublisherClient.publish`` raises at once (a flow-control limit), and reports
        everything else to ``on_done``."""
        check(self._topic_path, data, attributes)
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
