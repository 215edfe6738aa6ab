from datetime import UTC, datetime

from common.messages.dead_letters import PUBLISH_TIME, published_at
from dashboard.letters import DeadLetters, fingerprint, millis

SOURCE = "CloudPubSubDeadLetterSourceSubscription"
PUBLISHED = "CloudPubSubDeadLetterSourceTopicPublishTime"
AT = datetime(2026, 11, 30, 22, 51, 23, 502_999, tzinfo=UTC)


def dead_letter_attributes(subscription: str, published: str, **own: str) -> dict[str, str]:
    """As the emulator sends a dead letter (measured on 0.8.20)."""
    return {
        **own,
        SOURCE: subscription,
        "CloudPubSubDeadLetterSourceSubscriptionProject": "local-project",
        PUBLISHED: published,
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
    }


def test_publish_times_compare_in_whole_milliseconds() -> None:
    assert millis(AT) == int(AT.replace(microsecond=0).timestamp()) * 1000 + 502
    assert millis(published_at({PUBLISH_TIME: "2026-11-30T22:51:23.502Z"})) == millis(AT)
    assert millis(None) is None
    # Valid times whose UTC is outside datetime's range: anyone can publish a dead letter.
    assert millis(published_at({PUBLISH_TIME: "0001-01-01T00:00:00+01:00"})) is None
    assert millis(published_at({PUBLISH_TIME: "9999-12-31T23:59:59-01:00"})) is None
    # Milliseconds since the epoch past the year 9999: the dead letter is still shown.
    forged = dead_letter_attributes("a-1", "999999999999999")
    assert DeadLetters().arrived("900", b"x", forged, revision=1).replica == "a-1"


def test_a_dead_letter_is_known_by_its_data_attributes_and_subscription() -> None:
    letters = DeadLetters()
    published = fingerprint(b"not json", {"origin": "x"}, AT)
    letters.rejected("11", "a-1", published)
    letters.rejected("11", "a-1", published)  # each attempt reports it again
    letters.rejected("11", "b-2", published)
    attributes = dead_letter_attributes("b-2", "2026-11-30T22:51:23.502Z", origin="x")
    letter = letters.arrived("900", b"not json", attributes, revision=7)
    assert (letter.message_id, letter.replica, letter.attempts) == ("11", "b-2", 5)
    assert letters.revision == 7
    # Another body, or the same body from elsewhere, is not that message.
    other = letters.arrived("901", b"other", dead_letter_attributes("a-1", "x"), revision=8)
    assert other.message_id is None
    again = letters.arrived("902", b"not json", attributes, revision=9)
    assert again.message_id is None, "b-2's copy was taken already"
    assert [shown.dead_letter_id for shown in letters.shown] == ["900", "901", "902"]


def test_identical_bodies_are_told_apart_by_their_publish_time() -> None:
    letters = DeadLetters()
    for message_id, second in (("1", 1), ("2", 2), ("3", 3)):
        moment = datetime(2026, 11, 30, 22, 0, second, tzinfo=UTC)
        letters.rejected(message_id, "a-1", fingerprint(b"same", {}, moment))
    attributes = dead_letter_attributes("a-1", "2026-11-30T22:00:02.000Z")
    assert letters.arrived("900", b"same", attributes, revision=1).message_id == "2"
    unknown_time = dead_letter_attributes("a-1", "")
    assert letters.arrived("901", b"same", unknown_time, revision=2).message_id == "1"


def test_a_delivery_count_that_is_not_a_count_is_left_out() -> None:
    for count in ("²", "-1", "99999999999", "five"):
        attributes = {
            **dead_letter_attributes("a-1", ""),
            "CloudPubSubDeadLetterSourceDeliveryCount": count,
        }
        assert DeadLetters().arrived("900", b"x", attributes, revision=1).attempts is None


def test_a_dead_letter_without_its_attributes_is_still_listed() -> None:
    letter = DeadLetters().arrived("900", b"x", {}, revision=1)
    assert letter.to_json() == {
        "dead_letter_id": "900",
        "message_id": None,
        "replica": None,
        "attempts": None,
    }
