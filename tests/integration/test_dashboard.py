"""The live view end to end on real parts: the emulator, two subscriber processes, the
dashboard process (uvicorn on a real port) and a real WebSocket client."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from google.cloud import pubsub_v1
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from common.messages.channels import Channel, ChannelMessage
from tests.integration.conftest import Services, subscriptions_of, topic_path
from tests.support.emulator import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration
Event = dict[str, Any]


class Feed:
    """A WebSocket client that keeps what it has been sent, as the page does."""

    def __init__(self, port: int, sockets: contextlib.ExitStack) -> None:
        # The page's own origin, as a browser on http://127.0.0.1:<port>/ sends it.
        self.socket: ClientConnection = sockets.enter_context(
            connect(f"ws://127.0.0.1:{port}/ws", origin=Origin(f"http://127.0.0.1:{port}"))
        )
        self.messages: dict[str, Event] = {}
        self.replicas: dict[str, Event] = {}
        self.counters: Event = {}

    def read_until(self, done: Callable[[], bool], timeout: float, what: str) -> float:
        """Apply events until ``done()``; the monotonic time it became true."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}: {self}")
            try:
                self.apply(json.loads(self.socket.recv(timeout=left)))
            except TimeoutError:
                continue
        return time.monotonic()

    def has(self, message_id: str) -> bool:
        return message_id in self.messages

    def handled_by(self, message_id: str, replicas: set[str]) -> bool:
        return set(self.messages[message_id]["handled"]) == replicas

    def apply(self, event: Event) -> None:
        if event["type"] == "snapshot":
            self.messages = {m["message_id"]: m for m in event["messages"]}
            self.replicas = {r["id"]: r for r in event["replicas"]}
        elif event["type"] == "message":
            self.messages[event["message"]["message_id"]] = event["message"]
        elif event["type"] == "replica":
            self.replicas[event["replica"]["id"]] = event["replica"]
        self.counters = event["counters"]

    def __str__(self) -> str:
        return f"replicas={self.replicas} messages={list(self.messages.values())[-3:]}"


def close_code(socket: ClientConnection, timeout: float = 5) -> int | None:
    """Read until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the server did not close the socket")


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def start_dashboard(services: Services, topic: str, **settings: str) -> tuple[ServiceProcess, int]:
    port = free_port()
    dashboard = services.start("dashboard", topic, DASHBOARD_LISTEN_PORT=str(port), **settings)
    dashboard.wait_for_log(r"listening on \S+-dead-letter-dashboard-")
    return dashboard, port


def publish(publisher: pubsub_v1.PublisherClient, topic: str, sequence: int) -> str:
    data, attributes = ChannelMessage(Channel(22, "Cartoon"), sequence).encode()
    message_id: str = publisher.publish(topic_path(topic), data, **attributes).result(timeout=10)
    return message_id


def test_published_messages_show_up_handled_by_each_replica(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
    sockets: contextlib.ExitStack,
) -> None:
    dashboard, port = start_dashboard(services, created_topic, DASHBOARD_MAX_CLIENTS="2")
    replicas = [services.start("subscriber", created_topic) for _ in range(2)]
    ids = [r.wait_for_log(r"listening on \S+/subscriptions/(\S+)")[1] for r in replicas]

    feed = Feed(port, sockets)
    feed.read_until(lambda: set(ids) <= set(feed.replicas), 10, "both replicas joined")
    assert all(feed.replicas[i]["status"] == "joined" for i in ids)

    latencies = []
    for sequence in range(1, 6):
        published_at = time.monotonic()
        message_id = publish(publisher_client, created_topic, sequence)
        shown = feed.read_until(partial(feed.has, message_id), 5, f"message {message_id}")
        handled = feed.read_until(
            partial(feed.handled_by, message_id, set(ids)),
            5,
            f"message {message_id} handled by both replicas",
        )
        assert feed.messages[message_id]["handled"] == dict.fromkeys(ids, "acked")
        assert feed.messages[message_id]["channel"] == "22 Cartoon"
        latencies.append((shown - published_at, handled - published_at))
    print("publish -> shown, -> handled by both (s):", [f"{a:.3f}/{b:.3f}" for a, b in latencies])
    assert feed.counters["published"] == 5
    assert feed.counters["acked"] == 10

    # The page's origin passes; another site's is refused at the handshake.
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(f"ws://127.0.0.1:{port}/ws", origin=Origin("http://evil.example")),
    ):
        pass
    assert refused.value.response.status_code == 403
    assert "refused WebSocket from origin http://evil.example" in dashboard.log()

    # The cap is 2: a second client is served, a third is turned away.
    second = Feed(port, sockets)
    second.read_until(lambda: len(second.messages) == 5, 5, "the snapshot")
    third = Feed(port, sockets)
    assert close_code(third.socket) == 1013

    # A replica that stops says so before its subscription goes.
    status, seconds = replicas[0].terminate()
    assert status == 0, replicas[0].details()
    assert seconds < 3, f"shutdown took {seconds:.2f}s with receipts\n{replicas[0].details()}"
    feed.read_until(lambda: feed.replicas[ids[0]]["status"] == "left", 5, "the replica left")
    assert feed.replicas[ids[1]]["status"] == "joined"

    # Shutdown: clients get 1001, and the dashboard's own subscriptions are gone.
    status, seconds = dashboard.terminate()
    assert status == 0, dashboard.details()
    assert close_code(feed.socket) == 1001
    assert close_code(second.socket) == 1001
    print(f"dashboard shutdown: {seconds:.2f}s")
    for topic in (created_topic, f"{created_topic}-receipts", f"{created_topic}-dead-letter"):
        assert not [s for s in subscriptions_of(subscriber_client, topic) if "-dashboard-" in s]


def test_a_client_that_cannot_keep_up_is_closed_not_waited_for(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    sockets: contextlib.ExitStack,
) -> None:
    # 1 event a second and room for 3: a burst of messages overflows this client's queue.
    dashboard, port = start_dashboard(
        services,
        created_topic,
        DASHBOARD_MAX_EVENTS_PER_SECOND="1",
        DASHBOARD_CLIENT_QUEUE="3",
    )
    feed = Feed(port, sockets)
    feed.read_until(lambda: feed.counters != {}, 5, "the snapshot")
    for sequence in range(10):
        publish(publisher_client, created_topic, sequence)
    assert close_code(feed.socket, timeout=10) == 1013
    dashboard.wait_for_log(r"too slow: queue full, closing it")
    # The dashboard itself carries on: a new client gets every message in its snapshot.
    late = Feed(port, sockets)
    late.read_until(lambda: late.counters.get("published") == 10, 10, "all 10 in the snapshot")
