"""``dead-letters list`` and ``show ID``: what is parked in the dead-letter subscription.

Pub/Sub gives a dead letter a new message ID and attributes of its own
(``common.messages.dead_letters``); it keeps the original's data and attributes, but not
its ID nor why the handler refused it (the replica logged that: event ``rejected``, at
the original's publish time). Looking takes every dead letter in hand for a moment and
hands it back: nothing is acked.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.pubsub_v1 import types

from common.logs import escape
from common.messages import dead_letters
from ctl.holding import Holder
from ctl.output import FAILED, Result, preview, table

# How long a look waits for more dead letters once a pull brings none.
LOOK_IDLE_SECONDS = 1.0
# What a look keeps of each body it only lists: enough for the preview. Bodies go up to
# 10 MB, and a list of many would not fit the command's container (256 MB in compose).
LISTED_DATA_BYTES = 1024


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter, as Pub/Sub parked it."""

    dead_letter_id: str
    dead_lettered_at: datetime
    # The subscription that gave up on it (its ID), and after how many deliveries.
    source_subscription: str | None
    attempts: int | None
    # The original message's publish time, when Pub/Sub said.
    published_at: str | None
    # The original's data, or its first bytes only (``parse``'s limit): ``size`` says.
    data: bytes
    size: int
    # The original's own attributes (Pub/Sub's dead-letter ones left out).
    attributes: dict[str, str]

    @property
    def reason(self) -> str:
        attempts = "all" if self.attempts is None else f"all {self.attempts}"
        source = self.source_subscription or "a subscription Pub/Sub did not name"
        return f"{source} failed to handle it on {attempts} delivery attempts"

    def copy_key(self) -> tuple[bytes, tuple[tuple[str, str], ...], str | None]:
        """What the fan-out copies of one message share: each replica's subscription
        dead-letters its own copy, with the same data, attributes and publish time. The
        data by its SHA-256: a republish keeps a key per message, and bodies go to 10 MB."""
        digest = hashlib.sha256(self.data).digest()
        return (digest, tuple(sorted(self.attributes.items())), self.published_at)

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        found: dict[str, Any] = {
            "dead_letter_id": self.dead_letter_id,
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "source_subscription": self.source_subscription,
            "attempts": self.attempts,
            "published_at": self.published_at,
            "reason": self.reason,
            "size": self.size,
        }
        if full:
            found["attributes"] = self.attributes
            found["data_base64"] = base64.b64encode(self.data).decode()
        return found


def parse(received: types.ReceivedMessage, data_limit: int | None = None) -> DeadLetter:
    """A pulled dead letter, with its data's first ``data_limit`` bytes (None: all of
    it); any attribute may be missing or malformed (None then)."""
    message = received.message
    data = message.data
    attributes = dict(message.attributes)
    published = dead_letters.published_at(attributes)
    return DeadLetter(
        dead_letter_id=message.message_id,
        dead_lettered_at=message.publish_time,
        source_subscription=dead_letters.source_subscription(attributes),
        attempts=dead_letters.attempts(attributes),
        published_at=published.isoformat(timespec="milliseconds") if published else None,
        data=bytes(data[:data_limit]),
        size=len(data),
        attributes=dead_letters.own_attributes(attributes),
    )


def look(holder: Holder, stop: threading.Event, wanted: str | None = None) -> list[DeadLetter]:
    """Every dead letter (or until ``wanted`` is found), handed back afterwards; only
    ``wanted`` with all its data, the others with their first ``LISTED_DATA_BYTES``."""
    found: list[DeadLetter] = []
    try:
        for batch in holder.pull_until_idle(
            LOOK_IDLE_SECONDS, stop, done=lambda: any(d.dead_letter_id == wanted for d in found)
        ):
            for received in batch:
                whole = received.message.message_id == wanted
                found.append(parse(received, None if whole else LISTED_DATA_BYTES))
    finally:
        holder.release()
    return sorted(found, key=lambda d: d.dead_lettered_at)


def list_command(holder: Holder, stop: threading.Event) -> Result:
    letters = look(holder, stop)
    rows = [
        (
            d.dead_letter_id,
            d.dead_lettered_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.source_subscription,
            d.attempts,
            preview(d.data, 40, size=d.size),
        )
        for d in letters
    ]
    headers = ("ID", "DEAD-LETTERED (UTC)", "FROM SUBSCRIPTION", "ATTEMPTS", "DATA")
    text = table(headers, rows) if rows else f"no dead letters in {holder.path}"
    data = {"subscription": holder.path, "dead_letters": [d.to_json() for d in letters]}
    return Result(data, text)


def show_command(holder: Holder, stop: threading.Event, dead_letter_id: str) -> Result:
    match = [d for d in look(holder, stop, dead_letter_id) if d.dead_letter_id == dead_letter_id]
    if not match:
        text = f"no dead letter {escape(dead_letter_id)} in {holder.path}"
        return Result({"error": text}, text, FAILED)
    letter = match[0]
    return Result(letter.to_json(full=True), describe(letter))


def describe(letter: DeadLetter) -> str:
    """``letter`` in full for people, every text from Pub/Sub escaped (its reason names
    the source subscription, an attribute anyone may forge)."""
    attributes = ", ".join(f"{escape(k)}={escape(v)}" for k, v in sorted(letter.attributes.items()))
    lines = [
        f"dead letter   {letter.dead_letter_id}",
        f"reason        {escape(letter.reason)}",
        f"published     {letter.published_at or '-'}",
        f"dead-lettered {letter.dead_lettered_at.isoformat()}",
        f"attributes    {attributes or '-'}",
        f"data          {preview(letter.data, 2000)}",
        "why the handler refused it: the replica's log, event 'rejected', at that publish time",
    ]
    return "\n".join(lines)
