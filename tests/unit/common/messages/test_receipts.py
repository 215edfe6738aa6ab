import json

import pytest

from common.messages.receipts import (
    Handled,
    InvalidReceipt,
    Receipt,
    Sender,
    Totals,
    decode,
    encode_announcement,
    encode_handled,
)

HEAD = b'"replica": "h", "subscription": "s"'
SENDER = Sender("3f2a9c1b7d0e", "channel-3f2a9c1b7d0e", "5e0c2a91")


def test_handled_receipt_carries_what_the_dashboard_needs() -> None:
    data = encode_handled(
        [
            Handled("42", "acked", 1, "2026-11-25T18:00:00.123Z"),
            Handled("43", "rejected", 2, "2026-11-25T18:00:00.150Z"),
        ],
        SENDER,
        Totals(acked=1204, rejected=3),
    )
    assert json.loads(data) == {
        "kind": "handled",
        "replica": "3f2a9c1b7d0e",
        "subscription": "channel-3f2a9c1b7d0e",
        "session": "5e0c2a91",
        "acked": 1204,
        "rejected": 3,
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
    # The dashboard reads what the subscriber writes.
    receipt = decode(data)
    assert (receipt.kind, receipt.sender, receipt.totals) == ("handled", SENDER, Totals(1204, 3))
    assert [(m.message_id, m.outcome, m.delivery_attempt) for m in receipt.messages] == [
        ("42", "acked", 1),
        ("43", "rejected", 2),
    ]


@pytest.mark.parametrize("kind", ["joined", "alive", "left"])
def test_announcements_name_the_replica_and_carry_its_totals(kind: str) -> None:
    data = encode_announcement(kind, SENDER, Totals(7, 1), at="t", every=2.0)  # type: ignore[arg-type]
    assert json.loads(data) == {
        "kind": kind,
        "replica": "3f2a9c1b7d0e",
        "subscription": "channel-3f2a9c1b7d0e",
        "session": "5e0c2a91",
        "acked": 7,
        "rejected": 1,
        "at": "t",
        "every": 2.0,
    }
    assert decode(data) == Receipt(kind, SENDER, Totals(7, 1), "t", 2.0)  # type: ignore[arg-type]


def test_a_receipt_from_before_totals_still_decodes() -> None:
    message = b'{"message_id": "1", "outcome": "acked"}'
    old = b'{"kind": "handled", ' + HEAD + b', "messages": [' + message + b"]}"
    receipt = decode(old)
    assert (receipt.sender.session, receipt.totals) == ("", None)
    assert [m.message_id for m in receipt.messages] == ["1"]
    left = decode(b'{"kind": "left", "replica": "h", "subscription": "s", "at": "t"}')
    assert (left.kind, left.totals, left.every) == ("left", None, None)


def test_handled_receipt_needs_a_message() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        encode_handled([], SENDER, Totals(0, 0))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff", "body is not UTF-8"),
        (b"[]", "body is a JSON list, not an object"),
        (b'{"kind": "eaten", ' + HEAD + b"}", "kind must be"),
        (b'{"kind": "left", "replica": 1, "subscription": "s"}', "replica must be a string"),
        (b'{"kind": "left", "replica": "h", "subscription": ""}', "subscription must be"),
        (b'{"kind": "left", ' + HEAD + b', "session": 5}', "session must be"),
        (b'{"kind": "left", ' + HEAD + b', "session": "' + b"x" * 300 + b'"}', "at most 255"),
        (b'{"kind": "alive", ' + HEAD + b', "acked": -1, "rejected": 0}', "must be counts"),
        (b'{"kind": "alive", ' + HEAD + b', "acked": 1}', "must be counts"),
        (b'{"kind": "alive", ' + HEAD + b', "acked": true, "rejected": 0}', "must be counts"),
        (b'{"kind": "alive", ' + HEAD + b', "every": 0}', "every must be"),
        (b'{"kind": "alive", ' + HEAD + b', "every": 1e308}', "every must be"),
        (b'{"kind": "alive", ' + HEAD + b', "every": ' + b"9" * 400 + b"}", "every must be"),
        (b'{"kind": "handled", ' + HEAD + b"}", "non-empty list"),
        (b'{"kind": "handled", ' + HEAD + b', "messages": [7]}', "object"),
        (b'{"kind": "handled", ' + HEAD + b', "messages": [{}]}', "needs a message_id"),
        (
            b'{"kind": "handled", '
            + HEAD
            + b', "messages": [{"message_id": "1", "outcome": "x"}]}',
            "outcome must be",
        ),
        (
            b'{"kind": "handled", '
            + HEAD
            + b', "messages": [{"message_id": "1", "outcome": "acked", "delivery_attempt": "1"}]}',
            "delivery_attempt must be",
        ),
    ],
)
def test_bad_receipts_are_refused_with_a_reason(data: bytes, error: str) -> None:
    with pytest.raises(InvalidReceipt, match=error):
        decode(data)
