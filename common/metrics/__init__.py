"""Metrics with OpenTelemetry, from every service: what a consumer received, acked,
rejected and dead-lettered, how far behind it is, what it holds, its failed calls and
outages; the publisher's publishes; the work queue's tasks; the sink's batches; the live
view's browsers. Names and attributes follow OpenTelemetry's semantic conventions for
messaging where they define one (``names``).

    metrics.configure(mode, service, port, instance)   # once per process (common.service)
    observer = metrics.consumer(subscription_path)     # subscribe(..., observer=observer)
    observer.rejected("InvalidMessage", attempt, max_attempts)
    observer.processed(seconds)

Out in Prometheus's format on ``/metrics`` (``METRICS_PORT``), or over OTLP
(``setup``). Cheap on the hot path: totals are plain integers read at collection time,
histograms of per-message values are sampled (``samples``; benchmarks/README.md,
"Metrics"). Label values are bounded: subscription and topic IDs, operation names,
error types; never a message ID or text from a message.
"""

from common.metrics.consumer import ConsumerMetrics, consumer
from common.metrics.roles import (
    WorkQueueMetrics,
    dashboard,
    publisher,
    sink,
    workqueue,
)
from common.metrics.setup import MetricsPortError, configure, enabled, shutdown

__all__ = [
    "ConsumerMetrics",
    "MetricsPortError",
    "WorkQueueMetrics",
    "configure",
    "consumer",
    "dashboard",
    "enabled",
    "publisher",
    "shutdown",
    "sink",
    "workqueue",
]
