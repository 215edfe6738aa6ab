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
from tests.e2e.conftest import ARTIFACTS, stack_for_test
from tests.support.compose import (
    EMULATOR_PORT,
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
REPLICAS = 3


@pytest.fixture(scope="module")
def examples_stack(project_copy: Path) -> Iterator[Stack]:
    settings = {
        "PUBLISH_INTERVAL_SECONDS": "0.5",
        "TASK_INTERVAL_SECONDS": "0.5",
        "READINGS_INTERVAL_SECONDS": "0.5",
        "WORKER_PROCESSES": "1",
        "RECEIVER_SLOW_EVERY": "0",
    }
    new = stack_for_test(project_copy, "pubsub-examples-e2e", settings, ("workqueue", "sink"))
    # As docs/make-it-yours.md says: `docker compose build` makes the project's images
    # (pubsub-fanout-*:$VERSION), which the examples' images are built FROM.
    new("build")
    files = ("docker-compose.yml", EMULATOR_PORT, "examples/compose.yml", *OVERRIDES)
    new = dataclasses.replace(new, files=files)
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


def test_a_replica_scaled_up_after_an_update_holds_it_by_replay(
    examples_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-broadcast off (the override's default): the update is published once, before the
    new replica exists, and reaches it only by replay (REPLAY_SECONDS)."""
    before = set(examples_stack.containers("subscriber"))
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{examples_stack.emulator_port}")
    publisher = pubsub_v1.PublisherClient()
    value = f"joined-{time.time_ns()}"
    topic = f"projects/{EMULATOR_DEFAULT_PROJECT}/topics/config"
    publisher.publish(topic, update("late_joiner", value, 1).data).result(timeout=30)
    wait_for(
        lambda: all(settings_file(r).get("late_joiner") == value for r in before),
        timeout=30,
        what="the update in every running replica",
    )
    started = time.monotonic()
    examples_stack(
        "up", "--detach", "--no-recreate", "--scale", f"subscriber={len(before) + 1}", "subscriber"
    )
    (joined,) = set(examples_stack.containers("subscriber")) - before

    def holds_it() -> dict[str, object] | None:
        try:
            saved = settings_file(joined)
        except AssertionError:  # no settings file yet
            return None
        return saved if saved.get("late_joiner") == value else None

    saved = wait_for(holds_it, timeout=60, interval=0.2, what="the update in the new replica")
    seconds = time.monotonic() - started
    assert {"banner", "dark_mode", "max_upload_mb"} <= set(saved), "every setting"
    wait_for_event(joined, "caught up")  # sought back REPLAY_SECONDS (86400 here)
    print(f"\nscaled up after an update: the new replica held it {seconds:.1f}s after `up`")
    # The operator command, as the docs run it, sees the four.
    listed = examples_stack("run", "--rm", "-e", "PUBSUB_TOPIC=config", "ctl", "--json", "replicas")
    replicas = json.loads(listed.stdout)["replicas"]
    hosts = {inspect(c, "{{.Config.Hostname}}") for c in before | {joined}}
    assert {r["replica"] for r in replicas if r["status"] == "live"} == hosts
