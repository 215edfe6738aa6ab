"""Run the app under uvicorn until SIGTERM; browsers get a clean 1001 close first."""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

from dashboard.app import create_app
from dashboard.config import DashboardConfig
from dashboard.hub import Hub

log = logging.getLogger(__name__)


class DashboardServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self._hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's own shutdown would drop open WebSockets with 1012; close them first
        # with 1001 (going away), which browsers and the page treat as a clean close.
        await self._hub.close_all()
        await super().shutdown(sockets)


def uvicorn_config(
    app: ASGIApp, config: DashboardConfig, *, host: str = "0.0.0.0", lifespan: str = "on"
) -> uvicorn.Config:
    """How the dashboard is served (the tests serve the same way)."""
    return uvicorn.Config(
        app,
        host=host,
        port=config.listen_port,
        ws="websockets-sansio",
        # A client that stops reading leaves a ping unanswered: it is closed within the
        # stall time even while its socket's buffers still take frames. (One whose buffers
        # are full is dropped by the hub: its send waits that long.)
        ws_ping_interval=config.client_stall_seconds / 2,
        ws_ping_timeout=config.client_stall_seconds / 2,
        log_config=None,  # the root logger set up by common.logs
        access_log=False,
        lifespan=lifespan,  # type: ignore[arg-type]
        timeout_graceful_shutdown=2,
    )


def run(config: DashboardConfig, stop: threading.Event, host: str) -> int:
    app, hub = create_app(config, host, stop)
    server = DashboardServer(uvicorn_config(app, config), hub)
    log.info("serving the live view on port %d", config.listen_port)
    server.run()
    return 0
