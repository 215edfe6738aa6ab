import json

import pytest

from common.messages.receipts import (
    Handled,
    InvalidReceipt,
    decode,
    encode_handled,
    encode_lifecycle,
)


def test_handled_receipt_carries_what_the_dashboard_needs() -> None:
    data = encode_handled(
        [
            Handled("42", "acked", 1, "2026-11-25T18:00:00.123Z"),
            Handled("43", "rejected", 2, "2026-11-25T18:00:00.150Z"),
        ],
        replica="3f2a9c1b7d0e",
        subscription="channel-3f2a9c1b7d0e-1a2b3c4d",
    )
    assert json.loads(data) == {
        "kind": "handled",
        "replica": "3f2a9c1b7d0e",
        "subscription": "channel-3f2a9c1b7d0e-1a2b3c4d",
        "messages": [
            {
                "message_id": "42",
                "outcome": "acked",
                "delivery_attempt": 1,
                "handled_at": "2026-11-25T18:00:00.123Z",
            },
            {
                "message_id": "43",
                "outcome": "rejected",
                "delivery_attempt": 2,
                "handled_at": "2026-11-25T18:00:00.150Z",
            },
        ],
    }
    # The dashboard reads what the subscriber writes: a receipt per message.
    receipts = decode(data)
    assert [(r.kind, r.message_id, r.outcome, r.delivery_attempt) for r in receipts] == [
        ("handled", "42", "acked", 1),
        ("handled", "43", "rejected", 2),
    ]
    assert {r.subscription for r in receipts} == {"channel-3f2a9c1b7d0e-1a2b3c4d"}


@pytest.mark.parametrize("kind", ["joined", "left"])
def test_lifecycle_receipts_name_the_replica(kind: str) -> None:
    data = encode_lifecycle(kind, replica="h", subscription="channel-h-1", at="t")  # type: ignore[arg-type]
    assert json.loads(data) == {
        "kind": kind,
        "replica": "h",
        "subscription": "channel-h-1",
        "at": "t",
    }
    [receipt] = decode(data)
    assert (receipt.kind, receipt.message_id) == (kind, None)


def test_handled_receipt_needs_a_message() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        encode_handled([], replica="h", subscription="s")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff", "body is not UTF-8"),
        (b"[]", "body is a JSON list, not an object"),
        (b'{"kind": "eaten", "replica": "h", "subscription": "s"}', "kind must be"),
        (b'{"kind": "left", "replica": 1, "subscription": "s"}', "must be strings"),
        (b'{"kind": "handled", "replica": "h", "subscription": "s"}', "non-empty list"),
        (b'{"kind": "handled", "replica": "h", "subscription": "s", "messages": [7]}', "object"),
        (
            b'{"kind": "handled", "replica": "h", "subscription": "s", "messages": [{}]}',
            "needs a message_id",
        ),
        (
            b'{"kind": "handled", "replica": "h", "subscription": "s",'
            b' "messages": [{"message_id": "1", "outcome": "lost"}]}',
            "outcome must be",
        ),
    ],
)
def test_bad_receipts_are_refused_with_a_reason(data: bytes, error: str) -> None:
    with pytest.raises(InvalidReceipt, match=error):
        decode(data)
