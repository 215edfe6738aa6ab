"""The WebSocket's limits as pure functions and state: no I/O, no clock of their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.config import ANY_ORIGIN


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """Whether a page from ``origin`` may open the socket on server ``host`` (Host header).

    No Origin header: not a browser (browsers always send one on a WebSocket handshake),
    so no cross-site page is involved; such clients are let in. With no allowed list,
    only the page's own origin passes: its host:port equals the Host the browser asked.
    """
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if ANY_ORIGIN in allowed or origin in allowed:
        return True
    if allowed:
        return False
    _, sep, origin_host = origin.partition("://")
    return bool(sep) and host is not None and origin_host.lower() == host.lower()


@dataclass
class TokenBucket:
    """At most ``rate`` per second on average, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def wait_time(self, now: float) -> float:
        """Take a token if one is there (0.0); else the seconds until one is, taking none."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate
