"""A stand-in for the partner's webhook, for the compose override: ``python -m
examples.webhook.receiver``.

It answers ``POST /hooks`` with 204 and logs the event's ``Idempotency-Key``, marking a
key it has seen before as a repeat (the partner's side of at-least-once delivery), and
``GET /healthz`` with 200. With ``RECEIVER_SLOW_EVERY=N`` every Nth POST is answered
only after ``RECEIVER_SLOW_SECONDS`` (30): longer than the task's timeout, so the logs
show a delivery timing out and its retry succeeding.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import logs
from common.config import read_float, read_int

log = logging.getLogger("examples.webhook.receiver")
MAX_BODY = 1_000_000


class ReceiverServer(ThreadingHTTPServer):
    """The server and what its requests share: the keys seen, the POSTs counted."""

    def __init__(
        self,
        port: int,
        slow_every: int = 0,
        slow_seconds: float = 30.0,
        # All interfaces by default: a container's service, reached by its compose name.
        host: str = "0.0.0.0",
    ) -> None:
        super().__init__((host, port), Receiver)
        self.slow_every = slow_every
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.posts = 0

    def count(self, key: str) -> tuple[int, bool]:
        """This POST's number, and whether its key came before."""
        with self.lock:
            self.posts += 1
            repeat = key in self.seen
            self.seen.add(key)
            return self.posts, repeat


class Receiver(BaseHTTPRequestHandler):
    server: ReceiverServer

    def do_GET(self) -> None:
        self._answer(HTTPStatus.OK if self.path == "/healthz" else HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != "/hooks" or not 0 <= length <= MAX_BODY:
            self._answer(HTTPStatus.NOT_FOUND)
            return
        self.rfile.read(length)
        key = self.headers.get("Idempotency-Key", "")
        number, repeat = self.server.count(key)
        every = self.server.slow_every
        if every and number % every == 0:
            log.info("holding event %s for %gs", key, self.server.slow_seconds)
            time.sleep(self.server.slow_seconds)
        log.info("received event %s%s", key, " (a repeat)" if repeat else "")
        self._answer(HTTPStatus.NO_CONTENT)

    def _answer(self, status: HTTPStatus) -> None:
        self.send_response(status)
        if status != HTTPStatus.NO_CONTENT:
            self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the lines above say what matters, in the project's log format."""


def main() -> int:
    logs.configure(os.environ.get("LOG_LEVEL", "INFO").upper(), "text")
    port = read_int(os.environ, "RECEIVER_PORT", 8000, minimum=1, maximum=65535)
    slow_every = read_int(os.environ, "RECEIVER_SLOW_EVERY", 0, minimum=0, maximum=1_000_000)
    slow_seconds = read_float(os.environ, "RECEIVER_SLOW_SECONDS", 30.0, minimum=0, maximum=600)
    server = ReceiverServer(port, slow_every, slow_seconds)
    # PID 1 in a container: without a handler SIGTERM would be ignored until SIGKILL.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    log.info("receiving webhooks on port %d", port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopping: %d event(s) received, %d distinct", server.posts, len(server.seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
