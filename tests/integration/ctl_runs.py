"""Running the operator command as an operator does: ``python -m ctl ...``, against the
tests' emulator, its settings from a clean environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import ROOT
from tests.support.environment import clean_env
from tests.support.processes import ServiceProcess

TIMEOUT_SECONDS = 120


def ctl_env(emulator_host: str, topic: str, **settings: str) -> dict[str, str]:
    """The settings the services of ``tests.integration.conftest.Services`` run with."""
    defaults = {
        "LOG_FORMAT": "json",
        "RETRY_MIN_BACKOFF_SECONDS": "1",
        "RETRY_MAX_BACKOFF_SECONDS": "2",
    }
    return clean_env(
        PUBSUB_EMULATOR_HOST=emulator_host, PUBSUB_TOPIC=topic, **{**defaults, **settings}
    )


def ctl(
    emulator_host: str, topic: str, *args: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run it to the end; stdout (its answer) and stderr (its log) apart."""
    return subprocess.run(
        [sys.executable, "-m", "ctl", *args],
        cwd=ROOT,
        env=ctl_env(emulator_host, topic, **settings),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def ctl_json(emulator_host: str, topic: str, *args: str, status: int = 0, **settings: str) -> Any:
    """Its ``--json`` answer, once it exited with ``status``."""
    done = ctl(emulator_host, topic, "--json", *args, **settings)
    assert done.returncode == status, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def ctl_process(emulator_host: str, topic: str, log_path: Path, *args: str) -> ServiceProcess:
    """Started in the background, to wait on its events (its log in ``log_path``)."""
    return ServiceProcess(
        "ctl",
        ctl_env(emulator_host, topic),
        log_path,
        args=[sys.executable, "-m", "ctl", *args],
    )
