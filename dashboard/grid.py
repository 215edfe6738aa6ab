"""The live view's state: messages by replicas, counters, rates. Pure: no I/O, no clock.

Three feeds change it (``published``, ``receipt``, ``dead_lettered``), always on one
thread; ``tick(now)`` brings the time in. Every change raises ``revision`` and stamps
what it touched with it, so that a frame for a client holds exactly what changed since
the revision that client last got (``dashboard.frames``).

Rows: at most ``history``, the newest. At a high rate not every message gets a row: at
most ``history / ROW_SECONDS`` new rows a second (10 with the default 50; at least 1),
so each row
stays long enough for its replicas' receipts to fill its cells; a message a replica
rejects gets one regardless, being the one worth seeing. ``counters.shown`` says how many
messages had a row; the counters count every message.

Receipts and the published messages arrive on different subscriptions, in any order: a
receipt for a message not yet seen is held (``Recent``) until the message comes.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from common.logs import escape
from common.messages.channels import InvalidMessage, decode
from common.messages.receipts import Receipt
from dashboard.columns import DEFAULT_LIMIT, Columns
from dashboard.letters import DeadLetters, Fingerprint, fingerprint, millis
from dashboard.limits import TokenBucket
from dashboard.rates import RateMeter
from dashboard.recent import Recent

# A row stays at least this long at the highest rates: receipts take a few tenths of a
# second, so its cells fill before it scrolls away.
ROW_SECONDS = 5.0
# Messages remembered to tell a redelivery from a new one and to link dead letters.
SEEN_MESSAGES = 65_536
# Receipts remembered to tell a redelivered receipt from a new one.
SEEN_RECEIPTS = 4_096
# Outcomes held for messages whose receipt came before the message itself.
EARLY_OUTCOMES = 4_096
# A body that is not a channel message (your own, the examples') is shown by its start.
PREVIEW_CHARACTERS = 40


@dataclass(frozen=True)
class Delivery:
    """A message as one of the dashboard's own subscriptions delivered it."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    publish_time: datetime | None = None

    @property
    def key(self) -> str:
        """What tells this message from any other: its ID, and its publish time, because
        an emulator restarted empty hands out the same IDs again from 1."""
        return f"{self.message_id}@{millis(self.publish_time)}"


@dataclass(frozen=True, slots=True)
class Seen:
    """What the grid remembers of each message seen, row or not."""

    fingerprint: Fingerprint
    channel: str
    sequence: int | None


@dataclass
class Row:
    message_id: str
    index: int  # 1 for the first row the grid made, and so on: the page's order
    revision: int
    channel: str
    sequence: int | None
    # subscription ID (the column) -> "acked", "rejected" or "dead-lettered"
    handled: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "index": self.index,
            "channel": self.channel,
            "sequence": self.sequence,
            "handled": self.handled,
        }


@dataclass
class Counters:
    published: int = 0  # distinct messages seen on the topic since the dashboard started
    shown: int = 0  # of which had a row
    acked: int = 0  # the replicas' own totals, summed
    rejected: int = 0
    dead_lettered: int = 0  # distinct dead letters seen
    deliveries: int = 0  # outcomes the dashboard has been told of (for the rate)


class Grid:
    def __init__(self, history: int, max_replicas: int = DEFAULT_LIMIT) -> None:
        self.history = history
        self.revision = 0
        self.now = 0.0
        self.rows: OrderedDict[str, Row] = OrderedDict()
        self.columns = Columns(max_replicas)
        self.letters = DeadLetters()
        self.counters = Counters()
        self.rates = RateMeter()
        self._next_index = 1
        self.rows_per_second = max(1.0, history / ROW_SECONDS)
        self._row_tokens = TokenBucket(rate=self.rows_per_second, burst=self.rows_per_second)
        self._seen: Recent[Seen] = Recent(SEEN_MESSAGES)
        self._receipts: Recent[None] = Recent(SEEN_RECEIPTS)
        self._dead_letters: Recent[None] = Recent(SEEN_RECEIPTS)
        self._early: Recent[dict[str, str]] = Recent(EARLY_OUTCOMES)

    def published(self, delivery: Delivery) -> None:
        """A message seen on the topic; a redelivery of one already seen changes nothing."""
        seen = Seen(
            fingerprint(delivery.data, delivery.attributes, delivery.publish_time),
            *_label(delivery.data),
        )
        before = self._seen.get(delivery.message_id)
        if before is not None and before.fingerprint.published_ms == seen.fingerprint.published_ms:
            return
        # New, or a new message under a reused ID (published at another time): the latest.
        self._seen.pop(delivery.message_id)
        self._seen.add(delivery.message_id, seen)
        self._changed_counters().published += 1
        early = self._early.pop(delivery.message_id)
        if self._row_tokens.wait_time(self.now) > 0:
            return  # counted, but no row: the page says rows are a sample
        self._new_row(delivery.message_id, seen).handled.update(early or {})

    def receipt(self, receipt: Receipt, delivery: Delivery) -> None:
        """A replica's receipt, decoded from ``delivery``."""
        if not self._receipts.add(delivery.key, None):
            return
        counters = self._changed_counters()
        added = self.columns.apply(receipt, self.now, self.revision)
        counters.acked += added.acked
        counters.rejected += added.rejected
        counters.deliveries += len(receipt.messages)
        column = receipt.sender.subscription
        for handled in receipt.messages:
            if handled.outcome == "rejected" and (seen := self._seen.get(handled.message_id)):
                self.letters.rejected(handled.message_id, column, seen.fingerprint)
                if handled.message_id not in self.rows:
                    # The interesting one: it gets a row, even when rows are a sample.
                    self._new_row(handled.message_id, seen)
            self._mark(handled.message_id, column, handled.outcome)

    def dead_lettered(self, delivery: Delivery) -> None:
        """A message on the dead-letter topic; linked to its row when its rejection was seen."""
        if not self._dead_letters.add(delivery.key, None):
            return
        self._changed_counters().dead_lettered += 1
        letter = self.letters.arrived(
            delivery.message_id, delivery.data, delivery.attributes, self.revision
        )
        if letter.message_id is not None and letter.replica is not None:
            self._mark(letter.message_id, letter.replica, "dead-lettered")

    def tick(self, now: float) -> None:
        """The time now (seconds, monotonic): replicas not heard from turn silent; rates."""
        self.now = now
        if self.columns.expire(now, self.revision + 1):
            self.revision += 1
        self.rates.sample(now, self.counters.published, self.counters.deliveries)

    def counters_json(self) -> dict[str, int]:
        counters = asdict(self.counters)
        del counters["deliveries"]
        return counters

    def _mark(self, message_id: str, column: str, outcome: str) -> None:
        row = self.rows.get(message_id)
        if row is None:
            if message_id not in self._seen:  # the receipt came first: hold it
                early = self._early.get(message_id)
                if early is None:
                    self._early.add(message_id, early := {})
                if self._has_room(early, column):
                    early[column] = _merge(early.get(column), outcome)
            return  # else: a message without a row (sampled out, or scrolled away)
        if not self._has_room(row.handled, column):
            return
        merged = _merge(row.handled.get(column), outcome)
        if merged != row.handled.get(column):
            row.handled[column] = merged
            row.revision = self.revision

    def _has_room(self, cells: dict[str, str], column: str) -> bool:
        """Whether ``cells`` (a row's, by column) may hold ``column``'s: as many cells as
        there may be columns, those of columns gone (evicted by a flood of invented
        replicas) making way first. So a frame stays bounded, forged receipts or not."""
        if column in cells or len(cells) < self.columns.limit:
            return True
        for gone in [c for c in cells if c not in self.columns]:
            del cells[gone]
        return len(cells) < self.columns.limit

    def _new_row(self, message_id: str, seen: Seen) -> Row:
        self.counters.shown += 1
        row = Row(message_id, self._next_index, self.revision, seen.channel, seen.sequence)
        self.rows.pop(message_id, None)  # a reused ID: the new message goes on top
        self.rows[message_id] = row
        self._next_index += 1
        while len(self.rows) > self.history:
            self.rows.popitem(last=False)
        return row

    def _changed_counters(self) -> Counters:
        # Every frame carries the counters: a new revision is all a change needs.
        self.revision += 1
        return self.counters


def _label(data: bytes) -> tuple[str, int | None]:
    """A message's channel as its row shows it, and its sequence number; for any other
    body, its first ``PREVIEW_CHARACTERS`` characters, escaped (text from a message is
    never trusted), and no sequence."""
    try:
        message = decode(data)
    except InvalidMessage:
        text = data[: PREVIEW_CHARACTERS * 4].decode("utf-8", "replace")
        if not text:
            return "(empty)", None
        cut = text[:PREVIEW_CHARACTERS]
        return escape(cut) + ("…" if len(text) > PREVIEW_CHARACTERS else ""), None
    # Interned: 65,536 remembered messages share a few strings, not one each.
    return sys.intern(f"{message.channel.number} {message.channel.name}"), message.sequence


def _merge(before: str | None, outcome: str) -> str:
    # A dead letter is final: a late receipt of an earlier rejection does not undo it.
    return before if before == "dead-lettered" else outcome
