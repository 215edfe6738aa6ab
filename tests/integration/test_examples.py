"""The examples (``examples/``) under their modes, on the emulator, as the compose override
runs them: each loaded from its setting, fed by its own source or by the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from examples.config_broadcast.source import CHOICES, update
from examples.orders.source import order
from examples.webhook.source import event
from tests.integration.conftest import PROJECT, Services, topic_path
from tests.integration.sinks import query, start_sink
from tests.support.postgres import PostgresServer
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def publish(publisher: pubsub_v1.PublisherClient, topic: str, data: bytes) -> str:
    return str(publisher.publish(topic_path(topic), data).result(timeout=30))


def test_every_replica_keeps_the_latest_setting_and_rejects_a_bad_update(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
    tmp_path: Path,
) -> None:
    files = [tmp_path / f"settings-{n}.json" for n in range(2)]
    replicas = [
        services.start(
            "subscriber",
            created_topic,
            HANDLER="examples.config_broadcast.handler:remember_setting",
            SETTINGS_FILE=str(path),
        )
        for path in files
    ]
    for replica in replicas:
        replica.wait_for_event("listening")
    # The example's own source, through the real publisher, sends every setting.
    publisher = services.start(
        "publisher",
        created_topic,
        PUBLISHER_SOURCE="examples.config_broadcast.source:setting_updates",
        PUBLISH_INTERVAL_SECONDS="0.1",
    )
    publisher.wait_for_event("published", sequence=5)
    status, _ = publisher.terminate()
    assert status == 0, publisher.details()

    # An update, a newer one, and then an older one arriving late: the newest stays.
    for value, version in [("on", 10), ("final", 30)]:
        publish(publisher_client, created_topic, update("feature_x", value, version).data)
    # Late means after the newer one is handled: handler threads take a batch in any order.
    for replica in replicas:
        replica.wait_for_event("setting applied", setting="feature_x", version=30)
    late = publish(publisher_client, created_topic, update("feature_x", "late", 20).data)
    bad_update = b'{"setting": "feature_x", "version": 40}'
    bad = publish(publisher_client, created_topic, bad_update)

    def settings(path: Path) -> dict[str, object] | None:
        saved: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
        return saved if set(CHOICES) | {"feature_x"} <= set(saved) else None

    for replica, path in zip(replicas, files, strict=True):
        kept = replica.wait_for_event("setting kept", message_id=late)
        assert (kept["setting"], kept["version"], kept["incoming"]) == ("feature_x", 30, 20)
        saved = wait_for(partial(settings, path), timeout=10, what=f"every setting in {path}")
        assert saved["feature_x"] == "final"
        rejected = replica.wait_for_event("rejected", message_id=bad, attempt=1)
        assert rejected["reason"] == "an update must have a value", rejected
    # Each replica's copy of the bad update, after its 5 attempts, in the dead letters.
    dead_letters = f"projects/{PROJECT}/subscriptions/{created_topic}-dead-letter"
    parked: list[bytes] = []

    def both_parked() -> bool:
        response = subscriber_client.pull(subscription=dead_letters, max_messages=10, timeout=5)
        for received in response.received_messages:
            parked.append(received.message.data)
            subscriber_client.acknowledge(subscription=dead_letters, ack_ids=[received.ack_id])
        return len(parked) >= 2

    wait_for(both_parked, timeout=60, what="the bad update dead-lettered by both replicas")
    assert parked == [bad_update, bad_update]
    for replica in replicas:
        status, _ = replica.terminate()
        assert status == 0, replica.details()


class Partner(BaseHTTPRequestHandler):
    """The test's own webhook on loopback: by event ID, 204, a 500 the first time, or no
    answer for a minute."""

    server: PartnerServer

    def do_POST(self) -> None:
        key = self.headers["Idempotency-Key"]
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.calls.append(key)
            first = self.server.calls.count(key) == 1
        if key == "evt-hang":
            time.sleep(60)
        status = HTTPStatus.INTERNAL_SERVER_ERROR if key == "evt-flaky" and first else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class PartnerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Partner)
        self.lock = threading.Lock()
        self.calls: list[str] = []


@pytest.fixture
def partner() -> Iterator[PartnerServer]:
    server = PartnerServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_tasks_deliver_retry_and_time_out(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    partner: PartnerServer,
) -> None:
    worker = services.start(
        "subscriber",
        created_topic,
        SUBSCRIPTION_MODE="shared",
        WORKER_PROCESSES="2",
        TASK_FUNCTION="examples.webhook.task:deliver",
        WEBHOOK_URL=f"http://127.0.0.1:{partner.server_port}/hooks",
        WEBHOOK_TIMEOUT_SECONDS="1",
    )
    working = worker.wait_for_event("working")
    assert working["task_function"] == "examples.webhook.task:deliver"
    ok, flaky, hang = (
        publish(publisher_client, created_topic, event(key, "invoice.paid", 100))
        for key in ("evt-ok", "evt-flaky", "evt-hang")
    )
    delivered = worker.wait_for_event("completed", message_id=ok)
    assert delivered["result"].startswith("delivered evt-ok: HTTP 204"), delivered
    failed = worker.wait_for_event("failed", message_id=flaky, attempt=1)
    assert failed["reason"] == "DeliveryFailed: evt-flaky: HTTP 500 from the webhook", failed
    retried = worker.wait_for_event("completed", message_id=flaky)
    assert retried["result"].startswith("delivered evt-flaky: HTTP 204"), retried
    # The task's own timeout, well inside its deadline: a reason, not a killed process.
    timed_out = worker.wait_for_event("failed", message_id=hang, attempt=1)
    assert timed_out["reason"] == "TimeoutError: evt-hang: no answer within 1s", timed_out
    assert partner.calls.count("evt-ok") == 1
    status, _ = worker.terminate()
    assert status == 0, worker.details()


def test_orders_are_stored_by_the_example_mapper_in_its_own_table(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    sink: ServiceProcess = start_sink(
        services,
        created_topic,
        postgres,
        SINK_ROW_MAPPER="examples.orders.mapper:order_row",
        SINK_MIGRATIONS="examples/orders/migrations",
    )
    sink.wait_for_event(
        "migration applied", migration="0001_orders.sql", origin="examples/orders/migrations"
    )
    sink.wait_for_event("connected")
    items: list[dict[str, object]] = [{"sku": "mug-white", "quantity": 2, "unit_price_cents": 1450}]
    first = publish(publisher_client, created_topic, order("ord-1", "c-1", items))
    second = publish(publisher_client, created_topic, order("ord-2", "c-1", items))
    again = publish(publisher_client, created_topic, order("ord-1", "c-1", items))
    bad = publish(publisher_client, created_topic, b'{"order_id": "ord-3"}')

    for message_id in (first, second):
        sink.wait_for_event("stored", message_id=message_id)
    duplicate = sink.wait_for_event("rejected", message_id=again)
    assert duplicate["reason"].startswith("refused by the database: UniqueViolation"), duplicate
    not_an_order = sink.wait_for_event("rejected", message_id=bad)
    assert not_an_order["reason"].startswith("currency must be a three-letter code"), not_an_order
    rows = query(postgres, "SELECT message_id, order_id, total_cents, items FROM orders")
    assert sorted(rows) == sorted([(first, "ord-1", 2900, items), (second, "ord-2", 2900, items)])
    rejects = {row[0] for row in query(postgres, "SELECT message_id FROM rejects")}
    assert rejects == {again, bad}
    assert query(postgres, "SELECT version, name FROM user_schema_migrations") == [
        (1, "0001_orders.sql")
    ]
    status, _ = sink.terminate()
    assert status == 0, sink.details()
