"""The web side (Starlette): ``/`` the page, ``/ws`` the live feed, ``/healthz`` (ready:
following Pub/Sub) and ``/livez`` (alive: serving, its feeds' loop turning).

The feed's format (version 2: a snapshot, then at most one frame per tick) is
``dashboard.frames``. The client sends nothing; what it does send is ignored, more than
``INBOUND_PER_SECOND`` messages a second closes it (1008), and one larger than
``dashboard.server.MAX_CLIENT_MESSAGE_BYTES`` closes it at once (1009).

Every request, the WebSocket's handshake included, must name a host the dashboard
answers to (``DASHBOARD_ALLOWED_HOSTS``, the loopback names by default): anything else
gets 400. A page whose name an attacker pointed at this machine (DNS rebinding) sends its
own name as Host, and is refused before it reads a thing. Every response carries the
security headers of ``dashboard.headers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from common import metrics
from common.logs import fields
from dashboard.config import DashboardConfig
from dashboard.feeds import Feeds
from dashboard.grid import Grid
from dashboard.headers import SecurityHeaders
from dashboard.hub import POLICY_VIOLATION, TRY_AGAIN_LATER, Change, Hub
from dashboard.limits import TokenBucket, origin_allowed

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# What a client may send (it need send nothing): a little, then it is closed.
INBOUND_PER_SECOND = 10


def create_app(config: DashboardConfig, host: str, stop: threading.Event) -> tuple[Starlette, Hub]:
    grid = Grid(config.history, max_replicas=config.max_replicas)
    hub = Hub(
        grid,
        max_clients=config.max_clients,
        frames_per_second=config.frames_per_second,
        stall_seconds=config.client_stall_seconds,
    )
    metrics.dashboard(hub)

    def apply(change: Change) -> None:
        # Called on the client library's threads: the change runs on the loop at the next
        # tick. One append, however busy the feeds: nothing here grows with the rate.
        hub.inbox.append(change)

    feeds = Feeds(config, host, grid, apply, stop)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        ticks = asyncio.create_task(hub.run_ticks())
        starter = threading.Thread(target=feeds.run, name="feeds", daemon=True)
        starter.start()
        try:
            yield
        finally:
            stop.set()  # a start-up still waiting for Pub/Sub gives up
            ticks.cancel()
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

    async def livez(_request: Request) -> Response:
        stalled = feeds.stalled()
        body = {"status": "stalled", "reason": stalled} if stalled else {"status": "ok"}
        return JSONResponse(body, status_code=503 if stalled else 200)

    async def feed(websocket: WebSocket) -> None:
        await serve_client(websocket, hub, config)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", healthz),
            Route("/livez", livez),
            WebSocketRoute("/ws", feed),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                TrustedHostMiddleware, allowed_hosts=config.allowed_hosts, www_redirect=False
            ),
        ],
        lifespan=lifespan,
    )
    return app, hub


async def serve_client(websocket: WebSocket, hub: Hub, config: DashboardConfig) -> None:
    """One browser: the origin and client-count checks, then its feed until it goes."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin_allowed(origin, host, config.allowed_origins, config.allowed_hosts):
        log.warning(
            "refused WebSocket from origin %.200s",
            origin,
            extra=fields(event="origin refused", origin=(origin or "")[:200]),
        )
        await websocket.close(code=POLICY_VIOLATION)  # before accept: HTTP 403
        return
    await websocket.accept()
    if hub.full() or hub.shutting_down:
        await websocket.close(code=TRY_AGAIN_LATER, reason="too many clients")
        return
    client = hub.join(websocket)
    sender = asyncio.create_task(hub.send_frames(client))
    hub.track(sender)
    inbound = TokenBucket(rate=INBOUND_PER_SECOND, burst=INBOUND_PER_SECOND)
    why = ""
    try:
        while not sender.done():
            receiving = asyncio.ensure_future(websocket.receive())
            await asyncio.wait({receiving, sender}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                # 1006 without a close frame: gone, or closed by the keepalive ping (1011
                # sent) for not reading.
                why = f" (code {message.get('code')})"
                break
            if inbound.wait_time(time.monotonic()) > 0:
                client.close(POLICY_VIOLATION, "too many messages from the client")
    finally:
        hub.leave(client, why)
        client.close(POLICY_VIOLATION, "gone")  # ends the sender if still running
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sender, timeout=1.0)
