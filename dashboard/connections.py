"""The dashboard's TCP connections: a few per client address, and none left idle.

uvicorn closes a keep-alive connection that stays idle after a response, but not one that
never completes a request: sockets opened and left silent took every file descriptor,
``/healthz`` with them, and none was closed (benchmarks/README.md, "Measured behaviour
behind the code"). So each connection here is counted against its client address (at most
``max_connections_per_address`` open at once, HTTP and WebSocket alike; one more is
closed at once), and an HTTP connection with no request in progress for
``idle_timeout_seconds`` is closed, however many bytes of an unfinished request it has
sent (a slow-headers attack sends one a second). A WebSocket has its own keepalive ping
and stall limit (``dashboard.hub``).

These are uvicorn's own protocol classes (h11, and websockets' sans-I/O one), given to
it by ``uvicorn.Config(http=..., ws=...)``, with the counting added. A connection
upgraded to a WebSocket changes protocol object: the WebSocket one releases the count
when it closes.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from dashboard.limits import AddressCounts

log = logging.getLogger(__name__)


class Guard:
    """What every connection of one server shares: the per-address counts."""

    def __init__(self, max_per_address: int, idle_seconds: float) -> None:
        self.counts = AddressCounts(max_per_address)
        self.idle_seconds = idle_seconds

    def admit(self, address: str, transport: asyncio.BaseTransport) -> None:
        """Count a new connection; close it at once if its address has too many open."""
        if self.counts.open(address):
            return
        if self.counts.first_refusal(address):
            log.warning(
                "refusing connections from %s: %d open from that address "
                "(DASHBOARD_MAX_CONNECTIONS_PER_ADDRESS)",
                address,
                self.counts.limit,
            )
        transport.close()


def protocols(guard: Guard) -> tuple[type[H11Protocol], type[WebSocketsSansIOProtocol]]:
    """The HTTP and WebSocket protocol classes for a server sharing ``guard``."""

    class GuardedHttp(H11Protocol):
        _address = "?"
        _last_active = 0.0
        _idle_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._address = self.client[0] if self.client else "?"
            self._last_active = self.loop.time()
            guard.admit(self._address, transport)
            self._idle_timer = self.loop.call_later(guard.idle_seconds, self._check_idle)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            guard.counts.release(self._address)
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            self._last_active = self.loop.time()
            super().on_response_complete()

        def _check_idle(self) -> None:
            self._idle_timer = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # closed, or now a WebSocket, which has limits of its own
            busy = self.cycle is not None and not self.cycle.response_complete
            quiet = self.loop.time() - self._last_active
            if not busy and quiet >= guard.idle_seconds:
                self.transport.close()
                return
            wait = guard.idle_seconds if busy else guard.idle_seconds - quiet
            self._idle_timer = self.loop.call_later(wait, self._check_idle)

    class GuardedWebSocket(WebSocketsSansIOProtocol):
        # Made by GuardedHttp on an upgrade, on a connection it has counted already.
        def connection_lost(self, exc: Exception | None) -> None:
            guard.counts.release(self.client[0] if self.client else "?")
            super().connection_lost(exc)

    return GuardedHttp, GuardedWebSocket
