"""The live view under attack, on real parts: the emulator, a replica process, the
dashboard process, real WebSocket clients. Thousands of valid receipts from invented
replicas leave its columns and frames bounded and the real replica shown again; a
WebSocket with a foreign Host is refused; a big client message closes that client only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from concurrent import futures

import pytest
from google.cloud import pubsub_v1
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from common.messages.receipts import MAX_ID_LENGTH, Sender, Totals, encode_announcement
from tests.integration.conftest import Services, topic_path
from tests.integration.test_dashboard import start_dashboard, start_replicas
from tests.support.live_view import LiveView

pytestmark = pytest.mark.integration
FORGED = 3_000
MAX_REPLICAS = 32  # DASHBOARD_MAX_REPLICAS' default


def forge(publisher: pubsub_v1.PublisherClient, topic: str) -> None:
    """``FORGED`` valid ``alive`` receipts, each from a replica of its own with the longest
    IDs the format allows, each claiming to announce itself once an hour."""
    sent = []
    for n in range(FORGED):
        name = f"forged-{n:06d}-{uuid.uuid4().hex}".ljust(MAX_ID_LENGTH, "x")
        data = encode_announcement(
            "alive", Sender(name, name, name), Totals(10**9, 0), at="t", every=3600.0
        )
        sent.append(publisher.publish(topic_path(f"{topic}-receipts"), data))
    futures.wait(sent, timeout=120)
    assert all(future.exception() is None for future in sent)


def until_closed(socket: ClientConnection) -> int | None:
    try:
        while True:
            socket.recv(timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_forged_receipts_foreign_hosts_and_big_client_messages(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    dashboard, port = start_dashboard(services, created_topic)
    (replica,) = start_replicas(services, created_topic, 1)
    with LiveView(port) as view:
        view.read_until(lambda: replica in view.listening(), 15, "the real replica joined")
        forge(publisher_client, created_topic)

        def flooded_and_back() -> bool:
            assert len(view.replicas) <= MAX_REPLICAS, len(view.replicas)
            forged = [column for column in view.replicas if column.startswith("forged-")]
            return len(forged) >= MAX_REPLICAS - 1 and replica in view.listening()

        # The forgeries fill the columns; the real replica, evicted, is back at its next
        # announcement (every 2 s), the quietest forgery making way.
        view.read_until(flooded_and_back, 60, "the forged columns in, the real one back")
        view.read_for(2)
        largest = max(view.frame_sizes)
        print(f"{FORGED} forged receipts: largest frame {largest:,} bytes, "
              f"{len(view.replicas)} columns")  # fmt: skip
        assert largest < 600_000
        with LiveView(port) as late:  # a snapshot is bounded too
            late.read_one(timeout=5)
            assert len(late.replicas) <= MAX_REPLICAS

        # A page on another name pointed at this machine (DNS rebinding): refused.
        evil = f"rebind.evil.example:{port}"
        with (
            pytest.raises(InvalidStatus) as refused,
            connect(
                f"ws://127.0.0.1:{port}/ws",
                origin=Origin(f"http://{evil}"),
                additional_headers={"Host": evil},
            ),
        ):
            pass
        assert refused.value.response.status_code == 400
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": evil})
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(request, timeout=5)
        page.value.close()  # its response holds the socket until closed
        assert page.value.code == 400

        # A client that sends a big message is closed (1009); the others are not.
        with LiveView(port) as loud:
            loud.read_one(timeout=5)
            loud.socket.send("x" * 64_000)
            assert until_closed(loud.socket) == 1009
        before = len(view.frame_times)
        view.read_for(1.5)
        assert len(view.frame_times) > before, "the other client still gets its frames"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok", dashboard.details()
