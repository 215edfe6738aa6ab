"""What a callback reads of a message, and its one settlement."""

from datetime import UTC, datetime

import pytest
from google.pubsub_v1.types import ReceivedMessage

from common.receive import Received
from tests.support.fake_pubsub import received, received_message


def test_a_message_reads_the_raw_protobuf() -> None:
    message = received(b"body", "42", 3, {"k": "v"}, pulled_at=7.5)
    assert (message.message_id, message.ack_id, message.data) == ("42", "ack-42", b"body")
    assert dict(message.attributes) == {"k": "v"}
    assert message.publish_time == datetime(2026, 11, 22, 13, 45, tzinfo=UTC)
    assert (message.delivery_attempt, message.size, message.pulled_at) == (3, 4, 7.5)


def test_no_attempt_counted_without_a_dead_letter_policy() -> None:
    assert received(attempt=0).delivery_attempt is None


def test_ack_and_nack_tell_whoever_settles() -> None:
    told: list[tuple[Received, bool]] = []
    message = received(settle=lambda m, ack: told.append((m, ack)))
    message.ack()
    message.nack()
    assert told == [(message, True), (message, False)]


def test_the_publish_time_is_exact_to_the_microsecond() -> None:
    pb = ReceivedMessage.pb(received_message())
    pb.message.publish_time.FromNanoseconds(1_796_000_000_123_456_789)
    message = Received(pb, lambda m, ack: None, 0.0)
    assert message.publish_time == pb.message.publish_time.ToDatetime(tzinfo=UTC)
    assert message.publish_time.microsecond == 123_456
    assert message.publish_seconds == pytest.approx(1_796_000_000.123_456_789)
