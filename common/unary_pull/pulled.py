"""Reading pulled messages fast: the raw protobuf under the client library's wrappers.

The client library wraps every protobuf message it returns in a proto-plus object, whose
every field access goes through a layer of Python. Measured on the emulator (2 CPUs, a
pull of 100 messages): iterating a pull response's wrapped list cost 2,500 µs of CPU per
pull against 425 µs for the raw list, more than the RPC itself; reading a message's
fields cost 31 µs through the wrapper against 6.5 µs raw. So the puller wraps the raw
messages itself (0.5 µs each), and the hot paths read them through ``raw``: the same
field names, but ``publish_time`` is a protobuf ``Timestamp`` (``publish_time`` below
makes it a ``datetime``) and ``delivery_attempt`` is 0 where none is counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from google.pubsub_v1.types import ReceivedMessage


class Timestamp(Protocol):
    def ToDatetime(self, tzinfo: tzinfo | None = None) -> datetime: ...


class Message(Protocol):
    """The fields of a raw ``google.pubsub.v1.PubsubMessage`` that consumers read."""

    @property
    def message_id(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...
    @property
    def publish_time(self) -> Timestamp: ...


class Pulled(Protocol):
    """A raw ``google.pubsub.v1.ReceivedMessage``."""

    @property
    def ack_id(self) -> str: ...
    @property
    def delivery_attempt(self) -> int: ...
    @property
    def message(self) -> Message: ...


def raw(received: ReceivedMessage) -> Pulled:
    """The raw protobuf under the library's ``ReceivedMessage``; no copy."""
    pulled: Pulled = ReceivedMessage.pb(received)
    return pulled


def publish_time(message: Message) -> datetime:
    """When Pub/Sub accepted the message, in UTC (microseconds)."""
    return message.publish_time.ToDatetime(tzinfo=UTC)
