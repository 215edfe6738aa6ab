"""What Pub/Sub adds to a dead letter, read from attributes anyone could have forged."""

from datetime import UTC, datetime

import pytest

from common.messages import dead_letters

AT = datetime(2026, 11, 30, 22, 51, 23, 502_000, tzinfo=UTC)


def as_parked(**fields: str) -> dict[str, str]:
    """A dead letter's attributes as the emulator 0.8.20 writes them (measured)."""
    return {
        "origin": "probe",
        "CloudPubSubDeadLetterSourceSubscription": "channel-replica-a",
        "CloudPubSubDeadLetterSourceSubscriptionProject": "local-project",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-11-30T22:51:23.502Z",
        **fields,
    }


def test_a_dead_letter_as_pubsub_parks_it() -> None:
    attributes = as_parked()
    assert dead_letters.source_subscription(attributes) == "channel-replica-a"
    assert dead_letters.attempts(attributes) == 5
    assert dead_letters.published_at(attributes) == AT
    assert dead_letters.own_attributes(attributes) == {"origin": "probe"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T22:51:23.502123456Z", AT.replace(microsecond=502_123)),  # nanoseconds
        ("1796079083502", AT),  # milliseconds since the epoch
        ("2026-11-30T22:51:23.502", None),  # no zone: not Pub/Sub's
        ("yesterday", None),
        ("", None),
        ("\uff11\uff12\uff13", None),  # digits, but not ASCII ones
        ("253402300799999", datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("253402300800000", None),  # milliseconds past datetime's last year
        ("999999999999999", None),
    ],
)
def test_a_publish_time_is_rfc_3339_with_its_zone_or_milliseconds(
    text: str, expected: datetime | None
) -> None:
    assert dead_letters.published_at(
        as_parked(CloudPubSubDeadLetterSourceTopicPublishTime=text)
    ) == (expected)


@pytest.mark.parametrize("count", ["many", "²", "-1", "99999999999", ""])
def test_a_malformed_count_is_none_not_an_error(count: str) -> None:
    assert dead_letters.attempts(as_parked(CloudPubSubDeadLetterSourceDeliveryCount=count)) is None


def test_missing_attributes_are_none() -> None:
    assert dead_letters.source_subscription({}) is None
    assert dead_letters.attempts({}) is None
    assert dead_letters.published_at({}) is None
