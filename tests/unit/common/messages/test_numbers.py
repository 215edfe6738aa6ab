"""Every decoder, every number field: a number out of range is its decoder's clean
rejection (a ``ValueError`` saying why), never ``OverflowError`` nor a value accepted past
what the rest of the stack can use (a browser reads integers exactly up to 2**53 - 1)."""

from collections.abc import Callable

import pytest

from common.messages import channels, readings, receipts, tasks

HUGE = "1" + "0" * 308  # past float's range: float() of it raises OverflowError
OUT_OF_RANGE = [HUGE, f"-{HUGE}", "1e309", "-1e309", str(2**53), "9" * 4000]
READING = (
    '{"device": "kitchen", "metric": "co2", "value": %s, "unit": "ppm", '
    '"measured_at": "2026-11-25T17:00:00Z"}'
)
HEAD = '"replica": "r", "subscription": "s"'
FIELDS: list[tuple[str, Callable[[bytes], object], str]] = [
    ("readings.value", readings.decode, READING),
    ("channels.channel_number", channels.decode, '{"channel_number": %s, "channel_name": "C"}'),
    (
        "channels.sequence",
        channels.decode,
        '{"channel_number": 1, "channel_name": "C", "sequence": %s}',
    ),
    ("tasks.size", tasks.decode, '{"task_id": "t", "kind": "spin", "size": %s}'),
    ("tasks.channel_number", tasks.decode, '{"channel_number": %s, "channel_name": "C"}'),
    (
        "receipts.acked",
        receipts.decode,
        '{"kind": "alive", ' + HEAD + ', "acked": %s, "rejected": 0, "every": 1}',
    ),
    ("receipts.every", receipts.decode, '{"kind": "alive", ' + HEAD + ', "every": %s}'),
    (
        "receipts.delivery_attempt",
        receipts.decode,
        '{"kind": "handled", '
        + HEAD
        + ', "messages": [{"message_id": "m", "outcome": "acked", "delivery_attempt": %s}]}',
    ),
]


# Each decoder's own error: what its callers catch as "not a message".
ERRORS: dict[str, type[ValueError]] = {
    "readings": readings.InvalidReading,
    "channels": channels.InvalidMessage,
    "tasks": tasks.InvalidTask,
    "receipts": receipts.InvalidReceipt,
}


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize(("field", "decode", "template"), FIELDS, ids=[f[0] for f in FIELDS])
def test_a_number_out_of_range_is_rejected_cleanly(
    field: str, decode: Callable[[bytes], object], template: str, number: str
) -> None:
    with pytest.raises(ERRORS[field.split(".", maxsplit=1)[0]]) as raised:
        decode((template % number).encode())
    assert len(str(raised.value)) < 200, "the reason quotes the number shortened"


def test_a_huge_reading_says_how_many_digits() -> None:
    with pytest.raises(readings.InvalidReading) as raised:
        readings.decode((READING % HUGE).encode())
    assert str(raised.value) == "value 100000… (309 digits)ppm is out of range for co2 (0 to 40000)"
