"""The real compose stack in a real Docker Engine.

The stack is built from a copy of the project holding a (fake) ``sa.json``, as a user's
checkout would, so the tests can prove the key never reaches an image.
"""

from __future__ import annotations

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
from tests.conftest import ROOT, free_port, unavailable, wait_for

PROJECT_NAME = "pubsub-fanout-e2e"
BUILD_OVERRIDE = "tests/e2e/compose.build-on-host-network.yml"
COMMAND_TIMEOUT_SECONDS = 600
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


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


def compose_command() -> list[str]:
    """Compose v2 (`docker compose`) where installed, else v1 (`docker-compose`)."""
    if shutil.which("docker") is None:
        unavailable("the end-to-end tests need Docker: no docker command")
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        unavailable("the end-to-end tests need a running Docker Engine: `docker info` failed")
    v2 = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=60, check=False
    )
    if v2.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    unavailable("the end-to-end tests need Docker Compose (v2 plugin or v1 docker-compose)")


@dataclass
class Stack:
    compose: list[str]
    directory: Path
    env: dict[str, str]
    emulator_port: int

    def __call__(
        self, *args: str, files: tuple[str, ...] = ("docker-compose.yml",), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        file_args = [arg for name in (*files, BUILD_OVERRIDE) for arg in ("-f", name)]
        return run(
            *self.compose,
            "-p",
            PROJECT_NAME,
            *file_args,
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
        (ARTIFACTS / "compose.log").write_text(output.stdout + output.stderr)


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
    )
    shutil.copytree(ROOT, destination, ignore=ignore)
    # A key in the checkout, as a user running against real Google Cloud has one.
    shutil.copy(ROOT / "sa.json.example", destination / "sa.json")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    compose = compose_command()
    directory = tmp_path_factory.mktemp("stack") / "pubsub-fanout"
    copy_project(directory)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PUBSUB_", "GCP_", "GOOGLE_", "PUBLISH_", "COMPOSE_"))
    }
    port = free_port()
    env.update(PUBSUB_EMULATOR_PORT=str(port), PUBLISH_INTERVAL_SECONDS="0.5")
    stack = Stack(compose, directory, env, port)
    stack("down", "--volumes", "--remove-orphans")  # what a crashed earlier run left
    stack("build")
    started = time.monotonic()
    try:
        stack("up", "--detach", "--scale", "subscriber=3")
        wait_for(
            lambda: (
                len(stack.containers("subscriber")) == 3
                and all(
                    inspect(c, "{{.State.Health.Status}}") == "healthy"
                    for c in stack.containers("subscriber")
                )
            ),
            timeout=120,
            interval=0.5,
            what="3 healthy subscribers",
            details=lambda: stack("ps").stdout,
        )
        print(f"stack healthy {time.monotonic() - started:.1f}s after `up`")
        yield stack
    finally:
        stack.save_logs()
        stack("down", "--volumes", "--remove-orphans")
