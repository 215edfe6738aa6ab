"""The instruments' names, attributes and buckets: one list for the code, the alerting
rules and the Grafana dashboard (a test holds each query there to a name here).

OpenTelemetry's semantic conventions for messaging name what they define
(``messaging.*``); the rest is in the project's own namespace (``pubsub_fanout.*``).
In Prometheus's format dots become underscores, counters end in ``_total`` and a unit in
seconds or bytes is appended: ``messaging.client.consumed.messages`` is
``messaging_client_consumed_messages_total``; ``prometheus_name`` gives each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

# Attributes (Prometheus labels): every value bounded, never a message ID or free text.
SYSTEM = "messaging.system"
SYSTEM_NAME = "gcp_pubsub"
SUBSCRIPTION = "messaging.destination.subscription.name"  # a subscription's ID
TOPIC = "messaging.destination.name"  # a topic's ID
OPERATION = "messaging.operation.name"  # pull, ack, nack, modack, publish
ERROR_TYPE = "error.type"  # an exception's class name, or a reason from a fixed list
PEER = "pubsub_fanout.peer"  # pubsub, database
# error.type's value when nothing more precise is known (the conventions' own).
OTHER_ERROR = "_OTHER"


@dataclass(frozen=True)
class Instrument:
    name: str
    kind: Kind
    unit: str
    description: str

    @property
    def prometheus_name(self) -> str:
        """As the Prometheus exporter writes it (histograms: the ``_bucket`` and other
        series add their suffixes to this)."""
        base = self.name.replace(".", "_")
        suffix = {"s": "_seconds", "By": "_bytes"}.get(self.unit, "")
        if suffix and not base.endswith(suffix):
            base += suffix
        return f"{base}_total" if self.kind == "counter" else base


def _i(name: str, kind: Kind, unit: str, description: str) -> Instrument:
    return Instrument(name, kind, unit, description)


# Every consumer (replica, worker, sink, the dashboard's feeds), by subscription.
CONSUMED = _i("messaging.client.consumed.messages", "counter", "{message}", "Messages pulled")
ACKED = _i("pubsub_fanout.consumer.acked", "counter", "{message}", "Messages acked")
NACKED = _i("pubsub_fanout.consumer.nacked", "counter", "{message}", "Messages nacked")
REJECTED = _i(
    "pubsub_fanout.consumer.rejected", "counter", "{message}", "Messages rejected, by error.type"
)
DEAD_LETTERED = _i(
    "pubsub_fanout.consumer.dead_lettered",
    "counter",
    "{message}",
    "Messages rejected on their last delivery attempt: Pub/Sub dead-letters them",
)
LET_GO = _i("pubsub_fanout.consumer.let_go", "counter", "{message}", "Held past the lease cap")
RENEWED = _i("pubsub_fanout.consumer.leases.renewed", "counter", "{message}", "Lease renewals")
PULL_FAILURES = _i("pubsub_fanout.consumer.pull.failures", "counter", "{call}", "Failed pulls")
ACK_FAILURES = _i(
    "pubsub_fanout.consumer.ack.failures", "counter", "{call}", "Failed ack and lease calls"
)
HELD_MESSAGES = _i("pubsub_fanout.consumer.held.messages", "gauge", "{message}", "Messages in hand")
HELD_BYTES = _i("pubsub_fanout.consumer.held.bytes", "gauge", "By", "Bytes of messages in hand")
OPERATION_DURATION = _i(
    "messaging.client.operation.duration", "histogram", "s", "Calls to Pub/Sub, by operation"
)
PROCESS_DURATION = _i(
    "messaging.process.duration", "histogram", "s", "Handler or task time (sampled)"
)
DELIVERY_LAG = _i("pubsub_fanout.delivery.lag", "histogram", "s", "Publish time to acked (sampled)")
# Any service, by peer: 1 while it is unreachable, and for how long so far.
OUTAGE = _i("pubsub_fanout.outage", "gauge", "1", "1 while a peer is unreachable")
OUTAGE_DURATION = _i(
    "pubsub_fanout.outage.duration", "gauge", "s", "How long the current outage has lasted"
)
# The publisher: messaging.client.sent.messages with error.type on the failed ones.
SENT = _i("messaging.client.sent.messages", "counter", "{message}", "Publishes, by outcome")
# The work queue.
TERMINATED = _i(
    "pubsub_fanout.workqueue.tasks.terminated", "counter", "{task}", "Tasks past their deadline"
)
RETRIED = _i(
    "pubsub_fanout.workqueue.tasks.retried", "counter", "{task}", "Tasks on a later attempt"
)
# The sink.
STORED = _i("pubsub_fanout.sink.stored", "counter", "{message}", "Rows stored")
DUPLICATES = _i(
    "pubsub_fanout.sink.duplicates", "counter", "{message}", "Redeliveries already stored"
)
BATCH_SIZE = _i("pubsub_fanout.sink.batch.size", "histogram", "{message}", "Messages a commit")
COMMIT_DURATION = _i(
    "pubsub_fanout.sink.commit.duration", "histogram", "s", "One batch's transaction"
)
# The dashboard.
CLIENTS = _i("pubsub_fanout.dashboard.clients", "gauge", "{client}", "Browsers connected")
FRAMES = _i("pubsub_fanout.dashboard.frames", "counter", "{frame}", "Frames sent")
DROPPED = _i(
    "pubsub_fanout.dashboard.clients.dropped",
    "counter",
    "{client}",
    "Clients closed for not reading",
)

ALL = tuple(value for value in tuple(globals().values()) if isinstance(value, Instrument))

# Bucket boundaries: seconds for durations and lags, from a fast handler to a backlog.
SECONDS_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
