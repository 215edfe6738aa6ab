"""What one subscription's receiving has done: running totals anyone may read, and the
hook a consumer's metrics give it (``common.metrics``).

The totals are plain integers, added to once per pull, per round of acks or per round of
lease renewals, never once per message: a delivery costs about 100 µs of CPU, and an
OpenTelemetry counter's ``add`` costs several (benchmarks/README.md, "Metrics"). Whoever
reads them pays for the reading, at collection time. The hook (``Observer``) is told of
each call to Pub/Sub and of each round's acked messages, for the histograms.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from common.outage import Outage
    from common.receive.message import Received


class Counts:
    """Totals since receiving started; each only grows. Messages, unless said otherwise;
    ``*_failures`` are failed calls. ``observer`` is told what totals cannot hold."""

    def __init__(self) -> None:
        self.observer: Observer = UNOBSERVED
        self._lock = threading.Lock()  # several pull threads add at once
        self.received = 0  # pulled and handed to the callback
        self.acked = 0
        self.nacked = 0  # by the callback, or handed back at shutdown
        self.let_go = 0  # held past max_lease_seconds, handed back
        self.renewed = 0  # lease renewals, one per message per renewal
        self.pull_failures = 0  # pulls that failed (an empty answer is not a failure)
        self.ack_failures = 0  # Acknowledge and ModifyAckDeadline calls that failed

    def pulled(self, count: int) -> None:
        with self._lock:
            self.received += count

    def pull_failed(self) -> None:
        with self._lock:
            self.pull_failures += 1

    def settled(self, acked: int, nacked: int) -> None:
        with self._lock:
            self.acked += acked
            self.nacked += nacked

    def send_failed(self) -> None:
        with self._lock:
            self.ack_failures += 1

    def leases(self, renewed: int, let_go: int) -> None:
        with self._lock:
            self.renewed += renewed
            self.let_go += let_go


class Receiving(Protocol):
    """What a subscription being received from shows (``ReceiveFuture``): read-only."""

    @property
    def subscription(self) -> str: ...
    @property
    def counts(self) -> Counts: ...
    @property
    def held_messages(self) -> int: ...
    @property
    def held_bytes(self) -> int: ...
    @property
    def pull_outage(self) -> Outage:
        """Its ``down_since``: since when pulls fail (monotonic seconds); None: they don't."""


class Observer(Protocol):
    """Told of what the counts cannot hold: durations and lags, for histograms. Called on
    the pull threads and the acker's; each call must be quick."""

    def watch(self, receiving: Receiving) -> None:
        """Receiving has started: read its counts and state at will from now on."""

    def operation(self, name: str, seconds: float, error: BaseException | None) -> None:
        """A call to Pub/Sub ("pull", "ack", "nack", "modack") took ``seconds``; ``error``
        is what it failed with (None: it answered; an empty pull is an answer)."""

    def acked(self, messages: Sequence[Received]) -> None:
        """One round's acked messages, just sent (``Received.settled_at`` says when each
        was acked: its handling's end)."""


class Unobserved:
    """The hook when nobody listens: every call does nothing."""

    def watch(self, receiving: Receiving) -> None:
        pass

    def operation(self, name: str, seconds: float, error: BaseException | None) -> None:
        pass

    def acked(self, messages: Sequence[Received]) -> None:
        pass


UNOBSERVED = Unobserved()
