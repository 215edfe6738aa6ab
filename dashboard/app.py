"""The web side (Starlette): ``/`` the page, ``/ws`` the live feed, ``/healthz``.

WebSocket protocol, server to client, one JSON object per text frame: first
``{"type": "snapshot", "replicas": [...], "messages": [...], "counters": {...}}``, then
``{"type": "message", "message": {...}}``, ``{"type": "replica", "replica": {...}}`` or
``{"type": "counters"}`` events, each with the current ``counters``. Rows and replicas are
sent whole: a client replaces what it has under the same ``message_id`` or ``id``.
The client sends nothing; frames it does send count against its rate and are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from dashboard.config import DashboardConfig
from dashboard.feeds import Feeds
from dashboard.grid import Event, Grid
from dashboard.hub import POLICY_VIOLATION, TRY_AGAIN_LATER, Hub
from dashboard.limits import TokenBucket, origin_allowed

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(config: DashboardConfig, host: str, stop: threading.Event) -> tuple[Starlette, Hub]:
    grid = Grid(config.history)
    hub = Hub(
        grid,
        max_clients=config.max_clients,
        queue_size=config.client_queue_size,
        rate=config.max_events_per_second,
    )
    loop_box: list[asyncio.AbstractEventLoop] = []

    def apply(change: Callable[[], list[Event]]) -> None:
        # Called on the client library's threads: the change itself runs on the loop.
        loop_box[0].call_soon_threadsafe(lambda: hub.publish(change()))

    feeds = Feeds(config, host, grid, apply, stop)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        loop_box.append(asyncio.get_running_loop())
        starter = threading.Thread(target=feeds.run, name="feeds", daemon=True)
        starter.start()
        try:
            yield
        finally:
            stop.set()  # a start-up still waiting for Pub/Sub gives up
            await asyncio.to_thread(starter.join, 2.0)
            await asyncio.to_thread(feeds.close)

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def healthz(_request: Request) -> Response:
        reason = feeds.not_ready()
        body = {"status": "not ready" if reason else "ok", "clients": len(hub.clients)}
        if reason:
            body["reason"] = reason
        return JSONResponse(body, status_code=503 if reason else 200)

    async def feed(websocket: WebSocket) -> None:
        await serve_client(websocket, hub, config)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", healthz),
            WebSocketRoute("/ws", feed),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )
    return app, hub


async def serve_client(websocket: WebSocket, hub: Hub, config: DashboardConfig) -> None:
    """One browser: the origin and client-count checks, then its feed until it goes."""
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), config.allowed_origins):
        log.warning("refused WebSocket from origin %s", origin)
        await websocket.close(code=POLICY_VIOLATION)  # before accept: HTTP 403
        return
    await websocket.accept()
    if hub.full() or hub.shutting_down:
        await websocket.close(code=TRY_AGAIN_LATER, reason="too many clients")
        return
    client = hub.join(websocket)
    sender = asyncio.create_task(client.send_all())
    hub.track(sender)
    inbound = TokenBucket(rate=config.max_events_per_second, burst=config.max_events_per_second)
    try:
        while not sender.done():
            receiving = asyncio.ensure_future(websocket.receive())
            await asyncio.wait({receiving, sender}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break
            if receiving.result()["type"] == "websocket.disconnect":
                break
            if inbound.wait_time(time.monotonic()) > 0:
                client.close(POLICY_VIOLATION, "too many messages from the client")
    finally:
        hub.leave(client)
        client.close(POLICY_VIOLATION, "gone")  # ends the sender if still running
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(sender, timeout=1.0)
