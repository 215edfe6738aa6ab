"""The publisher's, the work queue's, the sink's and the live view's own metrics."""

from __future__ import annotations

from types import SimpleNamespace

from common import metrics
from common.metrics import names
from common.outage import Outage
from common.publishing import Publishes
from tests.unit.common.metrics.conftest import Collected

TOPIC_PATH = "projects/p/topics/channel"
PATH = "projects/p/subscriptions/tasks-workers"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_publisher_counts_sent_and_failed_times_publishes_and_shows_a_stall(
    collected: Collected,
) -> None:
    totals = SimpleNamespace(published=7, failed=2)
    publishes = SimpleNamespace(latency=lambda seconds: None)
    clock = Clock()
    stall = Outage("Pub/Sub", clock=clock)
    metrics.publisher(TOPIC_PATH, totals, publishes, stall)
    publishes.latency(0.03)
    assert collected.points(names.SENT) == [
        ({names.SYSTEM: "gcp_pubsub", names.TOPIC: "channel"}, 7),
        ({names.SYSTEM: "gcp_pubsub", names.TOPIC: "channel", names.ERROR_TYPE: "_OTHER"}, 2),
    ]
    timed = collected.value(names.OPERATION_DURATION, operation="publish", topic="channel")
    assert (timed.count, timed.sum) == (1, 0.03)
    assert collected.value(names.OUTAGE, peer="pubsub", topic="channel") == 0
    stall.failed("no publish confirmed")
    clock.now += 12
    assert collected.value(names.OUTAGE, peer="pubsub", topic="channel") == 1
    assert collected.value(names.OUTAGE_DURATION, peer="pubsub", topic="channel") > 0


def test_publishes_tell_their_latency() -> None:
    seen: list[float] = []

    class Client:
        def publish(self, topic: str, data: bytes, **attributes: str) -> object:
            from concurrent.futures import Future  # noqa: PLC0415

            future: Future[str] = Future()
            self.future = future
            return future

    client = Client()
    publishes: Publishes[None] = Publishes(client, TOPIC_PATH, lambda future, context: None)
    publishes.latency = seen.append
    publishes.publish(b"x", {}, None)
    client.future.set_result("1")
    assert len(seen) == 1
    assert 0 <= seen[0] < 1


def test_work_queue_counts_retries_and_deadlines_as_rejections(collected: Collected) -> None:
    worker = metrics.workqueue(PATH)
    worker.retried()
    worker.terminated(2, 5)
    worker.terminated(5, 5)
    worker.rejected("failed", 1, 5)
    subscription = "tasks-workers"
    assert collected.value(names.RETRIED, subscription=subscription) == 1
    assert collected.value(names.TERMINATED, subscription=subscription) == 2
    assert collected.value(names.REJECTED, error_type="deadline") == 2
    assert collected.value(names.REJECTED, error_type="failed") == 1
    assert collected.value(names.DEAD_LETTERED, error_type="deadline") == 1


def test_sink_batches_rows_and_database_outage(collected: Collected) -> None:
    totals = SimpleNamespace(stored=40, already_stored=3)
    database = Outage("database")
    sink = metrics.sink("projects/p/subscriptions/readings-sink", totals, database)
    sink.committed(50, 0.02, rejects=2)
    sink.committed(1, 0.01, rejects=0)
    subscription = "readings-sink"
    assert collected.value(names.STORED, subscription=subscription) == 40
    assert collected.value(names.DUPLICATES, subscription=subscription) == 3
    assert collected.value(names.REJECTED, error_type="refused") == 2
    batches = collected.value(names.BATCH_SIZE, subscription=subscription)
    assert (batches.count, batches.sum) == (2, 51)
    assert collected.value(names.COMMIT_DURATION, subscription=subscription).count == 2
    database.failed("connection refused")
    assert collected.value(names.OUTAGE, peer="database") == 1


def test_dashboard_clients_frames_and_slow_clients(collected: Collected) -> None:
    hub = SimpleNamespace(clients={"a", "b"}, frames_sent=120, dropped_slow=1)
    metrics.dashboard(hub)
    assert collected.points(names.CLIENTS) == [({}, 2)]
    assert collected.points(names.FRAMES) == [({}, 120)]
    assert collected.points(names.DROPPED) == [({}, 1)]


def test_every_label_is_bounded(collected: Collected) -> None:
    """Attribute keys from one short list, whatever is recorded; values never a message's."""
    observer = metrics.consumer("projects/p/subscriptions/s")
    observer.rejected("InvalidMessage", 1, 5)
    observer.operation("pull", 0.1, ValueError("message 123 is bad: <free text>"))
    observer.processed(0.1)
    allowed = {names.SYSTEM, names.SUBSCRIPTION, names.TOPIC, names.OPERATION}
    allowed |= {names.ERROR_TYPE, names.PEER}
    for spec in names.ALL:
        for attributes, _ in collected.points(spec):
            assert set(attributes) <= allowed, spec.name
            assert not any("123" in value or " " in value for value in attributes.values())
