"""Receipts: what a fan-out replica reports about its work, for the live view. Pure.

Replicas publish them to ``<topic>-receipts`` (``subscriber.fanout.receipts``); the
dashboard reads them (``dashboard.feeds``). A receipt is small UTF-8 JSON::

    {"kind": "handled", "replica": "3f2a9c1b7d0e",
     "subscription": "channel-3f2a9c1b7d0e-1a2b3c4d",
     "messages": [{"message_id": "42", "outcome": "acked", "delivery_attempt": 1,
                   "handled_at": "2026-11-25T18:00:00.123Z"}]}

``kind`` is ``handled`` (the messages handled since the last receipt, each ``acked`` or
``rejected``), ``joined`` (the replica started listening) or ``left`` (it stops; its
subscription is about to go); these two carry ``at`` instead of ``messages``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from common.messages._json import decode_object

Kind = Literal["handled", "joined", "left"]
Outcome = Literal["acked", "rejected"]
KINDS: tuple[Kind, ...] = ("handled", "joined", "left")
OUTCOMES: tuple[Outcome, ...] = ("acked", "rejected")


class InvalidReceipt(ValueError):
    """The body is not a receipt; the dashboard ignores it."""


@dataclass(frozen=True)
class Handled:
    """One message a replica acked or rejected, as a ``handled`` receipt lists it."""

    message_id: str
    outcome: Outcome
    delivery_attempt: int | None
    handled_at: str


def encode_handled(handled: Sequence[Handled], *, replica: str, subscription: str) -> bytes:
    """A ``handled`` receipt's body; raises ``ValueError`` for an empty ``handled``."""
    if not handled:
        raise ValueError("a handled receipt needs at least one message")
    body = {
        "kind": "handled",
        "replica": replica,
        "subscription": subscription,
        # Spelled out: dataclasses.asdict was most of this function's cost.
        "messages": [
            {
                "message_id": entry.message_id,
                "outcome": entry.outcome,
                "delivery_attempt": entry.delivery_attempt,
                "handled_at": entry.handled_at,
            }
            for entry in handled
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def encode_lifecycle(
    kind: Literal["joined", "left"], *, replica: str, subscription: str, at: str
) -> bytes:
    """A ``joined`` or ``left`` receipt's body."""
    body: dict[str, Any] = {"kind": kind, "replica": replica, "subscription": subscription}
    body["at"] = at
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Receipt:
    """One reported event: a message handled, or a replica joining or leaving."""

    kind: Kind
    replica: str
    subscription: str
    at: str
    message_id: str | None = None
    outcome: Outcome | None = None
    delivery_attempt: int | None = None


def decode(data: bytes) -> list[Receipt]:
    """A receipt's body as one ``Receipt`` per message it reports (``joined`` and
    ``left``: one with no message); raises ``InvalidReceipt`` saying what is wrong."""
    body = decode_object(data, InvalidReceipt)
    kind, replica, subscription = body.get("kind"), body.get("replica"), body.get("subscription")
    if kind not in KINDS:
        raise InvalidReceipt(f"kind must be handled, joined or left, got {kind!r:.40}")
    if not isinstance(replica, str) or not isinstance(subscription, str) or not subscription:
        raise InvalidReceipt("replica and subscription must be strings")
    if kind != "handled":
        return [Receipt(kind, replica, subscription, str(body.get("at", "")))]
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidReceipt("a handled receipt needs a non-empty list of messages")
    return [_handled(replica, subscription, entry) for entry in messages]


def _handled(replica: str, subscription: str, entry: Any) -> Receipt:
    if not isinstance(entry, dict):
        raise InvalidReceipt("each handled message must be a JSON object")
    message_id, outcome = entry.get("message_id"), entry.get("outcome")
    attempt = entry.get("delivery_attempt")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidReceipt("a handled message needs a message_id")
    if outcome not in OUTCOMES:
        raise InvalidReceipt(f"outcome must be acked or rejected, got {outcome!r:.40}")
    if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
        raise InvalidReceipt("delivery_attempt must be an integer")
    return Receipt(
        "handled",
        replica,
        subscription,
        str(entry.get("handled_at", "")),
        message_id=message_id,
        outcome=outcome,
        delivery_attempt=attempt,
    )
