"""The browsers connected to ``/ws``, and the tick that sends them frames.

Everything here runs on the event loop's thread. The feeds' threads only append their
changes to ``inbox`` (a deque: appending is thread-safe); each tick applies them to the
grid, then wakes every client's sender, which sends the frame it is owed
(``dashboard.frames``). So the grid needs no lock, a client's snapshot is never
interleaved with a change, and the work per tick does not grow with the message rate.

A slow client is never sent more than one grid's worth: while its socket still holds
the last frame, the ticks it misses fold into the next one. A client whose socket has
taken nothing for ``stall_seconds`` has stopped reading: it is dropped (its slot freed,
nothing more sent) and nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.websockets import WebSocket

from dashboard.frames import FrameCache, due
from dashboard.grid import Grid

log = logging.getLogger(__name__)

GOING_AWAY = 1001  # the server is shutting down
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
CLOSE_TIMEOUT_SECONDS = 1.0
# A change to the grid, as a feed hands it over: run on the loop's thread at the next tick.
Change = Callable[[], object]


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


class Client:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.name = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
        # The grid revision this client was last sent; None: it is owed a snapshot.
        self.sent: int | None = None
        self.sent_at = 0.0
        self.wake = asyncio.Event()
        self.close_with: Close | None = None

    def close(self, code: int, reason: str) -> None:
        """Have the sender close the socket next (the first reason given wins)."""
        if self.close_with is None:
            self.close_with = Close(code, reason)
        self.wake.set()


class Hub:
    def __init__(
        self,
        grid: Grid,
        *,
        max_clients: int,
        frames_per_second: float,
        stall_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grid = grid
        self.max_clients = max_clients
        self.inbox: deque[Change] = deque()
        self.clients: set[Client] = set()
        self.shutting_down = False
        self.ticks = 0
        self.frames_sent = self.dropped_slow = 0  # running totals, for metrics
        self._period = 1 / frames_per_second
        self._stall_seconds = stall_seconds
        self._clock = clock
        self._frames = FrameCache(grid)
        self._senders: set[asyncio.Task[None]] = set()

    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def join(self, websocket: WebSocket) -> Client:
        client = Client(websocket)
        self.clients.add(client)
        client.wake.set()  # the snapshot goes at once, not at the next tick
        log.info("client %s joined (%d connected)", client.name, len(self.clients))
        return client

    def leave(self, client: Client, why: str = "") -> None:
        if client in self.clients:
            self.clients.discard(client)
            log.info("client %s left%s (%d connected)", client.name, why, len(self.clients))

    def tick(self) -> None:
        """Apply what the feeds brought, bring the grid's time on, wake the senders."""
        for _ in range(len(self.inbox)):
            change = self.inbox.popleft()
            try:
                change()
            except Exception:
                log.exception("a change to the grid failed; carrying on")
        self.grid.tick(self._clock())
        self._frames.new_tick()
        self.ticks += 1
        for client in self.clients:
            client.wake.set()

    async def run_ticks(self) -> None:
        """Tick every period until cancelled. Ticks missed (a busy loop) are skipped, not
        made up for in a burst: a client never gets two frames back to back."""
        next_at = self._clock()
        while True:
            self.tick()
            next_at += self._period
            now = self._clock()
            if next_at < now:
                next_at = now + self._period
            await asyncio.sleep(next_at - now)

    async def send_frames(self, client: Client) -> None:
        """The client's sender: its frame at each tick it is owed one, until it closes."""
        while True:
            await client.wake.wait()
            client.wake.clear()
            if client.close_with is not None:
                with contextlib.suppress(Exception):  # the peer may be gone already
                    await asyncio.wait_for(
                        client.websocket.close(client.close_with.code, client.close_with.reason),
                        CLOSE_TIMEOUT_SECONDS,
                    )
                return
            now = self._clock()
            if not due(client.sent, self.grid.revision, now - client.sent_at):
                continue
            revision, text = self.grid.revision, self._frames.text(client.sent)
            try:
                await asyncio.wait_for(client.websocket.send_text(text), self._stall_seconds)
            except TimeoutError:
                # Its socket's buffers are full and it has not read for this long.
                log.warning(
                    "client %s stopped reading: no frame taken for %gs; dropping it",
                    client.name,
                    self._stall_seconds,
                )
                self.leave(client, ": stopped reading")
                self.dropped_slow += 1
                return
            except Exception:  # the peer has gone; the route's receive loop sees it too
                return
            client.sent, client.sent_at = revision, now
            self.frames_sent += 1

    def track(self, sender: asyncio.Task[None]) -> None:
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

    async def close_all(self) -> None:
        """Close every client with 1001 (going away), waiting a moment for the senders."""
        self.shutting_down = True
        for client in list(self.clients):
            client.close(GOING_AWAY, "server shutting down")
        if self._senders:
            await asyncio.wait(set(self._senders), timeout=CLOSE_TIMEOUT_SECONDS)
        log.info("closed %d clients", len(self.clients))
