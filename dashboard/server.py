"""Run the app under uvicorn until SIGTERM; browsers get a clean 1001 close first."""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn

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


def run(config: DashboardConfig, stop: threading.Event, host: str) -> int:
    app, hub = create_app(config, host, stop)
    server = DashboardServer(
        uvicorn.Config(
            app,
            host="0.0.0.0",
            port=config.listen_port,
            ws="websockets-sansio",
            log_config=None,  # the root logger set up by common.logs
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        ),
        hub,
    )
    log.info("serving the live view on port %d", config.listen_port)
    server.run()
    return 0
