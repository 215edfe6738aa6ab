"""The hub on real sockets: uvicorn serving the real route, real WebSocket clients, and a
flood of changes far beyond any Pub/Sub rate; no Pub/Sub (the feeds are the test)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from common.messages.channels import Channel, ChannelMessage
from common.messages.receipts import Receipt, Sender, Totals
from dashboard.app import serve_client
from dashboard.config import DashboardConfig
from dashboard.grid import Delivery, Grid
from dashboard.hub import Hub
from dashboard.server import uvicorn_config
from tests.support.emulator import free_port

CARTOON = ChannelMessage(Channel(22, "Cartoon"), 7).encode()[0]
FRAMES_PER_SECOND = 10
# Frames a reading client must get; the longest it may wait for the next one (a tick is a
# tenth of a second: this bound is for a stalled hub, not a busy machine).
FRAMES = 15
MAX_GAP_SECONDS = 5.0


@contextlib.asynccontextmanager
async def serving(hub: Hub, stall_seconds: float) -> AsyncIterator[int]:
    """The dashboard's ``/ws`` route served as the dashboard serves it, on a free port,
    ticking; yields the port. ``stall_seconds`` sets uvicorn's pings, as the dashboard's
    setting does (the hub has its own)."""
    port = free_port()
    config = DashboardConfig.from_env(
        {
            "PUBSUB_EMULATOR_HOST": "localhost:1",
            "DASHBOARD_LISTEN_PORT": str(port),
            "DASHBOARD_CLIENT_STALL_SECONDS": str(stall_seconds),
        }
    )

    async def feed(websocket: WebSocket) -> None:
        await serve_client(websocket, hub, config)

    app = Starlette(routes=[WebSocketRoute("/ws", feed)])
    server = uvicorn.Server(uvicorn_config(app, config, host="127.0.0.1", lifespan="off"))
    serve = asyncio.create_task(server.serve())
    ticks = asyncio.create_task(hub.run_ticks())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        ticks.cancel()
        await hub.close_all()
        server.should_exit = True
        await asyncio.wait_for(serve, 5)


async def flood(hub: Hub, per_second: int) -> None:
    """Messages published at ``per_second``, as the feeds hand them over."""
    sent = 0
    started = time.monotonic()
    while True:
        due = int((time.monotonic() - started) * per_second)
        for n in range(sent, due):
            hub.inbox.append(lambda n=n: hub.grid.published(Delivery(str(n), CARTOON)))  # type: ignore[misc]
        sent = due
        await asyncio.sleep(0.002)


def new_hub(stall_seconds: float, max_replicas: int = 32) -> Hub:
    return Hub(
        Grid(history=50, max_replicas=max_replicas),
        max_clients=5,
        frames_per_second=FRAMES_PER_SECOND,
        stall_seconds=stall_seconds,
    )


def test_a_reading_client_gets_a_frame_a_tick_at_any_rate() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], int]:
        hub = new_hub(stall_seconds=MAX_GAP_SECONDS)
        bodies: list[dict[str, Any]] = []
        async with (
            serving(hub, MAX_GAP_SECONDS) as port,
            connect(f"ws://127.0.0.1:{port}/ws") as ws,
        ):
            flooding = asyncio.create_task(flood(hub, per_second=5_000))
            first_tick = hub.ticks
            # The snapshot, then frames: each within the gap, however busy the machine.
            while len(bodies) <= FRAMES:
                bodies.append(json.loads(await asyncio.wait_for(ws.recv(), MAX_GAP_SECONDS)))
            ticks = hub.ticks - first_tick
            flooding.cancel()
        return bodies, ticks

    bodies, ticks = asyncio.run(scenario())
    assert bodies[0]["type"] == "snapshot"
    assert {body["type"] for body in bodies[1:]} == {"frame"}
    assert {body["version"] for body in bodies} == {2}
    frames = len(bodies) - 1
    # A frame a tick on a quiet machine: the ratio is printed, not held (a busy machine
    # skips ticks and frames); never more than one a tick.
    print(f"{frames} frames in {ticks} ticks")
    assert frames <= ticks + 1, (frames, ticks)
    published = [body["counters"]["published"] for body in bodies]
    assert published == sorted(published)
    assert published[-1] > 5_000, "the flood was real"
    assert all(len(body["messages"]) <= 50 for body in bodies)


def test_a_client_that_stops_reading_is_dropped_and_the_others_carry_on() -> None:
    async def scenario() -> tuple[float, int, int]:
        hub = new_hub(stall_seconds=1.0)
        async with serving(hub, 1.0) as port, connect(f"ws://127.0.0.1:{port}/ws") as reader:
            stuck = await asyncio.to_thread(stuck_client, port)
            flooding = asyncio.create_task(flood(hub, per_second=20_000))
            started = time.monotonic()
            while len(hub.clients) == 2 and time.monotonic() - started < 30:
                await asyncio.wait_for(reader.recv(), 2)
            dropped_after = time.monotonic() - started
            frames_after = 0
            for _ in range(10):  # the reader is still served
                await asyncio.wait_for(reader.recv(), 2)
                frames_after += 1
            flooding.cancel()
            stuck.close()
            return dropped_after, len(hub.clients), frames_after

    dropped_after, clients, frames_after = asyncio.run(scenario())
    print(f"a client that stopped reading was dropped after {dropped_after:.1f}s")
    assert clients == 1
    assert dropped_after < 30
    assert frames_after == 10


def stuck_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake, then never reads again."""
    sock = socket.socket()
    # A small window: the server's writes back up soon instead of after megabytes.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    sock.settimeout(5)
    assert sock.recv(1024).startswith(b"HTTP/1.1 101")
    return sock


def test_a_client_whose_socket_is_full_is_dropped_when_a_frame_waits_too_long() -> None:
    """The other way out, for pings too far apart to notice: frames of 2,000 columns with long names
    (about 10 MB/s) fill the socket's buffers in seconds, then a send waits too long."""

    async def big_frames(hub: Hub) -> None:
        for n in itertools.count(1):
            receipts = [
                Receipt("alive", Sender("h" * 250, f"r-{c:04}" + "x" * 245, "s"), Totals(n, 0))
                for c in range(2000)
            ]

            def change(receipts: list[Receipt] = receipts, n: int = n) -> None:
                for i, receipt in enumerate(receipts):
                    hub.grid.receipt(receipt, Delivery(f"{n}-{i}", b""))

            hub.inbox.append(change)
            await asyncio.sleep(0.1)

    async def scenario() -> tuple[float, int]:
        # Columns uncapped (the dashboard caps them at 32): frames big enough to fill the
        # socket's buffers in seconds.
        hub = new_hub(stall_seconds=0.5, max_replicas=2000)
        async with serving(hub, stall_seconds=120.0) as port:
            stuck = await asyncio.to_thread(stuck_client, port)
            flooding = asyncio.create_task(big_frames(hub))
            started = time.monotonic()
            while len(hub.clients) == 1 and time.monotonic() - started < 30:
                await asyncio.sleep(0.1)
            flooding.cancel()
            stuck.close()
            return time.monotonic() - started, len(hub.clients)

    dropped_after, clients = asyncio.run(scenario())
    print(f"a client with full buffers was dropped after {dropped_after:.1f}s")
    assert clients == 0
    assert dropped_after < 30
