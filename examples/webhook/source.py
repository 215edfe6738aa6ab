"""The publisher's side: business events that a partner wants to hear about."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from common.seams import Outgoing

TYPES = ("invoice.paid", "invoice.refunded", "customer.created")


def event(event_id: str, kind: str, amount_cents: int) -> bytes:
    """An event's body."""
    created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"event_id": event_id, "type": kind, "amount_cents": amount_cents}
    return json.dumps({**body, "created_at": created_at}).encode()


def webhook_events(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing:
    """``PUBLISHER_SOURCE=examples.webhook.source:webhook_events``."""
    event_id = f"evt-{publisher_id}-{sequence}"
    kind = rng.choice(TYPES)
    data = event(event_id, kind, rng.randrange(100, 100_000))
    attributes = {"content_type": "application/json", "event_type": kind}
    return Outgoing(data, attributes, f"event={event_id} {kind}", sequence)
