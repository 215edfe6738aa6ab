"""The channel catalog and the wire format of a channel message. Pure: no I/O.

A message is UTF-8 JSON, for example::

    {"channel_number": 22, "channel_name": "Cartoon", "sequence": 7,
     "sent_at": "2026-11-22T13:45:00.123Z", "publisher": "3f2a9c1b7d0e"}

Its attributes repeat what a subscription filter or a router needs without parsing the
body (``channel_number``, ``publisher``), and say how to read it (``content_type``,
``schema_version``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime

from common.messages import CONTENT_TYPE
from common.messages._json import MAX_SAFE_INTEGER, decode_object, is_count, utc_timestamp

SCHEMA_VERSION = "1"
MAX_CHANNEL_NAME_LENGTH = 100


@dataclass(frozen=True)
class Channel:
    number: int
    name: str


CATALOG: tuple[Channel, ...] = (
    Channel(7, "Movies"),
    Channel(12, "Music"),
    Channel(22, "Cartoon"),
    Channel(23, "YoYo TV"),
    Channel(31, "Weather"),
    Channel(44, "Documentary"),
    Channel(52, "News"),
    Channel(61, "Sports"),
)


class InvalidMessage(ValueError):
    """The payload is not a channel message; retrying it cannot help."""


@dataclass(frozen=True)
class ChannelMessage:
    channel: Channel
    sequence: int | None = None
    sent_at: str | None = None
    publisher: str | None = None

    def encode(self) -> tuple[bytes, dict[str, str]]:
        """The message body and its attributes, ready for ``PublisherClient.publish``."""
        body = {
            "channel_number": self.channel.number,
            "channel_name": self.channel.name,
            "sequence": self.sequence,
            "sent_at": self.sent_at,
            "publisher": self.publisher,
        }
        data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
        attributes = {
            "content_type": CONTENT_TYPE,
            "schema_version": SCHEMA_VERSION,
            "channel_number": str(self.channel.number),
        }
        if self.publisher:
            attributes["publisher"] = self.publisher
        return data, attributes


def random_message(
    rng: random.Random, *, sequence: int, publisher: str, now: datetime | None = None
) -> ChannelMessage:
    return ChannelMessage(
        channel=rng.choice(CATALOG),
        sequence=sequence,
        sent_at=utc_timestamp(now),
        publisher=publisher,
    )


def decode(data: bytes) -> ChannelMessage:
    """Parse a message body, or raise ``InvalidMessage`` saying what is wrong with it.

    Unknown fields are ignored so that newer publishers can add some without breaking
    older subscribers.
    """
    body = decode_object(data, InvalidMessage)
    number = body.get("channel_number")
    # Not a bool (an int to Python), nor past what a browser reads exactly.
    if not is_count(number, minimum=1):
        raise InvalidMessage(
            f"channel_number must be an integer from 1 to {MAX_SAFE_INTEGER}, got {number!r:.40}"
        )
    name = body.get("channel_name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CHANNEL_NAME_LENGTH:
        raise InvalidMessage(
            f"channel_name must be a non-empty string of at most {MAX_CHANNEL_NAME_LENGTH} "
            f"characters, got {name!r:.120}"
        )
    sequence = body.get("sequence")
    if sequence is not None and not is_count(sequence):
        raise InvalidMessage(
            f"sequence must be an integer from 0 to {MAX_SAFE_INTEGER}, got {sequence!r:.40}"
        )
    sent_at = body.get("sent_at")
    if sent_at is not None and not isinstance(sent_at, str):
        raise InvalidMessage(f"sent_at must be a string, got {sent_at!r:.40}")
    publisher = body.get("publisher")
    if publisher is not None and not isinstance(publisher, str):
        raise InvalidMessage(f"publisher must be a string, got {publisher!r:.40}")
    return ChannelMessage(Channel(number, name), sequence, sent_at, publisher)
