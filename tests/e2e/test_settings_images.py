"""Every documented setting on every image that reads the shared environment, in Docker:
what an image carries decides what it can honour (``TRACING=otlp`` once crashed the
dashboard, whose image has no exporter). Each run is a ``docker run`` of the built image
as compose runs it (read-only, no capabilities, its own user), with every setting of
tests/support/settings.py: it must stop with exit status 2 and a line naming the setting,
or run (its health check's liveness passes) and stop with 0 on SIGTERM; never a traceback.

No Pub/Sub answers (the emulator's address is a closed port), so no service gets past
waiting for it: what is checked is start-up, where settings are read and acted on, and
the loops that wait, which every service reaches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.compose import DockerUnavailable, compose_command, run
from tests.support.containers import CHECKOUT
from tests.support.settings import Run, judge, make_files, runs, values
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
DOCKERFILES = {
    "publisher": "Dockerfile-Pub",
    "subscriber": "Dockerfile-Sub",
    "dashboard": "Dockerfile-Dashboard",
}
HEALTH = {
    "publisher": "common.health",
    "subscriber": "common.health",
    "dashboard": "dashboard.health",
}
START_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    try:
        compose_command()
    except DockerUnavailable as exc:
        unavailable(str(exc))
    built = {}
    for image, dockerfile in DOCKERFILES.items():
        tag = f"pubsub-fanout-settings-{image}:{CHECKOUT}"
        # The host's network for pip, as the compose override does here.
        run("docker", "build", "--network", "host", "--file", str(ROOT / dockerfile),
            "--tag", tag, str(ROOT))  # fmt: skip
        built[image] = tag
    yield built
    for tag in built.values():
        run("docker", "image", "rm", tag, check=False)


@pytest.mark.parametrize("case", runs(), ids=lambda case: case.name)
def test_every_documented_setting_on_every_image(
    case: Run, images: dict[str, str], tmp_path: Path
) -> None:
    make_files(tmp_path / "files")
    env = {
        **values("/settings", "/tmp/heartbeat"),
        **case.settings,
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
    }
    name = f"settings-{case.name}-{uuid.uuid4().hex[:6]}"
    run(
        "docker", "run", "--detach", "--name", name,
        "--read-only", "--tmpfs", "/tmp:size=16m", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges:true",
        "--volume", f"{tmp_path / 'files'}:/settings:ro",
        *(arg for key, value in env.items() for arg in ("--env", f"{key}={value}")),
        images[case.image],
    )  # fmt: skip
    try:

        def running() -> bool:
            return (
                run("docker", "inspect", "--format", "{{.State.Running}}", name).stdout.strip()
                == "true"
            )

        def alive() -> bool:
            probe = ("docker", "exec", name, "python", "-m", HEALTH[case.image], "--live")
            return run(*probe, check=False).returncode == 0

        wait_for(
            lambda: not running() or alive(),
            timeout=START_TIMEOUT_SECONDS,
            interval=0.5,
            what=f"{case.name} running or stopped",
            details=lambda: run("docker", "logs", name, check=False).stdout[-3000:],
        )
        ran = running()
        if ran:
            run("docker", "stop", "--time", "20", name)
        status = int(run("docker", "inspect", "--format", "{{.State.ExitCode}}", name).stdout)
        logs = run("docker", "logs", name, check=False)
        print(f"{case.name}: {'ran' if ran else 'stopped at start'}, exit {status}")
        judge(case, status, logs.stdout + logs.stderr, ran)
    finally:
        run("docker", "rm", "--force", name, check=False)
