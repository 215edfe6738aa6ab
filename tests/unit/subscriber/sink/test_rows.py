"""How a pulled batch becomes rows: readings, and rejects for everything else."""

from datetime import UTC, datetime

from common.messages.readings import Reading
from subscriber.sink.rows import Incoming, ReadingRow, refused, split

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
    assert [row.message.message_id for row in rows.readings] == ["1", "5"]
    assert rows.readings[0].reading.value == 44.5
    assert rows.readings[0].payload == good.decode()
    reasons = {row.message.message_id: row.reason for row in rows.rejects}
    assert set(reasons) == {"2", "3", "4"}
    assert reasons["2"].startswith("body is not JSON")
    assert reasons["3"].startswith("not a reading: missing device")
    assert "out of range for humidity" in reasons["4"]
    assert len(rows) == len(batch)
    assert split([]).readings == []


def test_rows_the_database_refuses_become_rejects() -> None:
    data = Reading("kitchen", "co2", 600, "ppm", NOW).encode()[0]
    row = ReadingRow(incoming("7", data), Reading("kitchen", "co2", 600, "ppm", NOW))
    reject = refused(row, "CheckViolation: new row violates a check")
    assert reject.message.data == data
    assert reject.reason == "refused by the database: CheckViolation: new row violates a check"
    bare = reject.without_attributes("UntranslatableCharacter: \\u0000")
    assert not bare.keep_attributes
    assert bare.reason.endswith("; attributes dropped: UntranslatableCharacter: \\u0000")
