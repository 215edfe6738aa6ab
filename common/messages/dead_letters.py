"""What Pub/Sub adds to a dead letter, read defensively. Pure.

A dead-lettered message gets a new ID and keeps nothing of the old one but the original
data and attributes plus Pub/Sub's own: ``CloudPubSubDeadLetterSourceSubscription`` (the
subscription ID that gave up on it), ``...SourceSubscriptionProject``,
``...SourceDeliveryCount`` and ``...SourceTopicPublishTime`` (the original's publish time
in RFC 3339, to the millisecond: measured on the emulator 0.8.20, as Google documents
it). Anyone who may publish to a dead-letter topic can send anything under these names,
so each reader here answers None for what is missing or malformed, and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

PREFIX = "CloudPubSubDeadLetter"
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def source_subscription(attributes: Mapping[str, str]) -> str | None:
    """The ID of the subscription that gave up on the message."""
    return attributes.get(SOURCE_SUBSCRIPTION) or None


def attempts(attributes: Mapping[str, str]) -> int | None:
    """How many deliveries the source subscription made before it gave up."""
    count = attributes.get(DELIVERY_COUNT, "")
    # isdigit() alone takes "²", which int() refuses.
    return int(count) if count.isascii() and count.isdigit() and len(count) < 10 else None


def published_at(attributes: Mapping[str, str]) -> datetime | None:
    """The original's publish time, aware: RFC 3339 with its zone, or (accepted too)
    milliseconds since the epoch."""
    text = attributes.get(PUBLISH_TIME, "")
    if text.isascii() and text.isdigit() and len(text) < 16:
        try:
            return _EPOCH + timedelta(milliseconds=int(text))
        except OverflowError:  # past the year 9999: 253402300800000 and up
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def own_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """The original's own attributes: Pub/Sub's dead-letter ones left out."""
    return {key: value for key, value in attributes.items() if not key.startswith(PREFIX)}
