import logging
import queue

import pytest
from google.cloud.pubsub_v1.subscriber import message as pubsub_message
from google.cloud.pubsub_v1.subscriber._protocol import requests
from google.pubsub_v1.types import PubsubMessage

from common.messages.channels import Channel, ChannelMessage
from subscriber.fanout.handler import ChannelHandler


def received(
    data: bytes, *, message_id: str = "42", delivery_attempt: int = 1
) -> tuple[pubsub_message.Message, "queue.Queue[object]"]:
    """A message as the streaming pull hands it to the callback; acks land in the queue."""
    requests_out: queue.Queue[object] = queue.Queue()
    raw = PubsubMessage(data=data, message_id=message_id)._pb
    return pubsub_message.Message(raw, "ack-1", delivery_attempt, requests_out), requests_out


def test_good_message_is_logged_with_its_id_then_acked(caplog: pytest.LogCaptureFixture) -> None:
    data, _ = ChannelMessage(
        Channel(22, "Cartoon"), 9, "2026-11-22T13:45:00.123Z", "pub-1"
    ).encode()
    message, requests_out = received(data, message_id="1234")
    handler = ChannelHandler(max_delivery_attempts=5)
    with caplog.at_level(logging.INFO):
        handler(message)
    assert isinstance(requests_out.get_nowait(), requests.AckRequest)
    assert requests_out.empty()
    assert (
        "received message_id=1234 channel=22 Cartoon sequence=9 publisher=pub-1 "
        "sent_at=2026-11-22T13:45:00.123Z"
    ) in caplog.text
    assert (handler.handled, handler.rejected) == (1, 0)


@pytest.mark.parametrize(("attempt", "fate"), [(1, "attempt 1 of 5"), (5, "now dead-letters it")])
def test_bad_message_is_nacked_toward_the_dead_letter_topic(
    caplog: pytest.LogCaptureFixture, attempt: int, fate: str
) -> None:
    message, requests_out = received(b"not json", message_id="77", delivery_attempt=attempt)
    handler = ChannelHandler(max_delivery_attempts=5)
    handler(message)
    assert isinstance(requests_out.get_nowait(), requests.NackRequest)
    assert requests_out.empty()
    assert "rejected message_id=77: body is not JSON" in caplog.text
    assert fate in caplog.text
    assert (handler.handled, handler.rejected) == (0, 1)


def test_outcome_is_reported_after_the_ack_or_nack() -> None:
    reported: list[tuple[str, str, int | None]] = []
    acks_seen_first: list[bool] = []
    good, good_requests = received(ChannelMessage(Channel(7, "Movies")).encode()[0], message_id="1")
    bad, bad_requests = received(b"{}", message_id="2", delivery_attempt=3)

    def on_outcome(message_id: str, outcome: str, attempt: int | None) -> None:
        requests_out = good_requests if message_id == "1" else bad_requests
        acks_seen_first.append(not requests_out.empty())
        reported.append((message_id, outcome, attempt))

    handler = ChannelHandler(max_delivery_attempts=5, on_outcome=on_outcome)
    handler(good)
    handler(bad)
    assert reported == [("1", "acked", 1), ("2", "rejected", 3)]
    assert acks_seen_first == [True, True], "a receipt tells what was done, not what will be"
