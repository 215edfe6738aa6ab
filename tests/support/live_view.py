"""A client of the live view's WebSocket feed (format version 2) that keeps what it is
sent, as the page does, and times the frames. Shared by the tests and the benchmarks."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

Body = dict[str, Any]
VERSION = 2


class LiveView:
    """One connection to ``ws://127.0.0.1:<port>/ws`` with the page's own origin; a context
    manager that closes it."""

    def __init__(self, port: int) -> None:
        self._connection = contextlib.ExitStack()
        self.socket: ClientConnection = self._connection.enter_context(
            connect(f"ws://127.0.0.1:{port}/ws", origin=Origin(f"http://127.0.0.1:{port}"))
        )
        self.history = 0
        self.messages: dict[str, Body] = {}
        self.replicas: dict[str, Body] = {}
        self.dead_letters: list[Body] = []
        self.counters: Body = {}
        self.rates: Body = {}
        # Monotonic arrival time and size in bytes of each frame (the snapshot excluded).
        self.frame_times: list[float] = []
        self.frame_sizes: list[int] = []

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.close()

    def read_one(self, timeout: float) -> None:
        """Read and apply one snapshot or frame; ``TimeoutError`` if none comes in time."""
        text = self.socket.recv(timeout=timeout)
        assert isinstance(text, str)
        body = json.loads(text)
        if body["type"] == "frame":
            self.frame_times.append(time.monotonic())
            self.frame_sizes.append(len(text))
        self.apply(body)

    def read_until(self, done: Callable[[], bool], timeout: float, what: str) -> float:
        """Read until ``done()``; the monotonic time it became true. ``AssertionError``
        naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}: {self}")
            try:
                self.read_one(timeout=left)
            except TimeoutError:
                continue
        return time.monotonic()

    def read_for(self, seconds: float) -> None:
        """Read everything sent for ``seconds``."""
        deadline = time.monotonic() + seconds
        self.read_until(lambda: time.monotonic() >= deadline, seconds + 5, "the time to pass")

    def apply(self, body: Body) -> None:
        assert body["version"] == VERSION, body
        if body["type"] == "snapshot":
            self.history = body["history"]
            self.messages = {}
        for row in body["messages"]:
            self.messages[row["message_id"]] = row
        if len(self.messages) > self.history:
            newest = sorted(self.messages.values(), key=lambda row: -row["index"])
            self.messages = {row["message_id"]: row for row in newest[: self.history]}
        if "replicas" in body:
            self.replicas = {column["id"]: column for column in body["replicas"]}
        if "dead_letters" in body:
            self.dead_letters = body["dead_letters"]
        self.counters = body["counters"]
        self.rates = body["rates"]

    def has(self, message_id: str) -> bool:
        return message_id in self.messages

    def handled_by(self, message_id: str, replicas: set[str]) -> bool:
        return set(self.messages[message_id]["handled"]) == replicas

    def listening(self) -> set[str]:
        return {i for i, column in self.replicas.items() if column["status"] == "joined"}

    def __str__(self) -> str:
        return (
            f"counters={self.counters} replicas={list(self.replicas.values())} "
            f"messages={list(self.messages.values())[-3:]}"
        )
