"""The messages a sink holds, and what became of each once a batch is written.

Each message in hand (``Held``) carries the span of its handling, with tracing on
(``common.tracing``); it ends when the message is acked, or handed back at shutdown.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry.trace import Span

from common import tracing
from common.logs import fields
from common.receive import Received
from subscriber.sink.rows import Incoming, Rows
from subscriber.sink.store import Written

log = logging.getLogger(__name__)


def report(rows: Rows, written: Written) -> Counter[str]:
    """One line per message, after the commit: where it went. Returns the count of each
    fate: "stored", "rejected", "already stored"."""
    counts: Counter[str] = Counter()
    refused = {reject.message.message_id: reject.reason for reject in written.refused}
    for row in rows.mapped:
        message_id = row.message.message_id
        if message_id in written.stored:
            counts["stored"] += 1
            log.info(
                "stored message_id=%s %s",
                message_id,
                row.describe(),
                extra=fields(event="stored", message_id=message_id),
            )
        elif message_id in refused:
            counts["rejected"] += 1
            log_rejected(message_id, refused[message_id])
        else:
            counts["already stored"] += 1
            log.info(
                "message_id=%s was already stored (a redelivery)",
                message_id,
                extra=fields(event="already stored", message_id=message_id),
            )
    for reject in rows.rejects:
        message_id = reject.message.message_id
        if message_id in written.rejects:
            counts["rejected"] += 1
            log_rejected(message_id, reject.reason)
        else:
            counts["already stored"] += 1
            log.info("message_id=%s was already in rejects (a redelivery)", message_id)
    return counts


def log_rejected(message_id: str, reason: str) -> None:
    log.warning(
        "rejected message_id=%s: %s; kept in table rejects",
        message_id,
        reason,
        extra=fields(event="rejected", message_id=message_id, reason=reason),
    )


@dataclass(frozen=True)
class Held:
    """A message in hand: received and leased, not yet stored."""

    received: Received
    message: Incoming
    span: Span | None = None


def held(received: Received, subscription_path: str) -> Held:
    """What the sink keeps of a received message; starts its span."""
    incoming = Incoming(
        message_id=received.message_id,
        data=bytes(received.data),
        attributes=dict(received.attributes),
        publish_time=received.publish_time,
        received_at=datetime.now(UTC),
    )
    return Held(received, incoming, tracing.consuming(subscription_path, received))


def finish(batch: list[Held], result: str) -> None:
    """End the spans of ``batch`` with ``result`` ("ack", "nack")."""
    for entry in batch:
        tracing.finish(entry.span, result)
