"""Pub/Sub unreachable: every command says so plainly (exit 1), in seconds, not after a
client's minute of retries ending in a traceback. Real processes, a closed local port."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support import ROOT
from tests.support.environment import clean_env

# Each call the command makes gives up after ADMIN_CALL_TIMEOUT_SECONDS (5 s); a refused
# connection at once. The client's default retry on a listing took 60 s.
DEADLINE_SECONDS = 30


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "args",
    [
        ["replicas", "--listen", "0"],
        ["leftovers", "--listen", "0"],
        ["replay", "--since", "1m", "--all"],
        ["snapshot", "create", "before-deploy"],
        ["dead-letters", "list"],
    ],
    ids=" ".join,
)
def test_each_command_says_pubsub_is_not_reachable(closed_port: int, args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ctl", *args],
        cwd=ROOT,
        env=clean_env(PUBSUB_EMULATOR_HOST=f"127.0.0.1:{closed_port}"),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f"Pub/Sub is not reachable (emulator at 127.0.0.1:{closed_port})" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
