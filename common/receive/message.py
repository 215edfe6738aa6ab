"""A pulled message as the callback sees it: read it, then ack or nack it, from any thread.

It reads the raw protobuf under the client library's wrappers: a wrapper's every field
access goes through a layer of Python, which cost more than the pull itself on the hot
path (benchmarks/README.md, "Where the CPU goes"). ``Received`` keeps the raw message and
reads a field only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Timestamp(Protocol):
    @property
    def seconds(self) -> int: ...
    @property
    def nanos(self) -> int: ...


class PubsubMessage(Protocol):
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
    """A raw ``google.pubsub.v1.ReceivedMessage``, as a pull returns it."""

    @property
    def ack_id(self) -> str: ...
    @property
    def delivery_attempt(self) -> int: ...
    @property
    def message(self) -> PubsubMessage: ...


# What settles a message: (the message, True to ack or False to nack).
Settle = Callable[["Received", bool], None]


class Received:
    """One delivery of a message: its fields, and ``ack()`` or ``nack()``, once.

    ``size`` is the body's length in bytes (what flow control counts); ``pulled_at`` when
    it was pulled (monotonic seconds); ``settled_at`` when it was last acked or nacked
    (seconds since the epoch, like ``publish_time``; 0.0 before). A second ``ack()`` or
    ``nack()``, or one after the subscription let the message go
    (``FlowControl.max_lease_seconds``), does nothing.
    """

    __slots__ = ("_pb", "_settle", "pulled_at", "settled_at", "size")

    def __init__(self, pb: Pulled, settle: Settle, pulled_at: float) -> None:
        self._pb = pb
        self._settle = settle
        self.pulled_at = pulled_at
        self.settled_at = 0.0
        self.size = len(pb.message.data)

    @property
    def ack_id(self) -> str:
        return self._pb.ack_id

    @property
    def message_id(self) -> str:
        return self._pb.message.message_id

    @property
    def data(self) -> bytes:
        """The body as published: untrusted bytes, up to 10 MB."""
        return self._pb.message.data

    @property
    def attributes(self) -> Mapping[str, str]:
        return self._pb.message.attributes

    @property
    def publish_time(self) -> datetime:
        """When Pub/Sub accepted the message, in UTC (microseconds)."""
        stamp = self._pb.message.publish_time
        # Exact to the microsecond as ``Timestamp.ToDatetime``, at a third of its cost.
        return _EPOCH + timedelta(0, stamp.seconds, stamp.nanos // 1000)

    @property
    def publish_seconds(self) -> float:
        """``publish_time`` as seconds since the epoch: read without making a datetime."""
        stamp = self._pb.message.publish_time
        return stamp.seconds + stamp.nanos / 1e9

    @property
    def delivery_attempt(self) -> int | None:
        """1 on the first delivery; None where the subscription has no dead-letter policy."""
        return self._pb.delivery_attempt or None

    def ack(self) -> None:
        """Pub/Sub will not deliver it again (at-least-once aside)."""
        self._settle(self, True)

    def nack(self) -> None:
        """Hand it back: Pub/Sub redelivers it after the subscription's retry backoff,
        counting a delivery attempt."""
        self._settle(self, False)
