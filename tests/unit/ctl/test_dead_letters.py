"""Dead letters as Pub/Sub parks them, and the republish's pace. Pure."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from ctl import republish
from ctl.dead_letters import LISTED_DATA_BYTES, DeadLetter, describe, look, parse
from ctl.holding import Holder
from ctl.output import preview
from ctl.republish import Pacer


def parked(attributes: dict[str, str], data: bytes = b"not json") -> types.ReceivedMessage:
    message = types.PubsubMessage(
        data=data,
        attributes=attributes,
        message_id="91",
        publish_time=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
    )
    return types.ReceivedMessage(ack_id="a", message=message)


def test_a_dead_letter_says_where_it_failed_and_after_how_many_attempts() -> None:
    letter = parse(
        parked(
            {
                "origin": "probe",
                "CloudPubSubDeadLetterSourceSubscription": "channel-replica-a",
                "CloudPubSubDeadLetterSourceDeliveryCount": "5",
                "CloudPubSubDeadLetterSourceTopicPublishTime": "1765022400123",
            }
        )
    )
    assert letter.dead_letter_id == "91"
    assert letter.attributes == {"origin": "probe"}, "Pub/Sub's own attributes left out"
    assert letter.attempts == 5
    assert letter.published_at == "2025-12-06T12:00:00.123+00:00"
    assert letter.reason == "channel-replica-a failed to handle it on all 5 delivery attempts"
    assert letter.to_json(full=True)["data_base64"] == "bm90IGpzb24="


def test_missing_or_malformed_attributes_are_none() -> None:
    letter = parse(parked({"CloudPubSubDeadLetterSourceDeliveryCount": "²"}))
    assert (letter.attempts, letter.source_subscription, letter.published_at) == (None,) * 3
    assert "a subscription Pub/Sub did not name" in letter.reason


def test_shown_in_full_every_forged_text_is_escaped() -> None:
    # Anyone who may publish to the dead-letter topic writes these attributes.
    letter = parse(
        parked(
            {
                "CloudPubSubDeadLetterSourceSubscription": "\x1b[2J\rchannel-a\u202e\nforged",
                "\x1b]0;title\x07": "\x1b[5mblink",
            },
            b"\x1b[31mred\r\n",
        )
    )
    text = describe(letter)
    assert not any(c in text for c in "\x1b\x07\r\u202e"), text
    assert len(text.splitlines()) == 7, "one line per field, the reason's included"
    assert "reason        \\x1b[2J\\rchannel-a\\u202e\\nforged failed to handle it" in text
    assert "attributes    \\x1b]0;title\\x07=\\x1b[5mblink" in text
    assert "data          \\x1b[31mred\\r\\n" in text


def test_fan_out_copies_share_a_key_and_other_messages_do_not() -> None:
    def copy(subscription: str, data: bytes = b"x") -> types.ReceivedMessage:
        return parked(
            {
                "CloudPubSubDeadLetterSourceSubscription": subscription,
                "CloudPubSubDeadLetterSourceTopicPublishTime": "1765022400123",
            },
            data,
        )

    one, other = parse(copy("channel-a")), parse(copy("channel-b"))
    assert one.copy_key() == other.copy_key()
    assert parse(copy("channel-a", b"y")).copy_key() != one.copy_key()
    # A republish keeps one key per message it sent: not the message's body.
    big = parse(copy("channel-a", b"z" * 1_000_000)).copy_key()
    assert sum(len(repr(part)) for part in big) < 1000


class FakeStop(threading.Event):
    """A stop event whose waits pass on a fake clock at once, and are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.now += timeout or 0.0
        return False


def test_the_pacer_keeps_to_its_rate() -> None:
    stop = FakeStop()
    pacer = Pacer(4, clock=lambda: stop.now)
    for _ in range(3):
        pacer.wait(stop)
    assert stop.waits == [0.25, 0.25]
    Pacer(None, clock=lambda: stop.now).wait(stop)
    assert len(stop.waits) == 2, "no limit: no wait"


class ParkedDeadLetters:
    """The client calls a ``Holder`` makes, answered from memory: one pull brings
    ``messages``, the next ones nothing; lease changes recorded."""

    def __init__(self, messages: list[types.ReceivedMessage]) -> None:
        self._batches = [messages]
        self.modified: list[tuple[list[str], int]] = []

    def get_subscription(self, **_: object) -> types.Subscription:
        return types.Subscription(ack_deadline_seconds=10)

    def pull(self, **_: object) -> types.PullResponse:
        batch = self._batches.pop() if self._batches else []
        return types.PullResponse(received_messages=batch)

    def modify_ack_deadline(self, ack_ids: list[str], ack_deadline_seconds: int, **_: Any) -> None:
        self.modified.append((list(ack_ids), ack_deadline_seconds))


def test_a_list_keeps_the_start_of_each_body_and_show_the_whole_of_its_own() -> None:
    # Bodies of up to 10 MB each: a list of many kept whole did not fit ctl's 256 MB.
    size = 3 * LISTED_DATA_BYTES
    bodies = [b"a" * size, "é".encode() * (size // 2), b"\xff" * size]
    messages = [
        types.ReceivedMessage(
            ack_id=f"ack-{n}",
            message=types.PubsubMessage(
                data=body, message_id=str(n), publish_time=datetime(2026, 12, 6, tzinfo=UTC)
            ),
        )
        for n, body in enumerate(bodies)
    ]

    def look_at(wanted: str | None = None) -> tuple[list[DeadLetter], ParkedDeadLetters]:
        parked_here = ParkedDeadLetters(list(messages))
        holder = Holder(cast(pubsub_v1.SubscriberClient, parked_here), "projects/p/subscriptions/s")
        return look(holder, FakeStop(), wanted), parked_here

    listed, parked_here = look_at()
    assert [(len(d.data), d.size) for d in listed] == [(LISTED_DATA_BYTES, size)] * 3
    [(handed_back, lease)] = parked_here.modified
    assert (sorted(handed_back), lease) == (["ack-0", "ack-1", "ack-2"], 0), "all handed back"
    previews = [preview(d.data, 40, size=d.size) for d in listed]
    # Cut within a character ("é" is two bytes): still text; not UTF-8 at all: said.
    assert previews == ["a" * 39 + "…", "é" * 39 + "…", f"<{size} bytes, not UTF-8>"]
    assert [d.to_json()["size"] for d in listed] == [size] * 3
    shown, _ = look_at("1")
    assert shown[1].data == bodies[1], "the dead letter shown is whole"


class UnconfirmedPublisher:
    """A publisher whose every publish is sent and never confirmed."""

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future[str]:
        return Future()


def test_a_republish_pubsub_does_not_confirm_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(republish, "CONFIRM_SECONDS", 0.01)
    letter = parse(parked({}))
    publisher = cast(pubsub_v1.PublisherClient, UnconfirmedPublisher())
    with pytest.raises(TimeoutError, match=r"did not confirm the republish of dead letter 91"):
        republish._publish(publisher, "projects/p/topics/t", letter)


class ConfirmingPublisher:
    """A publisher that confirms every publish at once, with the next message ID."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future[str]:
        self.sent.append(data)
        future: Future[str] = Future()
        future.set_result(str(1000 + len(self.sent)))
        return future


class AckingDeadLetters(ParkedDeadLetters):
    def __init__(self) -> None:
        super().__init__([])
        self.acked: list[str] = []

    def acknowledge(self, ack_ids: list[str], **_: object) -> None:
        self.acked += ack_ids


def test_fan_out_copies_are_republished_once_and_identical_messages_each() -> None:
    # Three identical messages published in one request share their publish time; each
    # of two replicas dead-letters its copy of each: six dead letters, three messages.
    def dead_letter(n: int, subscription: str) -> types.ReceivedMessage:
        message = parked(
            {
                "CloudPubSubDeadLetterSourceSubscription": subscription,
                "CloudPubSubDeadLetterSourceTopicPublishTime": "1765022400123",
            },
            b"same",
        ).message
        message.message_id = str(n)
        return types.ReceivedMessage(ack_id=f"ack-{n}", message=message)

    order = [("channel-a", 1), ("channel-a", 2), ("channel-b", 3)]
    order += [("channel-a", 4), ("channel-b", 5), ("channel-b", 6)]
    server = AckingDeadLetters()
    holder = Holder(cast(pubsub_v1.SubscriberClient, server), "projects/p/subscriptions/s")
    publisher = ConfirmingPublisher()
    run = republish.Run(
        holder,
        cast(pubsub_v1.PublisherClient, publisher),
        "projects/p/topics/t",
        FakeStop(),
        ids=None,
        pacer=republish.Pacer(None),
    )
    assert all(run.take(dead_letter(n, subscription)) for subscription, n in order)
    assert publisher.sent == [b"same"] * 3, "each message once: none lost, none twice"
    assert [r["dead_letter_id"] for r in run.outcome.republished] == ["1", "2", "4"]
    assert run.outcome.copies == ["3", "5", "6"]
    assert server.acked == [f"ack-{n}" for n in range(1, 7)]
