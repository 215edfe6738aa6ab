"""The examples as a user runs them: the project's images built and tagged, the examples'
images built FROM them (examples/Dockerfile), the stack started with the examples'
compose override, every profile on. The config broadcast runs on 3 replicas."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from examples.config_broadcast.source import update
from tests.e2e.conftest import ARTIFACTS, CHECKOUT, stack_for_test
from tests.support.compose import (
    OVERRIDES,
    Stack,
    docker,
    events,
    inspect,
    logs,
    running_stack,
    wait_for_event,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
# The project's images under a tag of this checkout's own: the engine is shared.
TAG = f"e2e-{CHECKOUT}"
REPLICAS = 3


@pytest.fixture(scope="module")
def examples_stack(project_copy: Path) -> Iterator[Stack]:
    for dockerfile, image in (("Dockerfile-Pub", "publisher"), ("Dockerfile-Sub", "subscriber")):
        # As docs/make-it-yours.md says, with the host's network for pip (see OVERRIDES).
        docker(
            "build", "--network", "host", "--file", str(project_copy / dockerfile),
            "--tag", f"pubsub-fanout-{image}:{TAG}", str(project_copy),
        )  # fmt: skip
    settings = {
        "PUBSUB_FANOUT_TAG": TAG,
        "PUBLISH_INTERVAL_SECONDS": "0.5",
        "TASK_INTERVAL_SECONDS": "0.5",
        "READINGS_INTERVAL_SECONDS": "0.5",
        "WORKER_PROCESSES": "1",
        "RECEIVER_SLOW_EVERY": "0",
    }
    new = stack_for_test(project_copy, "pubsub-examples-e2e", settings, ("workqueue", "sink"))
    new = dataclasses.replace(new, files=("docker-compose.yml", "examples/compose.yml", *OVERRIDES))
    scale = ("--scale", f"subscriber={REPLICAS}", "--scale", "worker=1")
    with running_stack(new, *scale, ready=("subscriber", REPLICAS), artifacts=ARTIFACTS) as running:
        wait_for(
            lambda: running.all_healthy("worker", 1) and running.all_healthy("sink", 1),
            timeout=120,
            interval=0.5,
            what="the worker and the sink healthy",
        )
        yield running


def settings_file(container: str) -> dict[str, object]:
    """What the replica's handler wrote: its latest value of each setting."""
    output = docker("exec", container, "cat", "/tmp/settings.json")
    found: dict[str, object] = json.loads(output)
    return found


def test_every_replica_shows_the_latest_setting_after_an_update(
    examples_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicas = examples_stack.containers("subscriber")
    assert len(replicas) == REPLICAS
    for replica in replicas:
        # The extended image: the project's user, the examples' code, the handler named.
        assert inspect(replica, "{{.Config.User}}") == "10001:10001"
        docker("exec", replica, "test", "-f", "/app/examples/config_broadcast/handler.py")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{examples_stack.emulator_port}")
    publisher = pubsub_v1.PublisherClient()
    topic = f"projects/{EMULATOR_DEFAULT_PROJECT}/topics/config"
    value = f"rollout-{time.time_ns()}"
    version = time.time_ns() // 1_000_000
    publisher.publish(topic, update("rollout", value, version).data).result(timeout=30)

    def every_replica_shows_it() -> bool:
        return all(settings_file(r).get("rollout") == value for r in replicas)

    wait_for(every_replica_shows_it, timeout=30, what=f"rollout={value} in every replica")
    # Then an older update of it, late (after the newer one is handled: a replica's handler
    # threads take a pulled batch in any order): no replica may go back to it.
    publisher.publish(topic, update("rollout", "stale", version - 1).data).result(timeout=30)
    for replica in replicas:
        # The late, older update seen and kept out.
        wait_for_event(
            replica, "setting kept", setting="rollout", version=version, incoming=version - 1
        )
        saved = settings_file(replica)
        assert saved["rollout"] == value
        # The example's own source fed the same replicas its settings all along.
        assert {"banner", "dark_mode", "max_upload_mb"} <= set(saved)


def test_webhook_tasks_and_orders_run_in_their_modes(examples_stack: Stack) -> None:
    (worker,) = examples_stack.containers("worker")
    (sink,) = examples_stack.containers("sink")

    def delivered() -> bool:
        """A webhook delivered by the worker, and answered by the stand-in receiver."""
        results = [str(record["result"]) for record in events(worker, "completed")]
        return any(r.startswith("delivered evt-") and "HTTP 204" in r for r in results)

    wait_for(delivered, timeout=60, what="a webhook delivered by the worker")
    wait_for_event(sink, "stored")  # the sink's topic carries the examples' orders
    applied = events(sink, "migration applied", migration="0001_orders.sql")
    assert [r["origin"] for r in applied] == ["examples/orders/migrations"], logs(sink)
