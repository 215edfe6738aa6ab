"""The live view end to end on real parts: the emulator, subscriber processes, the
dashboard process (uvicorn on a real port) and real WebSocket clients (format 2)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import partial

import pytest
from google.cloud import pubsub_v1
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from common.messages.channels import Channel, ChannelMessage
from tests.integration.conftest import Services, save_report, subscriptions_of, topic_path
from tests.support.compose import stop_grace_seconds
from tests.support.emulator import free_port
from tests.support.live_view import LiveView
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration
# The dashboard follows three topics: the channel, the receipts and the dead letters.
FEEDS = 3
# How long a wait for the view may take: a bound for a stalled view, not a figure of speed
# (the tests print those).
VIEW_SECONDS = 30


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
def views() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def start_dashboard(services: Services, topic: str, **settings: str) -> tuple[ServiceProcess, int]:
    port = free_port()
    dashboard = services.start("dashboard", topic, DASHBOARD_LISTEN_PORT=str(port), **settings)
    dashboard.wait_for_events("listening", FEEDS)
    return dashboard, port


def start_replicas(services: Services, topic: str, count: int, **settings: str) -> list[str]:
    """``count`` replicas listening; their subscription IDs (the live view's column IDs)."""
    replicas = [services.start("subscriber", topic, **settings) for _ in range(count)]
    paths = [replica.wait_for_event("listening")["subscription"] for replica in replicas]
    return [path.rsplit("/", 1)[-1] for path in paths]


def publish(publisher: pubsub_v1.PublisherClient, topic: str, sequence: int) -> str:
    data, attributes = ChannelMessage(Channel(22, "Cartoon"), sequence).encode()
    message_id: str = publisher.publish(topic_path(topic), data, **attributes).result(timeout=10)
    return message_id


def test_published_messages_show_up_handled_by_each_replica(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
    views: contextlib.ExitStack,
) -> None:
    dashboard, port = start_dashboard(services, created_topic, DASHBOARD_MAX_CLIENTS="2")
    ids = start_replicas(services, created_topic, 2)
    replicas = services.started[1:]

    view = views.enter_context(LiveView(port))
    view.read_until(lambda: set(ids) <= view.listening(), VIEW_SECONDS, "both replicas joined")

    latencies = []
    for sequence in range(1, 6):
        published_at = time.monotonic()
        message_id = publish(publisher_client, created_topic, sequence)
        shown = view.read_until(
            partial(view.has, message_id), VIEW_SECONDS, f"message {message_id}"
        )
        handled = view.read_until(
            partial(view.handled_by, message_id, set(ids)),
            VIEW_SECONDS,
            f"message {message_id} handled by both replicas",
        )
        assert view.messages[message_id]["handled"] == dict.fromkeys(ids, "acked")
        assert view.messages[message_id]["channel"] == "22 Cartoon"
        latencies.append((shown - published_at, handled - published_at))
    print("publish -> shown, -> handled by both (s):", [f"{a:.3f}/{b:.3f}" for a, b in latencies])
    assert view.counters["published"] == 5
    view.read_until(lambda: view.counters["acked"] == 10, VIEW_SECONDS, "the counters")

    # The page's origin passes; another site's is refused at the handshake.
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(f"ws://127.0.0.1:{port}/ws", origin=Origin("http://evil.example")),
    ):
        pass
    assert refused.value.response.status_code == 403
    dashboard.wait_for_event("origin refused", origin="http://evil.example")

    # The cap is 2: a second client is served, a third is turned away.
    second = views.enter_context(LiveView(port))
    second.read_until(lambda: len(second.messages) == 5, VIEW_SECONDS, "the snapshot")
    third = views.enter_context(LiveView(port))
    assert close_code(third.socket) == 1013

    # A replica that stops says so before its subscription goes, with its final count.
    status, seconds = replicas[0].terminate()
    print(f"replica shutdown with receipts: {seconds:.2f}s")
    assert status == 0, replicas[0].details()
    assert seconds < stop_grace_seconds("subscriber"), f"shutdown took {seconds:.2f}s"
    view.read_until(
        lambda: view.replicas[ids[0]]["status"] == "left", VIEW_SECONDS, "the replica left"
    )
    assert view.replicas[ids[0]]["acked"] == 5
    assert view.replicas[ids[1]]["status"] == "joined"

    # Shutdown: clients get 1001, and the dashboard's own subscriptions are gone.
    status, seconds = dashboard.terminate()
    assert status == 0, dashboard.details()
    assert close_code(view.socket) == 1001
    assert close_code(second.socket) == 1001
    print(f"dashboard shutdown: {seconds:.2f}s")
    for topic in (created_topic, f"{created_topic}-receipts", f"{created_topic}-dead-letter"):
        assert not [s for s in subscriptions_of(subscriber_client, topic) if "-dashboard-" in s]


def test_a_dashboard_started_late_lists_the_replicas_and_their_counts_then_one_gone_silent(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    views: contextlib.ExitStack,
) -> None:
    ids = start_replicas(services, created_topic, 3)
    replicas = services.started[:3]
    for sequence in range(3):  # handled before the dashboard exists
        publish(publisher_client, created_topic, sequence)
    for replica in replicas:
        replica.wait_for_events("received", 3)

    started = time.monotonic()
    _, port = start_dashboard(services, created_topic)
    view = views.enter_context(LiveView(port))
    # Nothing is published from now on: the replicas are listed from their announcements.
    listed = view.read_until(
        lambda: view.listening() == set(ids), VIEW_SECONDS, "every replica listed"
    )
    late_start = listed - started
    # Their whole counts, though the dashboard saw none of those messages.
    view.read_until(
        lambda: all(view.replicas[i]["acked"] == 3 for i in ids),
        VIEW_SECONDS,
        "the replicas' counts",
    )
    assert view.counters["acked"] == 9
    assert view.counters["published"] == 0, "published counts what the dashboard saw"

    replicas[0].process.kill()  # no "left": a crash
    killed = time.monotonic()
    view.read_until(
        lambda: view.replicas[ids[0]]["status"] == "silent", VIEW_SECONDS, "a silent replica"
    )
    silent_after = time.monotonic() - killed
    assert view.listening() == set(ids[1:])
    save_report(
        "dashboard-late-start.txt",
        f"dashboard started after 3 idle replicas: all listed {late_start:.2f}s after its "
        f"start\nreplica killed: shown silent after {silent_after:.2f}s\n",
    )


def test_a_dead_lettered_message_is_linked_to_its_row(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    views: contextlib.ExitStack,
) -> None:
    _, port = start_dashboard(services, created_topic)
    [column] = start_replicas(services, created_topic, 1)
    view = views.enter_context(LiveView(port))
    view.read_until(lambda: view.listening() == {column}, VIEW_SECONDS, "the replica listed")
    bad_id = publisher_client.publish(topic_path(created_topic), b"not json").result(timeout=10)
    good_id = publish(publisher_client, created_topic, 1)
    view.read_until(lambda: view.counters["dead_lettered"] == 1, 60, "the dead letter")
    view.read_until(
        lambda: view.messages[bad_id]["handled"] == {column: "dead-lettered"},
        VIEW_SECONDS,
        "its row marked",
    )
    [letter] = view.dead_letters
    assert (letter["message_id"], letter["replica"], letter["attempts"]) == (bad_id, column, 5)
    assert letter["dead_letter_id"] != bad_id, "Pub/Sub gives a dead letter a new ID"
    assert view.messages[good_id]["handled"] == {column: "acked"}
    assert (view.counters["rejected"], view.counters["acked"]) == (5, 1)
