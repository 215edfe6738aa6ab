"""Dead letters linked to the messages they were. Pure: no I/O, no clock.

Pub/Sub gives a dead-lettered message a new ID and keeps nothing of the old one but
the original data and attributes, the subscription that gave up on it and the
original's publish time, to the millisecond (``common.messages.dead_letters``).

So the link is made here, from what the dashboard saw: each message it sees published
leaves a fingerprint (a hash of its data and attributes, and its publish time); each
rejection a replica reports files that fingerprint under the replica's subscription; a
dead letter from that subscription with the same data and attributes is the rejected
message whose publish time matches, else the oldest such. Identical bodies published
in the same millisecond cannot be told apart by anyone; one of them is named.
"""

from __future__ import annotations

import calendar
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.messages import dead_letters

# The dead letters the page lists, newest last.
MAX_SHOWN = 10
# Rejected messages awaiting their dead letter, across all replicas.
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the dashboard keeps of a published message to know its dead letter again."""

    content: int
    published_ms: int | None


def fingerprint(
    data: bytes, attributes: Mapping[str, str], publish_time: datetime | None
) -> Fingerprint:
    """The fingerprint of a message as published, or (its dead-letter attributes left
    out) as dead-lettered."""
    own = tuple(sorted(dead_letters.own_attributes(attributes).items()))
    return Fingerprint(hash((data, own)), millis(publish_time))


def millis(moment: datetime | None) -> int | None:
    """Milliseconds since the epoch, truncated (no float rounding); None for None, and for
    a time whose UTC is outside datetime's range (year 1 or 9999 shifted past UTC)."""
    if moment is None:
        return None
    try:
        return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000
    except OverflowError:
        return None


@dataclass(frozen=True)
class DeadLetter:
    dead_letter_id: str
    # The message it was, when known; None when its rejection was not seen.
    message_id: str | None
    # The subscription (column) that gave up on it; None if the attribute is missing.
    replica: str | None
    attempts: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "dead_letter_id": self.dead_letter_id,
            "message_id": self.message_id,
            "replica": self.replica,
            "attempts": self.attempts,
        }


class DeadLetters:
    """Rejected messages awaiting their dead letter, and the newest dead letters."""

    def __init__(self) -> None:
        # (content, subscription) -> message ID -> publish time (ms), oldest first.
        self._pending: dict[tuple[int, str], OrderedDict[str, int | None]] = {}
        self._order: deque[tuple[tuple[int, str], str]] = deque()
        self.shown: deque[DeadLetter] = deque(maxlen=MAX_SHOWN)
        self.revision = 0

    def rejected(self, message_id: str, subscription: str, published: Fingerprint) -> None:
        """A replica rejected a message the dashboard saw published (any attempt)."""
        group_key = (published.content, subscription)
        group = self._pending.setdefault(group_key, OrderedDict())
        if message_id in group:
            return
        group[message_id] = published.published_ms
        self._order.append((group_key, message_id))
        while len(self._order) > MAX_PENDING:
            self._forget(*self._order.popleft())

    def arrived(
        self, dead_letter_id: str, data: bytes, attributes: Mapping[str, str], revision: int
    ) -> DeadLetter:
        """A dead letter: linked to its message when its rejection was seen."""
        subscription = dead_letters.source_subscription(attributes)
        attempts = dead_letters.attempts(attributes)
        message_id = None
        if subscription is not None:
            published_ms = millis(dead_letters.published_at(attributes))
            content = fingerprint(data, attributes, None).content
            message_id = self._take((content, subscription), published_ms)
        letter = DeadLetter(dead_letter_id, message_id, subscription, attempts)
        self.shown.append(letter)
        self.revision = revision
        return letter

    def _take(self, group_key: tuple[int, str], published_ms: int | None) -> str | None:
        group = self._pending.get(group_key)
        if not group:
            return None
        matching = [mid for mid, ms in group.items() if ms is not None and ms == published_ms]
        message_id = matching[0] if matching else next(iter(group))
        self._forget(group_key, message_id)
        return message_id

    def _forget(self, group_key: tuple[int, str], message_id: str) -> None:
        group = self._pending.get(group_key)
        if group is None:
            return
        group.pop(message_id, None)
        if not group:
            del self._pending[group_key]
