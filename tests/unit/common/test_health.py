import os
import subprocess
import sys
import time
from pathlib import Path

from common.health import MAX_AGE_SECONDS, Heartbeat, is_fresh


def test_heartbeat_lifecycle(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    path.touch()
    heartbeat = Heartbeat(path)
    assert not path.exists(), "a file left by an earlier run must not count"
    heartbeat.beat()
    now = time.time()
    assert is_fresh(path, now=now)
    assert not is_fresh(path, now=now + MAX_AGE_SECONDS + 1)
    heartbeat.clear()
    assert not is_fresh(path, now=now)


def check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTBEAT_FILE": str(path)}
    return subprocess.run(
        [sys.executable, "-m", "common.health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_health_command_exit_status(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    missing = check(path)
    assert missing.returncode == 1
    assert "unhealthy: no heartbeat" in missing.stderr
    path.touch()
    assert check(path).returncode == 0
    stale = time.time() - MAX_AGE_SECONDS - 5
    os.utime(path, (stale, stale))
    assert check(path).returncode == 1
