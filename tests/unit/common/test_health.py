import os
import subprocess
import sys
import time
from pathlib import Path

from common.health import MAX_AGE_SECONDS, Heartbeat, check


def test_heartbeat_lifecycle(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    path.touch()
    heartbeat = Heartbeat(path)
    assert not path.exists(), "a file left by an earlier run must not count"
    heartbeat.beat()
    now = time.time()
    assert check(path, now=now, live_only=False) == ""
    assert "within" in check(path, now=now + MAX_AGE_SECONDS + 1, live_only=True)
    heartbeat.beat(not_ready="Pub/Sub unreachable for 12s")
    assert check(path, now=now, live_only=False) == "not ready: Pub/Sub unreachable for 12s"
    assert check(path, now=now, live_only=True) == "", "alive, though not ready"
    heartbeat.clear()
    assert "no heartbeat" in check(path, now=now, live_only=True)


def run_check(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTBEAT_FILE": str(path)}
    return subprocess.run(
        [sys.executable, "-m", "common.health", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_health_command_exit_status(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    missing = run_check(path)
    assert missing.returncode == 1
    assert "unhealthy: no heartbeat" in missing.stderr
    heartbeat = Heartbeat(path)
    heartbeat.beat()
    assert run_check(path).returncode == 0
    heartbeat.beat(not_ready="database unavailable")
    not_ready = run_check(path)
    assert not_ready.returncode == 1
    assert "unhealthy: not ready: database unavailable" in not_ready.stderr
    assert run_check(path, "--live").returncode == 0
    stale = time.time() - MAX_AGE_SECONDS - 5
    os.utime(path, (stale, stale))
    assert run_check(path, "--live").returncode == 1
