"""A pulled batch as rows: the row mapper's row for each message, or a reject. Pure.

Every message of a batch becomes exactly one row: the row the mapper (SINK_ROW_MAPPER,
``common.seams.RowMapper``) makes of it, or, when the mapper raises (anything,
``BaseException`` included: a ``sys.exit`` in it must not end the sink) or returns
something that is not a row (an awaitable among others), a row in ``rejects`` with the
reason. So acking the whole batch after one commit loses nothing and retries nothing
forever. The demo's mapper, ``reading_row``, stores sensor readings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from common.logs import error_text
from common.messages.readings import decode
from common.seams import Incoming, Row, RowMapper, not_awaitable

__all__ = ["DEFAULT_ROW_MAPPER", "Incoming", "MappedRow", "RejectRow", "Rows", "reading_row"]

# SINK_ROW_MAPPER's default: the demo's readings.
DEFAULT_ROW_MAPPER = "subscriber.sink.rows:reading_row"
# The column the sink fills itself: the key that makes a redelivery add nothing.
KEY = "message_id"


def reading_row(message: Incoming) -> Row:
    """The demo: a sensor reading as a row of ``readings``; raises ``InvalidReading``
    (a ``ValueError``) for a body that is not one."""
    reading = decode(message.data)
    values = {
        "device": reading.device,
        "metric": reading.metric,
        "value": reading.value,
        "unit": reading.unit,
        "measured_at": reading.measured_at,
        # The body as sent, for the jsonb column: a valid reading is UTF-8 JSON.
        "payload": message.data.decode("utf-8"),
        "attributes": message.attributes,
        "publish_time": message.publish_time,
        "received_at": message.received_at,
    }
    description = f"{reading.describe()} measured_at={reading.measured_at.isoformat()}"
    return Row("readings", values, description)


@dataclass(frozen=True)
class MappedRow:
    """A message and the row the mapper made of it."""

    message: Incoming
    row: Row

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row.values)

    def describe(self) -> str:
        return self.row.description or f"table={self.row.table}"


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
    mapped: list[MappedRow]
    rejects: list[RejectRow]

    def __len__(self) -> int:
        return len(self.mapped) + len(self.rejects)


def checked(row: object) -> Row:
    """The mapper's return, checked before any SQL is made of it, its values copied into
    a dict (the mapper's own mapping is not read again); ``TypeError`` or ``ValueError``
    saying what is wrong."""
    row = not_awaitable(row, "the row mapper")
    if not isinstance(row, Row):
        raise TypeError(f"the row mapper must return a Row, not {type(row).__name__}")
    if not isinstance(row.table, str) or not row.table.strip():
        raise ValueError("a Row's table must be a table name")
    if not isinstance(row.values, Mapping) or not (values := dict(row.values)):
        raise ValueError("a Row's values must map column names to values")
    if not all(isinstance(column, str) and column for column in values):
        raise ValueError("a Row's column names must be strings")
    if KEY in values:
        raise ValueError(f"a Row's values must not hold {KEY}: the sink fills it")
    if not isinstance(row.description, str):
        raise TypeError(f"a Row's description must be a str, not {type(row.description).__name__}")
    return replace(row, values=values)


def split(batch: list[Incoming], mapper: RowMapper = reading_row) -> Rows:
    """Each message of ``batch`` as the mapper's row, or as a reject saying why not: a
    ``ValueError``'s text (the message is not one), any other error's class and text."""
    mapped: list[MappedRow] = []
    rejects: list[RejectRow] = []
    for message in batch:
        try:
            row = checked(mapper(message))
        except BaseException as exc:  # the mapper's, a sys.exit included: this message's
            rejects.append(RejectRow(message, error_text(exc, plain=(ValueError,))))
            continue
        mapped.append(MappedRow(message, row))
    return Rows(mapped, rejects)


def refused(row: MappedRow, why: str) -> RejectRow:
    """A row that could not be stored (the database refused it, or the driver could not
    send one of its values): a reject saying ``why``."""
    return RejectRow(row.message, why)
