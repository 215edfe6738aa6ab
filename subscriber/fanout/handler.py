"""What a fan-out replica does with each message: the demo's handler.

The seam is ``common.seams.Handler``, a plain callable ``(Delivery) -> None`` named by
the HANDLER setting (fan-out mode's config): returning acks the message, raising
rejects it (nack, then the dead-letter topic after MAX_DELIVERY_ATTEMPTS). Its types
are re-exported here for the dispatcher.

The demo's handler, ``log_channel``, the default, logs each channel message with its ID.
"""

from __future__ import annotations

import logging

from common.logs import batched
from common.messages.channels import decode
from common.seams import Delivery, Handler

__all__ = ["DEFAULT_HANDLER", "Delivery", "Handler", "log_channel"]

log = logging.getLogger(__name__)

# HANDLER's default: the demo.
DEFAULT_HANDLER = "subscriber.fanout.handler:log_channel"


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
            channel=channel.number,
            sequence=channel_message.sequence,
            sent_at=channel_message.sent_at,
        ),
    )
