"""What a replica does with each message: log it, then ack; or reject it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from google.cloud.pubsub_v1.subscriber.message import Message

from common.messages.channels import InvalidMessage, decode
from subscriber.dead_letter import rejection_fate

log = logging.getLogger(__name__)

# Told each message's outcome after its ack or nack: (message_id, outcome, delivery_attempt).
# The replica publishes a receipt from it; tests pass a list's append.
OutcomeListener = Callable[[str, Literal["acked", "rejected"], int | None], None]


class ChannelHandler:
    """The streaming pull callback. The client calls it from a pool of threads; should it
    raise, the client logs the error and nacks the message."""

    def __init__(
        self, max_delivery_attempts: int, on_outcome: OutcomeListener | None = None
    ) -> None:
        self._max_delivery_attempts = max_delivery_attempts
        self._on_outcome = on_outcome
        self._lock = threading.Lock()
        self.handled = 0
        self.rejected = 0

    def __call__(self, message: Message) -> None:
        try:
            channel_message = decode(message.data)
        except InvalidMessage as exc:
            # A malformed body stays malformed: nack it so the subscription's dead-letter
            # policy parks it after a few attempts, rather than acking it away.
            self._count(rejected=True)
            log.warning(
                "rejected message_id=%s: %s; %s",
                message.message_id,
                exc,
                rejection_fate(message.delivery_attempt, self._max_delivery_attempts),
            )
            message.nack()
            self._report(message, "rejected")
            return
        channel = channel_message.channel
        log.info(
            "received message_id=%s channel=%d %s sequence=%s publisher=%s sent_at=%s",
            message.message_id,
            channel.number,
            channel.name,
            channel_message.sequence,
            channel_message.publisher,
            channel_message.sent_at,
        )
        message.ack()
        self._count(rejected=False)
        self._report(message, "acked")

    def _report(self, message: Message, outcome: Literal["acked", "rejected"]) -> None:
        # After the ack or nack: a receipt says what was done, never what is about to be.
        if self._on_outcome is not None:
            self._on_outcome(message.message_id, outcome, message.delivery_attempt)

    def _count(self, *, rejected: bool) -> None:
        with self._lock:
            if rejected:
                self.rejected += 1
            else:
                self.handled += 1
