"""A consumer's metrics: what every consumer measures, by subscription.

``consumer(path)`` gives the hook ``common.receive.subscribe`` takes (``observer=``):
its counts (received, acked, nacked, let go, leases renewed, failed calls) and state
(messages and bytes in hand, an outage) are read when metrics are collected; the calls
to Pub/Sub are timed as they return (sampled: hundreds of pulls a second at high rates),
and so is the delivery lag of each round's acked messages (``common.metrics.samples``).
The consumer's own code tells what only it knows: a rejection and why (``rejected``),
and how long its handler or task ran (``processed``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence

from common.metrics import instruments, names, setup
from common.metrics.samples import Samples
from common.outage import Outage
from common.receive import Received, Receiving

Attributes = Mapping[str, str]

# Each total a consumer keeps (common.receive.counts), under its instrument's name.
_TOTALS = {
    names.CONSUMED: "received",
    names.ACKED: "acked",
    names.NACKED: "nacked",
    names.LET_GO: "let_go",
    names.RENEWED: "renewed",
    names.PULL_FAILURES: "pull_failures",
    names.ACK_FAILURES: "ack_failures",
}


class ConsumerMetrics:
    """The metrics of one subscription's consumer (``common.receive.Observer``)."""

    def __init__(self, subscription_path: str) -> None:
        self.attributes: Attributes = {
            names.SYSTEM: names.SYSTEM_NAME,
            names.SUBSCRIPTION: subscription_path.rsplit("/", 1)[-1],
        }
        self._operations = instruments.histogram(names.OPERATION_DURATION)
        self._rejected = instruments.counter(names.REJECTED)
        self._dead_lettered = instruments.counter(names.DEAD_LETTERED)
        self._lags = _sampled(names.DELIVERY_LAG, self.attributes)
        self._durations = _sampled(names.PROCESS_DURATION, self.attributes)
        # Calls that answered, by operation: hundreds of pulls a second at high rates.
        self._timings: dict[str, Samples | None] = {}

    def watch(self, receiving: Receiving) -> None:
        """Read ``receiving``'s totals and state at every collection from now on."""
        attributes = self.attributes
        counts = receiving.counts
        for spec, total in _TOTALS.items():
            instruments.observe(spec, _total(counts, total, attributes))
        instruments.observe(names.HELD_MESSAGES, lambda: [(receiving.held_messages, attributes)])
        instruments.observe(names.HELD_BYTES, lambda: [(receiving.held_bytes, attributes)])
        watch_outage(receiving.pull_outage, "pubsub", attributes)

    def operation(self, name: str, seconds: float, error: BaseException | None) -> None:
        """A call's time: sampled when it answered, recorded at once when it failed (rare)."""
        if error is not None:
            attributes = {**self.attributes, names.OPERATION: name}
            attributes[names.ERROR_TYPE] = type(error).__name__
            self._operations.record(seconds, attributes)
            return
        if name not in self._timings:
            attributes = {**self.attributes, names.OPERATION: name}
            self._timings[name] = _sampled(names.OPERATION_DURATION, attributes)
        if (timings := self._timings[name]) is not None:
            timings.add(seconds)

    def acked(self, messages: Sequence[Received]) -> None:
        """Delivery lags of a random sample of the round's acked messages: publish time to
        ack, on Pub/Sub's clock and ours (a skew between them shows here)."""
        lags = self._lags
        if lags is None or (room := lags.room()) <= 0:
            return
        chosen = messages if len(messages) <= room else random.sample(messages, room)
        for message in chosen:
            lags.add(max(message.settled_at - message.publish_seconds, 0.0))

    def processed(self, seconds: float) -> None:
        """The handler (or task) ran ``seconds`` on one message; cheap: from hot paths."""
        if self._durations is not None:
            self._durations.add(seconds)

    def rejected(self, error_type: str, attempt: int | None, max_attempts: int | None) -> None:
        """A message rejected (nacked as unusable) for ``error_type`` (an exception's class
        name or a reason from a fixed list: never text from the message); on its last
        delivery attempt it is dead-lettered too. Rare: recorded at once."""
        attributes = {**self.attributes, names.ERROR_TYPE: error_type}
        self._rejected.add(1, attributes)
        if attempt is not None and max_attempts is not None and attempt >= max_attempts:
            self._dead_lettered.add(1, attributes)


def _sampled(spec: names.Instrument, attributes: Attributes) -> Samples | None:
    """Values for ``spec``'s histogram, recorded by the recorder; None with metrics off."""
    recorder = setup.recorder()
    if recorder is None:
        return None
    return recorder.register(Samples(instruments.histogram(spec), attributes))


def _total(counts: object, name: str, attributes: Attributes) -> instruments.Reading:
    return lambda: [(getattr(counts, name), attributes)]


def consumer(subscription_path: str) -> ConsumerMetrics:
    """The metrics of the consumer of the subscription at ``subscription_path``; give it
    to ``subscribe(..., observer=)``."""
    return ConsumerMetrics(subscription_path)


def watch_outage(outage: Outage, peer: str, attributes: Attributes | None = None) -> None:
    """Report ``outage`` (``common.outage``) as 1 while ``peer`` ("pubsub", "database") is
    unreachable, and how long that has lasted."""
    labels = {**(attributes or {}), names.PEER: peer}

    def state() -> Iterable[tuple[float, Attributes]]:
        return [(float(outage.down_since is not None), labels)]

    def duration() -> Iterable[tuple[float, Attributes]]:
        since = outage.down_since
        return [(0.0 if since is None else time.monotonic() - since, labels)]

    instruments.observe(names.OUTAGE, state)
    instruments.observe(names.OUTAGE_DURATION, duration)
