"""Flow control: how much a consumer holds at once, by messages and by bytes.

A pull asks for as many messages as there is room for. Room is counted twice, as the
client library's ``FlowControl`` does: in messages, and in bytes of message bodies, so
that a thousand big messages cannot take gigabytes of memory. The bytes of a pull are
not known before it returns, so its size is estimated from what recent pulls brought:
what is in hand stays under ``max_bytes`` plus at most one pull's error of estimate.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from common.config import read_float, read_int

# The message size assumed before any has been seen: a first pull of big messages
# cannot overshoot ``max_bytes`` by more than a few of them.
FIRST_ESTIMATE_BYTES = 1024 * 1024
# How much each pull's average moves the estimate (an exponential moving average).
ESTIMATE_WEIGHT = 0.5


@dataclass(frozen=True)
class FlowControl:
    """What a subscriber holds at most, and for how long.

    ``max_messages`` and ``max_bytes`` (of message bodies) bound what is in hand: pulled,
    not yet acked or nacked. ``max_lease_seconds``: a message held longer is let go (its
    lease is no longer renewed and it is handed back), so that a callback that never
    settles it holds nothing forever; the client library's default, one hour.
    """

    max_messages: int = 1000
    max_bytes: int = 100 * 1024 * 1024
    max_lease_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_messages < 1 or self.max_bytes < 1 or self.max_lease_seconds <= 0:
            raise ValueError(f"flow control limits must be positive: {self}")

    @classmethod
    def from_env(cls, env: Mapping[str, str], max_messages: int) -> FlowControl:
        """A consumer's: ``max_messages`` (each mode decides), SUBSCRIBER_MAX_BYTES and
        MAX_LEASE_SECONDS (every consumer reads them); raises ``ConfigError``."""
        defaults = cls()
        most = 2**34  # 16 GiB
        return cls(
            max_messages=max_messages,
            max_bytes=read_int(
                env, "SUBSCRIBER_MAX_BYTES", defaults.max_bytes, minimum=2**20, maximum=most
            ),
            max_lease_seconds=read_float(
                env, "MAX_LEASE_SECONDS", defaults.max_lease_seconds, minimum=1, maximum=86_400
            ),
        )


class Flow:
    """The room left under a ``FlowControl``'s limits; thread-safe."""

    def __init__(self, limits: FlowControl) -> None:
        self._limits = limits
        self._room = threading.Condition()
        self.messages = 0  # in hand, plus the messages reserved by pulls in flight
        self.bytes = 0  # of the messages in hand
        self._estimate = float(FIRST_ESTIMATE_BYTES)

    def reserve(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for room; reserve and return how many messages
        a pull may ask for (at least 1), or 0 if there was no room in time."""
        limits = self._limits
        with self._room:
            if not self._room.wait_for(self._has_room, timeout):
                return 0
            by_bytes = int((limits.max_bytes - self.bytes) // self._estimate)
            wanted = max(1, min(limits.max_messages - self.messages, by_bytes))
            self.messages += wanted
            return wanted

    def _has_room(self) -> bool:
        return self.messages < self._limits.max_messages and self.bytes < self._limits.max_bytes

    def pulled(self, reserved: int, count: int, size: int) -> None:
        """A pull that reserved ``reserved`` returned ``count`` messages of ``size`` bytes
        in all (0 and 0 for a pull that failed)."""
        with self._room:
            self.messages -= reserved - count
            self.bytes += size
            if count:
                average = size / count
                self._estimate += ESTIMATE_WEIGHT * (max(average, 1.0) - self._estimate)
            if reserved > count:
                self._room.notify_all()

    def release(self, count: int, size: int) -> None:
        """``count`` messages of ``size`` bytes in all are no longer in hand."""
        if count:
            with self._room:
                self.messages -= count
                self.bytes -= size
                self._room.notify_all()
