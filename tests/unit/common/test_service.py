"""How every service ends: with its status, whatever threads it does not own still run."""

import json
import subprocess
import sys
import time
from typing import Any

from tests.support import ROOT
from tests.support.environment import clean_env

SERVICE = """
import sys, threading
from common.config import PubSubConfig
from common.service import main

class Config:
    pubsub = PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "LOG_FORMAT": "json"})

def run(config, stop, host):
    # User code's thread: not a daemon, never ending.
    threading.Thread(target=threading.Event().wait, name="user-poller").start()
    if sys.argv[1] == "crash":
        raise RuntimeError("a bug nothing handled")
    return 0

sys.exit(main("svc", lambda env: Config(), run))
"""


def run_service(outcome: str) -> tuple[int, float, list[dict[str, Any]]]:
    """The service's exit status, seconds and JSON log records."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", SERVICE, outcome],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    seconds = time.monotonic() - started
    assert result.stderr == ""
    return result.returncode, seconds, [json.loads(line) for line in result.stdout.splitlines()]


def test_a_thread_left_running_does_not_hold_the_exit() -> None:
    status, seconds, records = run_service("return")
    assert status == 0, records
    assert seconds < 10, records
    assert records[-1]["logger"] == "common.shutdown"
    assert records[-1]["message"].endswith("still running: user-poller")


def test_a_crash_is_logged_and_exits_1_without_waiting_either() -> None:
    status, seconds, records = run_service("crash")
    assert status == 1, records
    assert seconds < 10, records
    (crash,) = [record for record in records if record["severity"] == "CRITICAL"]
    assert crash["message"].startswith("svc crashed")
    assert "Traceback (most recent call last):" in crash["message"]
    assert crash["message"].endswith("RuntimeError: a bug nothing handled")
