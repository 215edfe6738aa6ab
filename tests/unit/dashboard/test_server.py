"""The dashboard's app served as the dashboard serves it (uvicorn, its protocols, its
middleware) on a real port, with real sockets: the Host allow-list, the security headers,
big client messages, connections per address and idle connections. No Pub/Sub: the
feeds are not started (lifespan off), so ``/healthz`` says not ready, which is all the
HTTP checks need."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from dashboard.app import create_app
from dashboard.config import DashboardConfig
from dashboard.headers import CONTENT_SECURITY_POLICY
from dashboard.hub import Hub
from dashboard.server import MAX_CLIENT_MESSAGE_BYTES, DashboardServer, uvicorn_config
from tests.support.emulator import free_port


def config_for(port: int, **settings: str) -> DashboardConfig:
    return DashboardConfig.from_env(
        {"PUBSUB_EMULATOR_HOST": "localhost:1", "DASHBOARD_LISTEN_PORT": str(port), **settings}
    )


@contextlib.asynccontextmanager
async def serving(**settings: str) -> AsyncIterator[tuple[int, Hub]]:
    port = free_port()
    config = config_for(port, **settings)
    app, hub = create_app(config, "test-host", threading.Event())
    server = DashboardServer(uvicorn_config(app, config, host="127.0.0.1", lifespan="off"), hub)
    serve = asyncio.create_task(server.serve())
    ticks = asyncio.create_task(hub.run_ticks())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port, hub
    finally:
        ticks.cancel()
        server.should_exit = True
        await asyncio.wait_for(serve, 10)


@contextlib.contextmanager
def served(**settings: str) -> Iterator[int]:
    """The same, on a thread of its own, for the blocking clients of the HTTP tests."""
    started = threading.Event()
    stop = threading.Event()
    port: list[int] = []

    async def run() -> None:
        async with serving(**settings) as (p, _hub):
            port.append(p)
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    try:
        assert started.wait(10)
        yield port[0]
    finally:
        stop.set()
        thread.join(15)


def get(port: int, path: str, host: str | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Host": host} if host is not None else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_foreign_host_is_refused_on_every_path() -> None:
    with served() as port:
        for path in ("/", "/healthz", "/static/app.js", "/ws"):
            assert get(port, path, host=f"rebind.evil.example:{port}").status == 400, path
        assert get(port, "/", host=f"localhost:{port}").status == 200
        assert get(port, "/", host=f"[::1]:{port}").status == 200
    with served(DASHBOARD_ALLOWED_HOSTS="dash.example") as port:
        assert get(port, "/", host="dash.example").status == 200
        assert get(port, "/", host=f"127.0.0.1:{port}").status == 400


def test_every_response_carries_the_security_headers() -> None:
    with served() as port:
        for path in ("/", "/static/app.js", "/static/style.css", "/healthz", "/nowhere"):
            response = get(port, path)
            assert response.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
            assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
            assert response.getheader("X-Content-Type-Options") == "nosniff"
            assert response.getheader("X-Frame-Options") == "DENY"
            assert response.getheader("Referrer-Policy") == "no-referrer"


def test_a_websocket_with_a_foreign_host_or_origin_is_refused() -> None:
    async def scenario() -> None:
        async with serving() as (port, hub):
            evil = f"rebind.evil.example:{port}"
            # DNS rebinding: the attacker's page, its name pointed at 127.0.0.1.
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    f"ws://127.0.0.1:{port}/ws",
                    origin=Origin(f"http://{evil}"),
                    additional_headers={"Host": evil},
                ):
                    pass
            assert refused.value.response.status_code == 400
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    f"ws://127.0.0.1:{port}/ws", origin=Origin("http://evil.example")
                ):
                    pass
            assert refused.value.response.status_code == 403
            assert not hub.clients
            page = Origin(f"http://127.0.0.1:{port}")
            async with connect(f"ws://127.0.0.1:{port}/ws", origin=page) as ws:
                assert '"snapshot"' in str(await asyncio.wait_for(ws.recv(), 5))

    asyncio.run(scenario())


def test_a_big_client_message_closes_that_client_only() -> None:
    async def scenario() -> None:
        async with serving() as (port, hub):
            page = Origin(f"http://127.0.0.1:{port}")
            async with (
                connect(f"ws://127.0.0.1:{port}/ws", origin=page) as quiet,
                connect(f"ws://127.0.0.1:{port}/ws", origin=page) as loud,
            ):
                await asyncio.wait_for(quiet.recv(), 5)
                await asyncio.wait_for(loud.recv(), 5)
                await loud.send("x" * (MAX_CLIENT_MESSAGE_BYTES + 1))
                with pytest.raises(ConnectionClosed) as closed:
                    await read_until_closed(loud)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1009  # message too big
                for _ in range(3):  # the other is still served, a frame a second at least
                    await asyncio.wait_for(quiet.recv(), 5)
                assert len(hub.clients) == 1

    asyncio.run(scenario())


async def read_until_closed(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)


def closed_by_server(sock: socket.socket, timeout: float) -> float:
    """Seconds until the server closes ``sock`` (reads b""); ``AssertionError`` if not
    within ``timeout``."""
    started = time.monotonic()
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        raise AssertionError(f"not closed within {timeout}s") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_connections_from_one_address_are_capped() -> None:
    with served(DASHBOARD_MAX_CONNECTIONS_PER_ADDRESS="3") as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            one_more = socket.create_connection(("127.0.0.1", port))
            assert closed_by_server(one_more, 5) < 2, "closed at once"
            one_more.close()
            held.pop().close()
            wait_until(lambda: get_status(port) == 503)  # room again: /healthz answers
        finally:
            for sock in held:
                sock.close()


def get_status(port: int) -> int | None:
    try:
        return get(port, "/healthz").status
    except (OSError, http.client.HTTPException):
        return None


def wait_until(done: object, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def trickle(sock: socket.socket, data: bytes) -> None:
    for byte in data:
        sock.send(bytes([byte]))
        time.sleep(0.2)


def test_idle_and_slow_connections_are_closed_after_the_deadline() -> None:
    with served(DASHBOARD_IDLE_TIMEOUT_SECONDS="1") as port:
        silent = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        started = time.monotonic()
        # A slow-headers client: a byte every 0.2 s never finishes its request.
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            trickle(slow, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100)
        assert time.monotonic() - started < 3, "closed within the deadline, bytes or not"
        assert closed_by_server(silent, 5) < 3
        # A keep-alive connection after its response: closed too, not held for ever.
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(f"GET /healthz HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
        assert closed_by_server(kept, 5) < 3
        for sock in (silent, slow, kept):
            sock.close()
