"""The grid's columns: one per replica, what it has handled and whether it still listens.

Pure: no I/O; time comes in as ``now`` (seconds on the caller's monotonic clock).

How a column counts, exactly, whenever the dashboard started: every receipt carries the
replica's running totals for its session (one process's life). A column keeps the
highest totals seen per session and shows their sum; a receipt raises them by the
difference, or by nothing when it is late or delivered twice. So a dashboard started
after the replicas shows their whole counts at their first receipt, and the messages it
then sees are not counted again. Receipts from before totals existed (no session) add
their messages instead.

Status: ``joined`` while heard from; ``silent`` when nothing came for ``SILENT_AFTER``
announcement intervals (a replica killed, frozen or cut off); ``left`` once its session
said so. A new session (a replica restarted in place, same subscription) joins again.

Anyone who may publish to the receipts topic can forge receipts: invented replicas once
made as many columns and frames of megabytes (benchmarks/README.md, "Measured behaviour
behind the code"). So there are ``limit`` columns at most (the least recently heard goes
first: a real replica evicted by a flood is back at its next announcement), and a
receipt's ``every`` counts for ``MAX_EVERY_SECONDS`` at most, so no receipt keeps a column
joined for longer than a real replica's would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from common.messages.receipts import Receipt, Totals

Status = Literal["joined", "silent", "left"]
# Columns of replicas gone (left or silent) are kept for a while, not for ever.
MAX_GONE = 10
# A replica announces itself every few seconds when idle (ANNOUNCE_SECONDS in
# subscriber.fanout.receipts, sent as "every"); this many missed, plus delivery slack,
# and it is shown silent.
SILENT_AFTER = 3
SLACK_SECONDS = 1.0
DEFAULT_EVERY_SECONDS = 2.0
# A replica announces every 2 s; a receipt claiming more (up to the format's 3,600 s)
# counts as this.
MAX_EVERY_SECONDS = 10.0
DEFAULT_LIMIT = 32
# Sessions remembered per column: a replica restarted more often than this has its oldest
# sessions' totals folded into the column's sum.
MAX_SESSIONS = 8


@dataclass
class Session:
    totals: Totals = field(default_factory=lambda: Totals(0, 0))
    left: bool = False


@dataclass
class Column:
    # The replica's subscription ID, <topic>-<replica id>: its queue, kept across its
    # restarts in place (each a new session).
    id: str
    host: str
    revision: int
    last_heard: float
    status: Status = "joined"
    acked: int = 0
    rejected: int = 0
    every: float = DEFAULT_EVERY_SECONDS
    sessions: dict[str, Session] = field(default_factory=dict)
    latest_session: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "status": self.status,
            "acked": self.acked,
            "rejected": self.rejected,
        }


class Columns:
    """The replicas' columns in order of first receipt, ``limit`` at most; ``revision``
    marks changes."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._columns: dict[str, Column] = {}
        # When the set of columns last changed (one added or removed).
        self.set_revision = 0

    def __iter__(self) -> Iterator[Column]:
        return iter(self._columns.values())

    def __len__(self) -> int:
        return len(self._columns)

    def __contains__(self, column_id: str) -> bool:
        return column_id in self._columns

    def changed_since(self, revision: int) -> bool:
        return self.set_revision > revision or any(
            c.revision > revision for c in self._columns.values()
        )

    def apply(self, receipt: Receipt, now: float, revision: int) -> Totals:
        """Take one receipt in at ``revision``; what it adds to the acked and rejected
        counts (never negative)."""
        sender = receipt.sender
        column = self._columns.get(sender.subscription)
        if column is None:
            if len(self._columns) >= self.limit:
                quietest = min(self._columns.values(), key=lambda c: c.last_heard)
                del self._columns[quietest.id]
            column = Column(sender.subscription, sender.replica, revision, now)
            self._columns[column.id] = column
            self.set_revision = revision
        column.last_heard = now
        if receipt.every is not None:
            column.every = min(receipt.every, MAX_EVERY_SECONDS)
        added = _count(column, receipt)
        status = _status(column, receipt)
        if added != Totals(0, 0) or status != column.status:
            column.acked += added.acked
            column.rejected += added.rejected
            column.status = status
            column.revision = revision
        self._prune(revision)
        return added

    def expire(self, now: float, revision: int) -> bool:
        """Mark silent the columns not heard from in time; whether any changed."""
        changed = False
        for column in self._columns.values():
            quiet = now - column.last_heard
            if column.status == "joined" and quiet > SILENT_AFTER * column.every + SLACK_SECONDS:
                column.status = "silent"
                column.revision = revision
                changed = True
        if changed:
            self._prune(revision)
        return changed

    def listening(self) -> int:
        return sum(1 for c in self._columns.values() if c.status == "joined")

    def _prune(self, revision: int) -> None:
        gone = sorted(
            (c for c in self._columns.values() if c.status != "joined"), key=lambda c: c.last_heard
        )
        for column in gone[: max(0, len(gone) - MAX_GONE)]:
            del self._columns[column.id]
            self.set_revision = revision


def _count(column: Column, receipt: Receipt) -> Totals:
    if receipt.totals is None:  # a receipt from before totals: count what it lists
        rejected = sum(1 for m in receipt.messages if m.outcome == "rejected")
        return Totals(len(receipt.messages) - rejected, rejected)
    key = receipt.sender.session
    session = column.sessions.get(key)
    if session is None:
        session = column.sessions[key] = Session()
        column.latest_session = key
        while len(column.sessions) > MAX_SESSIONS:
            del column.sessions[next(iter(column.sessions))]
    before, reported = session.totals, receipt.totals
    session.totals = Totals(
        max(before.acked, reported.acked), max(before.rejected, reported.rejected)
    )
    return Totals(session.totals.acked - before.acked, session.totals.rejected - before.rejected)


def _status(column: Column, receipt: Receipt) -> Status:
    session = column.sessions.get(receipt.sender.session)
    if receipt.kind == "left":
        if session is not None:
            session.left = True
        # A late "left" from an earlier life says nothing about the current one.
        latest = receipt.sender.session == column.latest_session or receipt.totals is None
        return "left" if latest else column.status
    if session is not None and session.left:
        return column.status  # a receipt delivered after its session's "left"
    return "joined"
