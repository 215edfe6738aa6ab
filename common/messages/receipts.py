"""Receipts: what a fan-out replica reports about its work, for the live view. Pure.

Replicas publish them to ``<topic>-receipts`` (``subscriber.fanout.receipts``); the
dashboard reads them (``dashboard.feeds``). A receipt is small UTF-8 JSON::

    {"kind": "handled", "replica": "3f2a9c1b7d0e",
     "subscription": "channel-3f2a9c1b7d0e", "session": "5e0c2a91",
     "acked": 1204, "rejected": 3,
     "messages": [{"message_id": "42", "outcome": "acked", "delivery_attempt": 1,
                   "handled_at": "2026-11-25T18:00:00.123Z"}]}

``kind`` is ``handled`` (the messages handled since the last receipt, each ``acked`` or
``rejected``), ``joined`` (the replica started listening), ``alive`` (it still listens:
sent when it has sent nothing else for ``every`` seconds) or ``left`` (it stops; its
subscription is about to go). The last three carry ``at`` and ``every`` (seconds between
announcements) instead of ``messages``.

Every receipt carries the replica's running totals, ``acked`` and ``rejected``: every
message it has acked or rejected in this ``session`` (one process's life; a random ID),
this receipt's included. Totals only grow within a session, so a reader that keeps the
highest it has seen per session counts exactly, whatever the order receipts arrive in,
however often one is delivered, and from whenever it started reading.

Receipts from replicas older than this format have no ``session`` nor totals; they
decode with ``session=""`` and ``totals=None``, and a reader counts their messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from common.messages._json import MAX_SAFE_INTEGER, decode_object, is_count

Kind = Literal["handled", "joined", "alive", "left"]
Announcement = Literal["joined", "alive", "left"]
Outcome = Literal["acked", "rejected"]
KINDS: tuple[Kind, ...] = ("handled", "joined", "alive", "left")
OUTCOMES: tuple[Outcome, ...] = ("acked", "rejected")
MAX_ID_LENGTH = 255  # a subscription ID's own limit, and plenty for a host or a session


class InvalidReceipt(ValueError):
    """The body is not a receipt; the dashboard ignores it."""


@dataclass(frozen=True)
class Handled:
    """One message a replica acked or rejected, as a ``handled`` receipt lists it."""

    message_id: str
    outcome: Outcome
    delivery_attempt: int | None
    handled_at: str


@dataclass(frozen=True)
class Totals:
    """A replica's running counts in one session: messages acked, messages rejected."""

    acked: int
    rejected: int


@dataclass(frozen=True)
class Sender:
    """Who sends a receipt: the replica's host, its subscription ID, its session."""

    replica: str
    subscription: str
    session: str


def encode_handled(handled: Sequence[Handled], sender: Sender, totals: Totals) -> bytes:
    """A ``handled`` receipt's body; raises ``ValueError`` for an empty ``handled``."""
    if not handled:
        raise ValueError("a handled receipt needs at least one message")
    body = _header("handled", sender, totals)
    # Spelled out: dataclasses.asdict was most of this function's cost.
    body["messages"] = [
        {
            "message_id": entry.message_id,
            "outcome": entry.outcome,
            "delivery_attempt": entry.delivery_attempt,
            "handled_at": entry.handled_at,
        }
        for entry in handled
    ]
    return json.dumps(body, separators=(",", ":")).encode()


def encode_announcement(
    kind: Announcement, sender: Sender, totals: Totals, *, at: str, every: float
) -> bytes:
    """A ``joined``, ``alive`` or ``left`` receipt's body."""
    body = _header(kind, sender, totals)
    body["at"] = at
    body["every"] = every
    return json.dumps(body, separators=(",", ":")).encode()


def _header(kind: Kind, sender: Sender, totals: Totals) -> dict[str, Any]:
    return {
        "kind": kind,
        "replica": sender.replica,
        "subscription": sender.subscription,
        "session": sender.session,
        "acked": totals.acked,
        "rejected": totals.rejected,
    }


@dataclass(frozen=True)
class Receipt:
    """One receipt, decoded: who sent it, its totals, and what it reports."""

    kind: Kind
    sender: Sender
    # None: a receipt from before totals (count its messages instead).
    totals: Totals | None
    at: str = ""
    # Seconds between this replica's announcements; None when not said.
    every: float | None = None
    messages: tuple[Handled, ...] = ()


def decode(data: bytes) -> Receipt:
    """A receipt's body; raises ``InvalidReceipt`` saying what is wrong with it."""
    body = decode_object(data, InvalidReceipt)
    kind = body.get("kind")
    if kind not in KINDS:
        raise InvalidReceipt(f"kind must be handled, joined, alive or left, got {kind!r:.40}")
    sender = Sender(
        _text(body, "replica", required=True),
        _text(body, "subscription", required=True),
        _text(body, "session", required=False),
    )
    totals = _totals(body)
    if kind != "handled":
        return Receipt(kind, sender, totals, str(body.get("at", ""))[:40], _every(body))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidReceipt("a handled receipt needs a non-empty list of messages")
    return Receipt(kind, sender, totals, messages=tuple(_handled(entry) for entry in messages))


def _text(body: dict[str, Any], name: str, *, required: bool) -> str:
    value = body.get(name, None if required else "")
    if not isinstance(value, str) or (required and not value) or len(value) > MAX_ID_LENGTH:
        raise InvalidReceipt(f"{name} must be a string of at most {MAX_ID_LENGTH} characters")
    return value


def _totals(body: dict[str, Any]) -> Totals | None:
    counts = body.get("acked"), body.get("rejected")
    if counts == (None, None):
        return None
    acked, rejected = counts
    if not is_count(acked) or not is_count(rejected):
        raise InvalidReceipt(
            f"acked and rejected must be counts (integers from 0 to {MAX_SAFE_INTEGER})"
        )
    return Totals(acked, rejected)


def _every(body: dict[str, Any]) -> float | None:
    every = body.get("every")
    if every is None:
        return None
    # The range check also refuses NaN and infinities; no float() of a huge integer.
    if not isinstance(every, int | float) or isinstance(every, bool) or not 0 < every <= 3600:
        raise InvalidReceipt("every must be seconds in (0, 3600]")
    return float(every)


def _handled(entry: Any) -> Handled:
    if not isinstance(entry, dict):
        raise InvalidReceipt("each handled message must be a JSON object")
    message_id, outcome = entry.get("message_id"), entry.get("outcome")
    attempt = entry.get("delivery_attempt")
    if not isinstance(message_id, str) or not message_id or len(message_id) > MAX_ID_LENGTH:
        raise InvalidReceipt("a handled message needs a message_id")
    if outcome not in OUTCOMES:
        raise InvalidReceipt(f"outcome must be acked or rejected, got {outcome!r:.40}")
    if attempt is not None and not is_count(attempt, minimum=1):
        raise InvalidReceipt(f"delivery_attempt must be an integer from 1 to {MAX_SAFE_INTEGER}")
    return Handled(message_id, outcome, attempt, str(entry.get("handled_at", ""))[:40])
