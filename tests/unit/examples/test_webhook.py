"""The webhook example: events delivered to a real local receiver, with a timeout."""

from __future__ import annotations

import importlib
import json
import random
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import pytest

from common.config import ConfigError
from common.seams import Delivery
from examples.webhook.receiver import ReceiverServer
from examples.webhook.source import event, webhook_events


@pytest.fixture
def receiver() -> Iterator[ReceiverServer]:
    # Every second POST answered only after 2 s: past the task's 0.5 s timeout below.
    server = ReceiverServer(0, slow_every=2, slow_seconds=2, host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def task_module(monkeypatch: pytest.MonkeyPatch, url: str, timeout: str = "0.5") -> ModuleType:
    """The task module as a worker imports it, with these settings."""
    monkeypatch.setenv("WEBHOOK_URL", url)
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", timeout)
    return importlib.import_module("examples.webhook.task")


def delivery(data: bytes) -> Delivery:
    return Delivery("m-1", data, {}, datetime(2026, 11, 22, tzinfo=UTC), 1)


def test_an_event_is_delivered_and_a_slow_answer_times_out(
    receiver: ReceiverServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = importlib.reload(
        task_module(monkeypatch, f"http://127.0.0.1:{receiver.server_port}/hooks")
    )
    data = event("evt-1", "invoice.paid", 1299)
    assert task.deliver(delivery(data)).startswith("delivered evt-1: HTTP 204 in ")
    with pytest.raises(TimeoutError, match=r"^evt-1: no answer within 0.5s$"):
        task.deliver(delivery(data))  # the receiver's second POST: held for 2 s
    assert task.deliver(delivery(data)).startswith("delivered evt-1")
    assert receiver.seen == {"evt-1"}
    assert receiver.posts == 3


def test_a_refusal_and_an_unreachable_webhook_fail_the_task(
    receiver: ReceiverServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_path = f"http://127.0.0.1:{receiver.server_port}/elsewhere"
    task = importlib.reload(task_module(monkeypatch, wrong_path))
    data = event("evt-2", "invoice.paid", 1)
    with pytest.raises(task.DeliveryFailed, match=r"^evt-2: HTTP 404 from the webhook$"):
        task.deliver(delivery(data))
    receiver.shutdown()
    receiver.server_close()
    task = importlib.reload(task_module(monkeypatch, f"http://127.0.0.1:{receiver.server_port}/"))
    with pytest.raises(task.DeliveryFailed, match=r"^evt-2: \[Errno 111\] Connection refused$"):
        task.deliver(delivery(data))
    with pytest.raises(ValueError, match="an event must have an event_id"):
        task.deliver(delivery(b'{"type": "invoice.paid"}'))


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, r"^WEBHOOK_URL must be set$"),
        ({"WEBHOOK_URL": "ftp://partner/hooks"}, r"^WEBHOOK_URL must be an http:// or https://"),
        ({"WEBHOOK_URL": "http://x/", "WEBHOOK_TIMEOUT_SECONDS": "0"}, r"^WEBHOOK_TIMEOUT_SECONDS"),
    ],
)
def test_bad_settings_stop_the_worker_at_import(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], problem: str
) -> None:
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    import sys  # noqa: PLC0415 - a fresh import, as a worker's start-up does it

    sys.modules.pop("examples.webhook.task", None)
    with pytest.raises(ConfigError, match=problem):
        importlib.import_module("examples.webhook.task")


def test_the_source_makes_events_the_task_can_deliver() -> None:
    message = webhook_events(random.Random(1), 7, "pub-1")
    body = json.loads(message.data)
    assert body["event_id"] == "evt-pub-1-7"
    assert message.attributes["event_type"] == body["type"]
    assert body["created_at"].endswith("Z")


def test_the_receiver_answers_health_checks(receiver: ReceiverServer) -> None:
    url = f"http://127.0.0.1:{receiver.server_port}/healthz"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
