"""The compose stack in a real Docker Engine, for the end-to-end tests and the benchmarks."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.support import ROOT
from tests.support.containers import CHECKOUT
from tests.support.emulator import free_port
from tests.support.environment import clean_env
from tests.support.logs import Record, select
from tests.support.logs import records as log_records
from tests.support.waiting import wait_for

# An override of docker-compose.yml for the tests, never for users: image builds reach
# PyPI through the host's network, for machines whose containers have no route out (as
# CI's here); harmless where they have one.
OVERRIDES = ("tests/support/compose.build-on-host-network.yml",)
# The project's images as the stacks here build them: pubsub-fanout-*:e2e-<checkout>.
IMAGE_TAG = f"e2e-{CHECKOUT}"
# The emulator's port on the host, as a user opts in to it for tools: the tests publish
# and list subscriptions through it.
EMULATOR_PORT = "docker-compose.emulator-port.yml"
COMMAND_TIMEOUT_SECONDS = 600
READY_TIMEOUT_SECONDS = 120


class DockerUnavailable(RuntimeError):
    """No Docker Engine, or no Compose, on this machine."""


def run(
    *args: str,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; ``AssertionError`` with its output if ``check`` and it fails."""
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


# Compose v2, what users run (v1 reached its end of life in 2023).
COMPOSE = ["docker", "compose"]


def compose_command() -> list[str]:
    """``docker compose``; ``DockerUnavailable`` without an engine or Compose v2."""
    if shutil.which("docker") is None:
        raise DockerUnavailable("no docker command")
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        raise DockerUnavailable("no running Docker Engine: `docker info` failed")
    version = subprocess.run(
        [*COMPOSE, "version", "--short"], capture_output=True, text=True, timeout=60, check=False
    )
    if version.returncode != 0 or not version.stdout.strip().lstrip("v").startswith("2."):
        raise DockerUnavailable("no Docker Compose v2 (`docker compose`)")
    return COMPOSE


def docker(*args: str) -> str:
    return run("docker", *args).stdout


def inspect(container: str, template: str) -> str:
    return docker("inspect", "--format", template, container).strip()


def logs(container: str, *, timestamps: bool = False) -> str:
    stamps = ["--timestamps"] if timestamps else []
    result = run("docker", "logs", *stamps, container, check=False)
    return result.stdout + result.stderr


def events(container: str, event: str | None = None, **fields: object) -> list[Record]:
    """The container's JSON log records of ``event`` (any, with None) with ``fields``."""
    return select(log_records(logs(container)), event, **fields)


def wait_for_event(container: str, event: str, timeout: float = 60, **fields: object) -> Record:
    """The container's first record of ``event`` with ``fields``; ``AssertionError`` after
    ``timeout`` seconds."""
    found: list[Record] = wait_for(
        lambda: events(container, event, **fields) or None,
        timeout=timeout,
        interval=0.5,
        what=f"event {event!r} {fields} from {container[:12]}",
        details=lambda: logs(container)[-3000:],
    )
    return found[0]


def stop_grace_seconds(service: str, compose_file: Path = ROOT / "docker-compose.yml") -> float:
    """The service's ``stop_grace_period`` in the compose file, in seconds: what a stop may
    take before Docker kills it, hence what the tests hold a shutdown to."""
    period = str(yaml.safe_load(compose_file.read_text())["services"][service]["stop_grace_period"])
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    number = period.rstrip("ms")
    return float(number) * units[period[len(number) :]]


@dataclass
class Stack:
    """One compose project: ``stack("ps")`` runs ``compose -p <project> -f ... ps``."""

    compose: list[str]
    directory: Path
    env: dict[str, str]
    emulator_port: int
    project: str
    profiles: tuple[str, ...] = ()
    files: tuple[str, ...] = field(default=("docker-compose.yml", EMULATOR_PORT, *OVERRIDES))

    def __call__(
        self, *args: str, files: tuple[str, ...] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        file_args = [arg for name in files or self.files for arg in ("-f", name)]
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

    def all_healthy(self, service: str, replicas: int) -> bool:
        containers = self.containers(service)
        return len(containers) == replicas and all(
            inspect(c, "{{.State.Health.Status}}") == "healthy" for c in containers
        )

    def save_logs(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        output = self("logs", "--no-color", "--timestamps", check=False)
        (folder / f"{self.project}.log").write_text(output.stdout + output.stderr)


def new_stack(
    project: str,
    settings: dict[str, str],
    *,
    directory: Path = ROOT,
    profiles: tuple[str, ...] = (),
) -> Stack:
    """A stack on free host ports (other stacks may run on this machine), its images
    tagged for this checkout (``IMAGE_TAG``: the engine is shared), in a clean environment
    plus ``settings``, logging JSON unless ``settings`` say otherwise; raises
    ``DockerUnavailable``."""
    port = free_port()
    defaults = {
        "PUBSUB_EMULATOR_PORT": str(port),
        "DASHBOARD_PORT": str(free_port()),
        "VERSION": IMAGE_TAG,
        "REVISION": IMAGE_TAG,
        # The services log JSON: the tests read their events' fields, never their wording.
        "LOG_FORMAT": "json",
    }
    env = clean_env(**{**defaults, **settings})
    return Stack(compose_command(), directory, env, port, project, profiles)


@contextlib.contextmanager
def running_stack(
    stack: Stack, *up_args: str, ready: tuple[str, int], artifacts: Path
) -> Iterator[Stack]:
    """``stack`` built and started with ``up_args``, until ``ready`` (service, replicas)
    are all healthy; its logs saved in ``artifacts`` and everything removed afterwards."""
    stack("down", "--volumes", "--remove-orphans")  # what a crashed earlier run left
    stack("build")
    started = time.monotonic()
    try:
        # Compose waits itself for every started service to be healthy, as a user would.
        stack("up", "--detach", "--wait", "--wait-timeout", str(READY_TIMEOUT_SECONDS), *up_args)
        wait_for(
            lambda: stack.all_healthy(*ready),
            timeout=READY_TIMEOUT_SECONDS,
            interval=0.5,
            what=f"{ready[1]} healthy {ready[0]} containers",
            details=lambda: stack("ps").stdout,
        )
        print(f"{stack.project}: healthy {time.monotonic() - started:.1f}s after `up`")
        yield stack
    finally:
        stack.save_logs(artifacts)
        stack("down", "--volumes", "--remove-orphans")
