"""The process's meter: set up once at start (``configure``), as ``common.tracing`` is.

- ``METRICS=prometheus`` (the default): ``/metrics`` in Prometheus's text format on
  ``METRICS_PORT`` (9464), served on a thread of its own, for Prometheus to scrape;
- ``METRICS=otlp``: pushed over OTLP/gRPC to any collector, at the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``OTEL_METRIC_EXPORT_INTERVAL``: every 60 s unless
  set), whence Cloud Monitoring and Google Managed Prometheus take them;
- ``METRICS=off``: no meter, no thread, no port; every instrument does nothing.

Each series carries the service's instance (``service_instance_id``: the host, a
container's or pod's name) besides Prometheus's own ``instance``, which is an address.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics

from common.logs import fields
from common.metrics.samples import Recorder

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader

log = logging.getLogger(__name__)
FLUSH_TIMEOUT_MILLIS = 2_000
INSTANCE = "service.instance.id"


class MetricsPortError(Exception):
    """METRICS_PORT cannot be listened on (taken by another process, or privileged)."""


class _State:
    meter: metrics.Meter = metrics.NoOpMeter("pubsub-fanout")
    provider: MeterProvider | None = None
    server: object = None
    recorder: Recorder | None = None


_state = _State()


def enabled() -> bool:
    return _state.provider is not None


def meter() -> metrics.Meter:
    """This process's meter; one that records nothing while metrics are off."""
    return _state.meter


def recorder() -> Recorder | None:
    """The thread that records sampled values into histograms; None while off."""
    return _state.recorder


def configure(mode: str, service: str, port: int, instance: str) -> int | None:
    """Set up the exporter ``mode`` names, for ``pubsub-fanout-<service>`` on host
    ``instance``; returns the port /metrics is served on (None unless "prometheus").
    Raises ``MetricsPortError``; with an exporter missing from the image, says so and
    leaves metrics off (the service still runs)."""
    if mode == "off":
        return None
    # The SDK and the exporters are imported only when metrics are on: a service without
    # them should not pay for loading them at every start.
    try:
        from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415

        reader, server, bound = _reader(mode, port)
    except ImportError as exc:
        log.error("METRICS=%s needs %s, which this image lacks: metrics off", mode, exc.name)
        return None
    resource = Resource.create({"service.name": f"pubsub-fanout-{service}", INSTANCE: instance})
    use(MeterProvider(metric_readers=[reader], resource=resource))
    _state.server = server
    where = f"/metrics on port {bound}" if bound is not None else "OTLP"
    log.info("metrics on: %s", where, extra=fields(event="metrics on", port=bound))
    return bound


def _reader(mode: str, port: int) -> tuple[MetricReader, object, int | None]:
    if mode == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter,
        )
        from opentelemetry.sdk.metrics.export import (  # noqa: PLC0415
            PeriodicExportingMetricReader,
        )

        return PeriodicExportingMetricReader(OTLPMetricExporter()), None, None
    from opentelemetry.exporter.prometheus import PrometheusMetricReader  # noqa: PLC0415
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415
    from prometheus_client.process_collector import ProcessCollector  # noqa: PLC0415

    # A registry of its own: the process's CPU and memory, and ours; nothing global.
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    reader = PrometheusMetricReader(
        scope_info_enabled=False,
        registry=registry,
        resource_attribute_filter=lambda key: key == INSTANCE,
    )
    try:
        server, _ = start_http_server(port, registry=registry)
    except OSError as exc:
        raise MetricsPortError(f"METRICS_PORT={port} cannot be listened on: {exc}") from None
    return reader, server, int(server.server_port)


def use(provider: MeterProvider) -> None:
    """Record through ``provider`` from now on (``configure``; tests give their own)."""
    _state.provider = provider
    _state.meter = provider.get_meter("pubsub-fanout")
    _state.recorder = Recorder()
    _state.recorder.start()


def _close(server: Any) -> None:
    server.shutdown()
    server.server_close()


def shutdown() -> None:
    """Record what is sampled, export what is left, stop serving; on the way out."""
    recorder, provider, server = _state.recorder, _state.provider, _state.server
    if recorder is not None:
        recorder.stop()
    if provider is not None:
        provider.force_flush(FLUSH_TIMEOUT_MILLIS)
        provider.shutdown()
    if server is not None:
        # Its loop looks for the stop every 0.5 s: not worth holding a shutdown up for.
        threading.Thread(target=_close, args=(server,), daemon=True).start()
    _state.meter = metrics.NoOpMeter("pubsub-fanout")
    _state.provider = _state.server = _state.recorder = None
