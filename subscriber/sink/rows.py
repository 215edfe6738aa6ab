"""A pulled batch as rows for the sink's tables: readings, and rejects for the rest. Pure.

Every message of a batch becomes exactly one row, in ``readings`` when it decodes as a
reading, else in ``rejects`` with the reason, so that acking the whole batch after one
commit loses nothing and retries nothing forever.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from common.messages.readings import InvalidReading, Reading, decode


@dataclass(frozen=True)
class Incoming:
    """One pulled message, as the sink needs it."""

    message_id: str
    data: bytes
    attributes: dict[str, str]
    publish_time: datetime
    # When the sink pulled it.
    received_at: datetime


@dataclass(frozen=True)
class ReadingRow:
    message: Incoming
    reading: Reading

    @property
    def payload(self) -> str:
        """The body as text for the ``payload`` jsonb column; a valid reading is UTF-8."""
        return self.message.data.decode("utf-8")


@dataclass(frozen=True)
class RejectRow:
    message: Incoming
    reason: str
    # False once PostgreSQL refused the attributes as JSON: stored as NULL instead.
    keep_attributes: bool = True

    def without_attributes(self, why: str) -> RejectRow:
        return replace(
            self, reason=f"{self.reason}; attributes dropped: {why}", keep_attributes=False
        )


@dataclass(frozen=True)
class Rows:
    readings: list[ReadingRow]
    rejects: list[RejectRow]

    def __len__(self) -> int:
        return len(self.readings) + len(self.rejects)


def split(batch: list[Incoming]) -> Rows:
    readings: list[ReadingRow] = []
    rejects: list[RejectRow] = []
    for message in batch:
        try:
            readings.append(ReadingRow(message, decode(message.data)))
        except InvalidReading as exc:
            rejects.append(RejectRow(message, str(exc)))
    return Rows(readings, rejects)


def refused(row: ReadingRow, error: str) -> RejectRow:
    """A reading the database refused (a constraint, text it cannot hold): a reject."""
    return RejectRow(row.message, f"refused by the database: {error}")
