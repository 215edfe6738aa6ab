"""The live view's limits as pure functions and state: no I/O, no clock of their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboard.config import ANY_HOST, ANY_ORIGIN, LOOPBACK_HOSTS


def host_name(host: str) -> str:
    """The name in a Host header or an origin's ``host[:port]``, lowercased, without the
    port (an IPv6 literal keeps its brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def host_allowed(host: str | None, allowed: Sequence[str] = LOOPBACK_HOSTS) -> bool:
    """Whether ``host`` (a Host header, port or not) is one the dashboard answers to:
    listed, or under a listed ``*.example.com``; ``*`` allows any."""
    if ANY_HOST in allowed:
        return True
    if not host:
        return False
    name = host_name(host)
    return any(
        name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:]))
        for pattern in allowed
    )


def origin_allowed(
    origin: str | None,
    host: str | None,
    allowed: Sequence[str],
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> bool:
    """Whether a page from ``origin`` may open the socket on server ``host`` (Host header).

    No Origin header: not a browser (browsers always send one on a WebSocket handshake),
    so no cross-site page is involved; such clients are let in. With no allowed list,
    only the page's own origin passes: its host:port equals the Host the browser asked,
    and its host is one the dashboard answers to (``allowed_hosts``), so a page whose
    name an attacker pointed at this machine (DNS rebinding) fails both ways.
    """
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if ANY_ORIGIN in allowed or origin in allowed:
        return True
    if allowed:
        return False
    _, sep, origin_host = origin.partition("://")
    return (
        bool(sep)
        and host is not None
        and origin_host.lower() == host.lower()
        and host_allowed(origin_host, allowed_hosts)
    )


@dataclass
class AddressCounts:
    """Open connections per client address, ``limit`` at most each.

    ``open`` counts every connection, admitted or not, and ``release`` uncounts it when
    it closes, so the two always pair up.
    """

    limit: int
    counts: dict[str, int] = field(default_factory=dict)
    # Addresses refused since they last fell below the limit: their first refusal is
    # worth a log line, the next thousand are not.
    refusing: set[str] = field(default_factory=set)

    def open(self, address: str) -> bool:
        """Count a new connection from ``address``; whether it is within the limit."""
        count = self.counts[address] = self.counts.get(address, 0) + 1
        return count <= self.limit

    def first_refusal(self, address: str) -> bool:
        """After ``open`` refused ``address``: whether this is the first time since it was
        last below the limit."""
        if address in self.refusing:
            return False
        self.refusing.add(address)
        return True

    def release(self, address: str) -> None:
        count = self.counts.get(address, 0) - 1
        if count > 0:
            self.counts[address] = count
        else:
            self.counts.pop(address, None)
        if count < self.limit:
            self.refusing.discard(address)


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
