"""The browsers connected to ``/ws``: a bounded queue and a paced sender for each.

Everything here runs on the event loop's thread. Pub/Sub's callback threads hand their
events over with ``loop.call_soon_threadsafe(hub.publish, events)``, so the grid and the
queues need no locks and a client's snapshot is never interleaved with an event.

A client that cannot keep up never slows the others or the stack: when its queue is full
it is closed (1013, try again later) and its queue dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.websockets import WebSocket

from dashboard.grid import Event, Grid
from dashboard.limits import TokenBucket

log = logging.getLogger(__name__)

GOING_AWAY = 1001  # the server is shutting down
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
CLOSE_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


class Client:
    def __init__(self, websocket: WebSocket, queue_size: int, bucket: TokenBucket) -> None:
        self.websocket = websocket
        self.name = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
        self._queue: asyncio.Queue[Event | Close] = asyncio.Queue(maxsize=queue_size)
        self._bucket = bucket
        self.closing = False

    def offer(self, event: Event) -> bool:
        """Queue an event; False when the queue is full (the client is then closed)."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Drop what is queued and have the sender close the socket next."""
        if self.closing:
            return
        self.closing = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(Close(code, reason))

    async def send_all(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Send queued events, at most the bucket's rate, until told to close."""
        while True:
            item = await self._queue.get()
            if isinstance(item, Close):
                with contextlib.suppress(Exception):  # the peer may be gone already
                    await self.websocket.close(code=item.code, reason=item.reason)
                return
            while (delay := self._bucket.wait_time(clock())) > 0:
                await asyncio.sleep(delay)
            await self.websocket.send_text(json.dumps(item, separators=(",", ":")))


class Hub:
    def __init__(self, grid: Grid, *, max_clients: int, queue_size: int, rate: int) -> None:
        self.grid = grid
        self.max_clients = max_clients
        self._queue_size = queue_size
        self._rate = rate
        self.clients: set[Client] = set()
        self.shutting_down = False
        self._senders: set[asyncio.Task[None]] = set()

    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def join(self, websocket: WebSocket) -> Client:
        # A burst of a second's worth, so the snapshot and a few events go out at once.
        bucket = TokenBucket(rate=self._rate, burst=self._rate)
        client = Client(websocket, self._queue_size, bucket)
        client.offer(self.grid.snapshot())
        self.clients.add(client)
        log.info("client %s joined (%d connected)", client.name, len(self.clients))
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        log.info("client %s left (%d connected)", client.name, len(self.clients))

    def publish(self, events: list[Event]) -> None:
        for client in list(self.clients):
            if client.closing:
                continue
            for event in events:
                if not client.offer(event):
                    log.warning("client %s too slow: queue full, closing it", client.name)
                    client.close(TRY_AGAIN_LATER, "too slow: queue full")
                    break

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
