"""Every documented setting on every service, as processes against the emulator (the
development environment: every extra installed); tests/e2e/test_settings_images.py runs
the same against the built images, where what is installed differs. Each run: exit 2
with a line naming the setting, or run and exit 0 on SIGTERM; never a traceback."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.emulator import free_port
from tests.support.environment import clean_env
from tests.support.processes import ServiceProcess
from tests.support.settings import Run, judge, make_files, runs, values
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
START_TIMEOUT_SECONDS = 60


def alive(run: Run, env: dict[str, str]) -> bool:
    """Its main loop turns: the heartbeat file is written, or the dashboard's /livez."""
    if run.image != "dashboard":
        return Path(env["HEARTBEAT_FILE"]).exists()
    url = f"http://127.0.0.1:{env['DASHBOARD_LISTEN_PORT']}/livez"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("run", runs(), ids=lambda run: run.name)
def test_every_documented_setting_on_every_service(
    run: Run, emulator_host: str, tmp_path: Path
) -> None:
    make_files(tmp_path / "files")
    env = clean_env(
        **{
            **values(str(tmp_path / "files"), str(tmp_path / "heartbeat")),
            **run.settings,
            "PUBSUB_EMULATOR_HOST": emulator_host,
            "PUBSUB_TOPIC": f"settings-{uuid.uuid4().hex[:8]}",
            # Each run a shared subscription of its own: the same name on another run's
            # topic is a provisioning conflict (exit 2, rightly).
            "SUBSCRIPTION_ID": f"settings-shared-{uuid.uuid4().hex[:8]}",
            "DASHBOARD_LISTEN_PORT": str(free_port()),
        }
    )
    service = ServiceProcess(run.module, env, tmp_path / f"{run.name}.log")
    try:
        wait_for(
            lambda: alive(run, env) or service.process.poll() is not None,
            timeout=START_TIMEOUT_SECONDS,
            interval=0.2,
            what=f"{run.name} running or stopped",
            details=service.details,
        )
        ran = service.process.poll() is None
        status = service.stop() if ran else service.process.returncode
        print(f"{run.name}: {'ran' if ran else 'stopped at start'}, exit {status}")
        judge(run, status, service.log(), ran)
    finally:
        service.close()
