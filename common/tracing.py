"""Tracing with OpenTelemetry: off by default, one setting to turn it on (TRACING).

- ``TRACING=otlp``: spans go over OTLP/gRPC to any collector, at the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4317``);
- ``TRACING=cloud-trace``: spans go to Cloud Trace in ``GCP_PROJECT_ID``, with the
  service's own credentials;
- ``TRACING=off``: nothing is set up, and no span is made anywhere.

The trace context travels in each message's attributes, as the client library writes it
when its publisher's tracing is on (``googclient_traceparent``, W3C trace context): a
consumer's span is a child of the publish, so one trace shows the publish and every
replica's handling. The spans follow the client library's own names and attributes
(``<subscription> subscribe``, ``messaging.message.id``, ...), which it gives its
StreamingPull consumers; our consumers pull unary, so they make them here. The
standard ``OTEL_*`` variables (sampler, batch delays) apply as the SDK reads them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from google.cloud.pubsub_v1.open_telemetry.context_propagation import (
    OpenTelemetryContextGetter,
)
from opentelemetry import context, trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from common.config import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

# The attributes' system name, as the client library's spans have it.
MESSAGING_SYSTEM = "gcp_pubsub"
# How many messages a batch step (a pull, an ack) concerns: OpenTelemetry's attribute.
MESSAGE_COUNT = "messaging.batch.message_count"
FLUSH_TIMEOUT_MILLIS = 2_000
_tracer = trace.get_tracer("pubsub-fanout")
_provider: TracerProvider | None = None


def enabled() -> bool:
    return _provider is not None


def configure(mode: str, service: str, project_id: str) -> None:
    """Set up the exporter ``mode`` names for this process, as ``pubsub-fanout-<service>``;
    nothing for ``off``. Raises ``ConfigError`` naming TRACING when this image has no
    such exporter, or the ``OTEL_*`` settings when the SDK refuses them."""
    global _provider, _tracer
    if mode == "off":
        return
    try:
        # The SDK is imported only when tracing is on: a service that traces nothing
        # should not pay for loading it at every start.
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

        exporter = _exporter(mode, project_id)
    except ImportError as exc:
        raise ConfigError(
            f"TRACING={mode}: this image has no {mode} exporter ({exc.name or exc}); "
            "use an image built with the tracing extra (publisher, subscriber), or TRACING=off"
        ) from None
    try:
        resource = Resource.create({"service.name": f"pubsub-fanout-{service}"})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    except ValueError as exc:  # an OTEL_* setting the SDK cannot read (batch sizes, ...)
        raise ConfigError(f"TRACING={mode}: an OTEL_* setting is not valid: {exc}") from None
    trace.set_tracer_provider(provider)
    _provider, _tracer = provider, provider.get_tracer("pubsub-fanout")
    log.info("tracing on: spans exported to %s", mode)


def _exporter(mode: str, project_id: str) -> SpanExporter:
    # Imported when chosen: each exporter brings its own weight, and most runs use none.
    if mode == "cloud-trace":
        from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter  # noqa: PLC0415

        return CloudTraceSpanExporter(project_id=project_id)  # type: ignore[no-untyped-call]
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter()


def shutdown() -> None:
    """Export what is left; on the way out."""
    if _provider is not None:
        _provider.force_flush(FLUSH_TIMEOUT_MILLIS)
        _provider.shutdown()


class Consumed(Protocol):
    """What ``consuming`` reads of a pulled message (``common.receive.Received``)."""

    @property
    def message_id(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...
    @property
    def delivery_attempt(self) -> int | None: ...


def consuming(subscription_path: str, message: Consumed) -> Span | None:
    """Start the span of this consumer's handling of a pulled message (the caller ends it
    with ``finish``): a child of the message's publish when its attributes carry the trace
    context. None with tracing off, without reading the message."""
    if _provider is None:
        return None
    subscription = subscription_path.rsplit("/", 1)[-1]
    parent = TraceContextTextMapPropagator().extract(
        carrier=message, getter=OpenTelemetryContextGetter()
    )
    return _tracer.start_span(
        f"{subscription} subscribe",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.destination.name": subscription,
            "gcp.project_id": subscription_path.split("/")[1],
            "messaging.message.id": message.message_id,
            "messaging.message.body.size": len(message.data),
            "messaging.gcp_pubsub.message.delivery_attempt": message.delivery_attempt or 0,
        },
    )


def finish(span: Span | None, result: str) -> None:
    """End a span from ``consuming`` with its result ("ack", "nack", ...)."""
    if span is not None:
        span.set_attribute("messaging.gcp_pubsub.result", result)
        span.end()


# With tracing off, every step and handling shares one context that does nothing: a
# generator's context costs microseconds a message (benchmarks/README.md, "Where the
# CPU goes").
_OFF = contextlib.nullcontext(trace.INVALID_SPAN)


def within(span: Span | None) -> contextlib.AbstractContextManager[object]:
    """Make ``span`` current meanwhile, so that spans started inside are its children."""
    return _OFF if span is None else _within(span)


@contextlib.contextmanager
def _within(span: Span) -> Iterator[None]:
    token = context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        context.detach(token)


def step(
    name: str,
    subscription_path: str,
    attributes: Mapping[str, str | int] | None = None,
    *,
    links: Iterable[Span | None] = (),
) -> contextlib.AbstractContextManager[Span]:
    """A span around one step of a consumer's work (``pull``, ``store``, ``ack``, ...),
    current meanwhile, linked to the spans of the messages it concerns (``links``: a
    batch step belongs to many traces, so it is a child of none). With tracing off,
    yields a span that records nothing."""
    if _provider is None:
        return _OFF
    return _step(name, subscription_path, attributes or {}, links)


@contextlib.contextmanager
def _step(
    name: str,
    subscription_path: str,
    attributes: Mapping[str, str | int],
    links: Iterable[Span | None],
) -> Iterator[Span]:
    subscription = subscription_path.rsplit("/", 1)[-1]
    tags: Mapping[str, str | int] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.destination.name": subscription,
        **attributes,
    }
    span_links = [Link(span.get_span_context()) for span in links if span is not None]
    with _tracer.start_as_current_span(
        f"{subscription} {name}", attributes=tags, links=span_links
    ) as span:
        yield span
