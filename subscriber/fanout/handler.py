"""What a fan-out replica does with each message: the handler, and what it is given.

A handler is a plain callable ``(Delivery) -> None``. Returning means the message was
handled: the replica acks it. Raising means it was not: the replica logs why and nacks
it, so Pub/Sub redelivers it after the subscription's retry backoff and, after
MAX_DELIVERY_ATTEMPTS, moves it to the dead-letter topic. The replica calls handlers from
a pool of threads (HANDLER_THREADS), so a handler must be thread-safe.

The demo's handler, ``log_channel``, logs each channel message with its ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from google.pubsub_v1.types import ReceivedMessage

from common.logs import batched
from common.messages.channels import decode
from common.unary_pull.pulled import publish_time, raw

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message to this replica."""

    message_id: str
    # The body as published: untrusted bytes, up to 10 MB.
    data: bytes
    attributes: Mapping[str, str]
    publish_time: datetime
    # 1 on the first delivery; None where the subscription has no dead-letter policy.
    delivery_attempt: int | None

    @classmethod
    def of(cls, received: ReceivedMessage) -> Delivery:
        # The raw protobuf: the library's wrapper costs 31 µs a message here (``pulled``).
        pb = raw(received)
        message = pb.message
        return cls(
            message_id=message.message_id,
            data=message.data,
            attributes=dict(message.attributes),
            publish_time=publish_time(message),
            delivery_attempt=pb.delivery_attempt or None,
        )


Handler = Callable[[Delivery], None]


def log_channel(message: Delivery) -> None:
    """The demo: log a channel message with its ID; raises ``InvalidMessage`` for a body
    that is not one (the replica rejects it)."""
    channel_message = decode(message.data)
    channel = channel_message.channel
    log.info(
        "received message_id=%s channel=%d %s sequence=%s publisher=%s sent_at=%s",
        message.message_id,
        channel.number,
        channel.name,
        channel_message.sequence,
        channel_message.publisher,
        channel_message.sent_at,
        # Written with the next batch, before its ack (``Dispatcher.settle``).
        extra=batched(
            event="received",
            message_id=message.message_id,
            sequence=channel_message.sequence,
            sent_at=channel_message.sent_at,
        ),
    )
