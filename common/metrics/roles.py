"""What each kind of service measures beyond a consumer's: the publisher, the work queue,
the sink and the live view. Totals the service keeps anyway are read at collection
time; rare events (a task past its deadline, a batch committed) are recorded as they
happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Protocol

from common.metrics import instruments, names, setup
from common.metrics.consumer import ConsumerMetrics, watch_outage
from common.metrics.samples import Samples
from common.outage import Outage


class PublisherTotals(Protocol):
    published: int  # publishes Pub/Sub confirmed
    failed: int  # publishes that failed, or were skipped (flow control, the source)


class Timed(Protocol):
    # Told how long each publish took to be confirmed or to fail, in seconds.
    latency: Callable[[float], None]


def publisher(topic_path: str, totals: PublisherTotals, publishes: Timed, stall: Outage) -> None:
    """A publisher's publishes to ``topic_path``: sent, failed, their latency (sampled),
    and a stall (Pub/Sub not confirming) as an outage."""
    attributes = {names.SYSTEM: names.SYSTEM_NAME, names.TOPIC: topic_path.rsplit("/", 1)[-1]}
    failed = {**attributes, names.ERROR_TYPE: names.OTHER_ERROR}
    instruments.observe(
        names.SENT, lambda: [(totals.published, attributes), (totals.failed, failed)]
    )
    if (recorder := setup.recorder()) is not None:
        histogram = instruments.histogram(names.OPERATION_DURATION)
        timed = {**attributes, names.OPERATION: "publish"}
        publishes.latency = recorder.register(Samples(histogram, timed)).add
    watch_outage(stall, "pubsub", attributes)


class WorkQueueMetrics(ConsumerMetrics):
    """A worker's: a consumer's, and its tasks' deadlines and retries."""

    def retried(self) -> None:
        """A task started on a later delivery attempt than its first."""
        instruments.counter(names.RETRIED).add(1, self.attributes)

    def terminated(self, attempt: int | None, max_attempts: int) -> None:
        """A task terminated at its deadline: its message rejected, for that reason."""
        instruments.counter(names.TERMINATED).add(1, self.attributes)
        self.rejected("deadline", attempt, max_attempts)


def workqueue(subscription_path: str) -> WorkQueueMetrics:
    return WorkQueueMetrics(subscription_path)


class SinkTotals(Protocol):
    stored: int
    already_stored: int


class SinkMetrics(ConsumerMetrics):
    """A sink's: a consumer's, and its batches, rows and database."""

    def committed(self, messages: int, seconds: float, rejects: int) -> None:
        """A batch of ``messages`` committed in ``seconds``, ``rejects`` of them refused by
        the row mapper (stored in the rejects table)."""
        instruments.histogram(names.BATCH_SIZE, names.BATCH_BUCKETS).record(
            messages, self.attributes
        )
        instruments.histogram(names.COMMIT_DURATION).record(seconds, self.attributes)
        if rejects:
            instruments.counter(names.REJECTED).add(
                rejects, {**self.attributes, names.ERROR_TYPE: "refused"}
            )


def sink(subscription_path: str, totals: SinkTotals, database: Outage) -> SinkMetrics:
    """The sink's metrics; rows stored and redeliveries read from ``totals``."""
    found = SinkMetrics(subscription_path)
    attributes = found.attributes
    instruments.observe(names.STORED, lambda: [(totals.stored, attributes)])
    instruments.observe(names.DUPLICATES, lambda: [(totals.already_stored, attributes)])
    watch_outage(database, "database", attributes)
    return found


class HubTotals(Protocol):
    @property
    def clients(self) -> Sized: ...

    frames_sent: int
    dropped_slow: int


def dashboard(hub: HubTotals) -> None:
    """The live view's browsers: connected now, frames sent, clients dropped as slow."""
    instruments.observe(names.CLIENTS, lambda: [(len(hub.clients), {})])
    instruments.observe(names.FRAMES, lambda: [(hub.frames_sent, {})])
    instruments.observe(names.DROPPED, lambda: [(hub.dropped_slow, {})])
