"""The real compose stack in a real Docker Engine (``tests.support.compose``).

The stack is built from a copy of the project holding (fake) ``sa-*.json`` keys, as a user's
checkout would, so the tests can prove the key never reaches an image.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.compose import (
    DockerUnavailable,
    Stack,
    inspect,
    new_stack,
    running_stack,
)
from tests.support.containers import CHECKOUT

ARTIFACTS = ROOT / "test-artifacts" / "e2e"
# Compose project names unique to this checkout (CHECKOUT) and to this pytest-xdist worker:
# two checkouts on one Docker Engine (git worktrees, CI jobs), or two workers of one run,
# must not take down each other's stacks.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def stack_for_test(
    directory: Path,
    name: str,
    settings: dict[str, str],
    profiles: tuple[str, ...] = (),
) -> Stack:
    """A stack named for this checkout; skips (fails in CI) without Docker and Compose v2."""
    try:
        project = f"{name}-{CHECKOUT}{WORKER}"
        return new_stack(project, settings, directory=directory, profiles=profiles)
    except DockerUnavailable as exc:
        unavailable(f"the end-to-end tests need Docker: {exc}")


def replica_subscriptions(stack: Stack, topic: str = "channel") -> list[str]:
    """The fan-out replicas' own subscriptions, ``<topic>-<host name>``: not the
    dead-letter one, not the dashboard's, not the replicas' claims in the registry."""
    hosts = {inspect(c, "{{.Config.Hostname}}") for c in stack.containers("subscriber")}
    return [s for s in stack.subscriptions() if s.removeprefix(f"{topic}-") in hosts]


# docker-compose.gcp.yml's keys, one per service.
GCP_KEYS = ("publisher", "subscriber", "dashboard")


def copy_project(destination: Path) -> None:
    ignore = shutil.ignore_patterns(
        ".git",
        ".venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "test-artifacts",
        "sa.json",
        "sa-*.json",
    )
    shutil.copytree(ROOT, destination, ignore=ignore)
    # A key per service in the checkout, as a user running against real Google Cloud has.
    for service in GCP_KEYS:
        shutil.copy(ROOT / "sa.json.example", destination / f"sa-{service}.json")


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stack") / "pubsub-fanout"
    copy_project(directory)
    return directory


@pytest.fixture(scope="module")
def stack(project_copy: Path) -> Iterator[Stack]:
    """The fan-out stack, as `docker compose up --scale subscriber=3` starts it."""
    new = stack_for_test(project_copy, "pubsub-fanout-e2e", {"PUBLISH_INTERVAL_SECONDS": "0.5"})
    with running_stack(
        new, "--scale", "subscriber=3", ready=("subscriber", 3), artifacts=ARTIFACTS
    ) as running:
        yield running


@pytest.fixture(scope="module")
def workqueue_stack(project_copy: Path) -> Iterator[Stack]:
    """The work-queue demo: its task publisher and 3 workers of one process each, with
    short leases and deadlines so that a test sees a task outlast its lease and another
    pass its deadline."""
    settings = {
        "TASK_INTERVAL_SECONDS": "1.5",
        "WORKER_PROCESSES": "1",
        "ACK_DEADLINE_SECONDS": "10",
        "TASK_DEADLINE_SECONDS": "25",
    }
    new = stack_for_test(project_copy, "pubsub-workqueue-e2e", settings, ("workqueue",))
    with running_stack(
        new, "task-publisher", "worker", ready=("worker", 3), artifacts=ARTIFACTS
    ) as running:
        yield running


@pytest.fixture(scope="module")
def sink_stack(project_copy: Path) -> Iterator[Stack]:
    """The durable sink demo: readings publisher, sink, PostgreSQL, with a reading every
    0.5 s and a short retry cap so that recovery shows within the test's time."""
    settings = {"READINGS_INTERVAL_SECONDS": "0.5", "DB_RETRY_MAX_SECONDS": "3"}
    new = stack_for_test(project_copy, "pubsub-sink-e2e", settings, ("sink",))
    with running_stack(
        new, "readings-publisher", "sink", ready=("readings-publisher", 1), artifacts=ARTIFACTS
    ) as running:
        yield running
