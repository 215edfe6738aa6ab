"""The real compose stack in a real Docker Engine (``tests.support.compose``).

The stack is built from a copy of the project holding a (fake) ``sa.json``, as a user's
checkout would, so the tests can prove the key never reaches an image.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.compose import (
    COMPOSE,
    DockerUnavailable,
    Stack,
    inspect,
    new_stack,
    running_stack,
)

ARTIFACTS = ROOT / "test-artifacts" / "e2e"
# Compose project names unique to this checkout: two checkouts on one Docker Engine (git
# worktrees, CI jobs) must not take down each other's stacks.
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]


def stack_for_test(
    directory: Path,
    name: str,
    settings: dict[str, str],
    profiles: tuple[str, ...] = (),
    variant: str | None = None,
) -> Stack:
    """A stack named for this checkout, run by Compose ``variant`` (None: v2 where
    installed); skips (fails in CI) without Docker or that Compose."""
    try:
        return new_stack(
            f"{name}-{CHECKOUT}", settings, directory=directory, profiles=profiles, variant=variant
        )
    except DockerUnavailable as exc:
        unavailable(f"the end-to-end tests need Docker: {exc}")


def replica_subscriptions(stack: Stack, topic: str = "channel") -> list[str]:
    """The fan-out replicas' own subscriptions, ``<topic>-<host name>``: not the
    dead-letter one, not the dashboard's, not the replicas' claims in the registry."""
    hosts = {inspect(c, "{{.Config.Hostname}}") for c in stack.containers("subscriber")}
    return [s for s in stack.subscriptions() if s.removeprefix(f"{topic}-") in hosts]


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
    )
    shutil.copytree(ROOT, destination, ignore=ignore)
    # A key in the checkout, as a user running against real Google Cloud has one.
    shutil.copy(ROOT / "sa.json.example", destination / "sa.json")


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stack") / "pubsub-fanout"
    copy_project(directory)
    return directory


@pytest.fixture(scope="module", params=sorted(COMPOSE, reverse=True))
def stack(project_copy: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The fan-out stack, as `docker compose up --scale subscriber=3` starts it, under
    Compose v2 (what users run) and v1 in turn: the compose files must suit both."""
    variant = str(request.param)
    new = stack_for_test(
        project_copy,
        f"pubsub-fanout-e2e-{variant}",
        {"PUBLISH_INTERVAL_SECONDS": "0.5"},
        variant=variant,
    )
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
