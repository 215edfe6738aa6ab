"""With TRACING=otlp, one published message is one trace: the publish, and each consumer's
handling as its child, exported over OTLP to a receiver of the tests' own
(``tests.support.otlp``), as to any collector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from tests.integration.conftest import Services
from tests.integration.sinks import start_sink, stored_ids
from tests.support.otlp import ReceivedSpan, Receiver, running_receiver
from tests.support.postgres import PostgresServer
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def otlp() -> Iterator[tuple[Receiver, dict[str, str]]]:
    with running_receiver() as (receiver, endpoint):
        settings = {
            "TRACING": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            # Export within a fifth of a second rather than the default five.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        yield receiver, settings


def published(publisher: ServiceProcess, timeout: float = 30) -> str:
    """The ID of the first message ``publisher`` logs as published."""
    return str(publisher.wait_for_event("published", timeout=timeout)["message_id"])


def spans_of(receiver: Receiver, message_id: str) -> list[ReceivedSpan]:
    return [s for s in receiver.spans() if s.attributes.get("messaging.message.id") == message_id]


def test_one_published_message_is_one_trace_with_a_consumer_span_per_replica(
    services: Services, created_topic: str, otlp: tuple[Receiver, dict[str, str]]
) -> None:
    receiver, tracing = otlp
    replicas = [services.start("subscriber", created_topic, **tracing) for _ in range(2)]
    paths = [replica.wait_for_event("listening")["subscription"] for replica in replicas]
    publisher = services.start(
        "publisher", created_topic, PUBLISH_INTERVAL_SECONDS="0.5", **tracing
    )
    message_id = published(publisher)

    def complete() -> list[ReceivedSpan] | None:
        spans = spans_of(receiver, message_id)
        consumers = [s for s in spans if s.kind == SpanProto.SPAN_KIND_CONSUMER]
        return spans if len(consumers) == len(replicas) and len(spans) > len(consumers) else None

    spans = wait_for(complete, timeout=30, what=f"the spans of message {message_id}")
    (publish,) = [s for s in spans if s.kind == SpanProto.SPAN_KIND_PRODUCER]
    assert publish.service == "pubsub-fanout-publisher"
    assert publish.name == f"{created_topic} create"
    consumers = [s for s in spans if s.kind == SpanProto.SPAN_KIND_CONSUMER]
    assert {s.trace_id for s in spans} == {publish.trace_id}, "one trace"
    assert {s.parent_span_id for s in consumers} == {publish.span_id}, "children of the publish"
    subscriptions = sorted(path.rsplit("/", 1)[-1] for path in paths)
    assert sorted(s.attributes["messaging.destination.name"] for s in consumers) == subscriptions
    assert {s.attributes["messaging.gcp_pubsub.result"] for s in consumers} == {"ack"}
    assert {s.service for s in consumers} == {"pubsub-fanout-subscriber"}

    # Each handling has the handler's own span as its child; the batch calls (pull, ack)
    # are spans of their own, exported in their own time (the acks go out on a thread).
    expected = {f"{sub} {step}" for sub in subscriptions for step in ("pull", "ack")}
    wait_for(
        lambda: expected <= {s.name for s in receiver.spans()},
        timeout=30,
        what=f"spans named {sorted(expected)}",
    )
    processing = [s for s in receiver.spans() if s.parent_span_id in {c.span_id for c in consumers}]
    assert sorted(s.name for s in processing) == [f"{sub} process" for sub in subscriptions]
    for service in [*replicas, publisher]:
        assert service.terminate()[0] == 0


def test_the_sink_stores_a_batch_in_a_span_linked_to_its_messages(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    otlp: tuple[Receiver, dict[str, str]],
) -> None:
    receiver, tracing = otlp
    sink = start_sink(services, created_topic, postgres, **tracing)
    sink.wait_for_event("connected")
    publisher = services.start(
        "publisher",
        created_topic,
        PUBLISHER_MODE="readings",
        PUBLISH_INTERVAL_SECONDS="0.5",
        **tracing,
    )
    message_id = published(publisher)
    wait_for(lambda: message_id in stored_ids(postgres), timeout=30, what="the reading stored")

    def traced() -> tuple[ReceivedSpan, ReceivedSpan, ReceivedSpan] | None:
        """The publish, the sink's span of the message, and the store linked to it."""
        spans = spans_of(receiver, message_id)
        publishes = [s for s in spans if s.kind == SpanProto.SPAN_KIND_PRODUCER]
        handlings = [s for s in spans if s.kind == SpanProto.SPAN_KIND_CONSUMER]
        if not (publishes and handlings):
            return None
        linked = [s for s in receiver.spans() if handlings[0].span_id in s.linked_span_ids]
        return (publishes[0], handlings[0], linked[0]) if linked else None

    publish, handling, store = wait_for(traced, timeout=30, what=f"the spans of {message_id}")
    assert handling.parent_span_id == publish.span_id
    assert handling.attributes["messaging.gcp_pubsub.result"] == "ack"
    assert store.name == f"{created_topic}-sink store"
    assert store.attributes["messaging.batch.message_count"] >= 1
    for service in [sink, publisher]:
        assert service.terminate()[0] == 0
