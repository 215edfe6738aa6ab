import json

import pytest

from dashboard.grid import InvalidReceipt, parse_receipts
from subscriber.config import SubscriberConfig
from subscriber.receipts import Handled, encode_handled, encode_lifecycle


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
    receipts = parse_receipts(data)
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
    [receipt] = parse_receipts(data)
    assert (receipt.kind, receipt.message_id) == (kind, None)


def test_handled_receipt_needs_a_message() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        encode_handled([], replica="h", subscription="s")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff", "not UTF-8 JSON"),
        (b"[]", "not a JSON object"),
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
        parse_receipts(data)


def test_receipts_topic_defaults_and_can_be_turned_off() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert SubscriberConfig.from_env(base).receipts_topic_id == "channel-receipts"
    named = SubscriberConfig.from_env({**base, "RECEIPTS_TOPIC": "seen"})
    assert named.receipts_topic_id == "seen"
    assert SubscriberConfig.from_env({**base, "RECEIPTS": "off"}).receipts_topic_id is None
    shared = SubscriberConfig.from_env({**base, "SUBSCRIPTION_MODE": "shared"})
    assert shared.receipts_topic_id is None, "work queue workers send no receipts"
