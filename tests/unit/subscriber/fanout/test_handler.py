"""The demo's handler, and what a handler is given. Acks, nacks and their receipts go
through Pub/Sub itself: tests/integration/test_fanout*.py."""

import logging
from datetime import UTC, datetime

import pytest

from common.messages.channels import Channel, ChannelMessage, InvalidMessage
from subscriber.fanout.handler import Delivery, log_channel
from tests.support.fake_pubsub import received


def delivery(data: bytes, *, attempt: int = 1) -> Delivery:
    return Delivery.of(received(data, "1234", attempt, {"publisher": "pub-1"}))


def test_a_delivery_carries_the_message_and_its_attempt() -> None:
    received = delivery(b"body", attempt=3)
    assert (received.message_id, received.data, received.delivery_attempt) == ("1234", b"body", 3)
    assert received.attributes == {"publisher": "pub-1"}
    assert received.publish_time == datetime(2026, 11, 22, 13, 45, tzinfo=UTC)
    # 0 is what Pub/Sub sends for a subscription without a dead-letter policy.
    assert delivery(b"body", attempt=0).delivery_attempt is None


def test_a_channel_message_is_logged_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    data, _ = ChannelMessage(
        Channel(22, "Cartoon"), 9, "2026-11-22T13:45:00.123Z", "pub-1"
    ).encode()
    with caplog.at_level(logging.INFO):
        log_channel(delivery(data))
    assert (
        "received message_id=1234 channel=22 Cartoon sequence=9 publisher=pub-1 "
        "sent_at=2026-11-22T13:45:00.123Z"
    ) in caplog.text
    (record,) = caplog.records
    assert record.fields == {  # type: ignore[attr-defined]
        "event": "received",
        "message_id": "1234",
        "channel": 22,
        "sequence": 9,
        "sent_at": "2026-11-22T13:45:00.123Z",
    }


def test_anything_else_raises_so_the_replica_rejects_it() -> None:
    with pytest.raises(InvalidMessage, match="body is not JSON"):
        log_channel(delivery(b"not json"))
