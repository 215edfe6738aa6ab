"""How a pulled batch becomes rows: the row mapper's, and rejects for everything else."""

import asyncio
import inspect
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest

from common.messages.readings import Reading
from common.seams import Incoming, Row
from subscriber.sink.rows import MappedRow, reading_row, refused, split

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def incoming(message_id: str, data: bytes) -> Incoming:
    return Incoming(message_id, data, {"publisher": "p1"}, NOW, NOW)


def test_a_batch_splits_into_one_row_per_message() -> None:
    good = Reading("kitchen", "humidity", 44.5, "%", NOW).encode()[0]
    batch = [
        incoming("1", good),
        incoming("2", b"not json"),
        incoming("3", b'{"hello": "world"}'),
        incoming("4", good.replace(b"44.5", b"144.5")),
        incoming("5", good),
    ]
    rows = split(batch)
    assert [row.message.message_id for row in rows.mapped] == ["1", "5"]
    row = rows.mapped[0].row
    assert row.table == "readings"
    assert row.values["value"] == 44.5
    assert row.values["payload"] == good.decode()
    assert row.values["attributes"] == {"publisher": "p1"}
    assert rows.mapped[0].describe() == (
        "kitchen humidity=44.5% measured_at=2026-11-25T17:00:00+00:00"
    )
    reasons = {row.message.message_id: row.reason for row in rows.rejects}
    assert set(reasons) == {"2", "3", "4"}
    assert reasons["2"].startswith("body is not JSON")
    assert reasons["3"].startswith("not a reading: missing device")
    assert "out of range for humidity" in reasons["4"]
    assert len(rows) == len(batch)
    assert split([]).mapped == []


def test_a_mapper_of_ones_own_makes_the_rows() -> None:
    def order_row(message: Incoming) -> Row:
        if message.data == b"boom":
            raise KeyError("total")  # a bug, not a bad message: named by its class
        return Row("shop.orders", {"body": message.data.decode()})

    rows = split([incoming("1", b"x"), incoming("2", b"boom")], order_row)
    (mapped,) = rows.mapped
    assert (mapped.row.table, mapped.columns, mapped.describe()) == (
        "shop.orders",
        ("body",),
        "table=shop.orders",
    )
    assert [reject.reason for reject in rows.rejects] == ["KeyError: 'total'"]


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        (None, "TypeError: the row mapper must return a Row, not NoneType"),
        (Row("", {"a": 1}), "a Row's table must be a table name"),
        (Row("t", {}), "a Row's values must map column names to values"),
        (Row("t", {"message_id": "x"}), "a Row's values must not hold message_id"),
        (Row("t", {"a": 1}, None), "TypeError: a Row's description must be a str"),  # type: ignore[arg-type]
    ],
)
def test_a_mapper_returning_no_usable_row_makes_a_reject(returned: object, reason: str) -> None:
    rows = split([incoming("1", b"x")], lambda _: returned)  # type: ignore[arg-type]
    assert rows.mapped == []
    assert rows.rejects[0].reason.startswith(reason)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SystemExit(2), "SystemExit: 2"),  # argparse's
        (KeyboardInterrupt(), "KeyboardInterrupt"),
        (asyncio.CancelledError(), "CancelledError"),
        (GeneratorExit(), "GeneratorExit"),
    ],
)
def test_a_base_exception_from_the_mapper_makes_a_reject(error: BaseException, reason: str) -> None:
    def mapper(message: Incoming) -> Row:
        if message.data == b"bad":
            raise error
        return Row("t", {"body": message.data.decode()})

    rows = split([incoming("1", b"good"), incoming("2", b"bad"), incoming("3", b"good")], mapper)
    assert [row.message.message_id for row in rows.mapped] == ["1", "3"]
    assert [(r.message.message_id, r.reason) for r in rows.rejects] == [("2", reason)]


def test_an_awaitable_from_the_mapper_makes_a_reject_and_is_closed() -> None:
    async def row_later(message: Incoming) -> Row:
        raise AssertionError("never run")

    coroutines: list[object] = []

    def mapper(message: Incoming) -> Row:
        coroutines.append(coroutine := row_later(message))
        return coroutine  # type: ignore[return-value]

    (reject,) = split([incoming("1", b"x")], mapper).rejects
    assert reject.reason.startswith("TypeError: the row mapper returned an awaitable (coroutine)")
    assert inspect.getcoroutinestate(coroutines[0]) == inspect.CORO_CLOSED  # type: ignore[arg-type]


class OnceMapping(Mapping[str, object]):
    """A mapping that can be iterated once, as a generator-backed one might."""

    def __init__(self) -> None:
        self._read = False

    def __getitem__(self, key: str) -> object:
        return 1

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        if self._read:
            raise RuntimeError("read twice")
        self._read = True
        return iter(["a"])


def test_a_rows_values_are_copied_once_checked() -> None:
    (mapped,) = split([incoming("1", b"x")], lambda _: Row("t", OnceMapping())).mapped
    assert type(mapped.row.values) is dict
    assert mapped.row.values == {"a": 1}


def test_rows_that_cannot_be_stored_become_rejects() -> None:
    data = Reading("kitchen", "co2", 600, "ppm", NOW).encode()[0]
    row = MappedRow(incoming("7", data), reading_row(incoming("7", data)))
    reject = refused(row, "refused by the database: CheckViolation: new row violates a check")
    assert reject.message.data == data
    assert reject.reason == "refused by the database: CheckViolation: new row violates a check"
    bare = reject.without_attributes("UntranslatableCharacter: \\u0000")
    assert not bare.keep_attributes
    assert bare.reason.endswith("; attributes dropped: UntranslatableCharacter: \\u0000")
