"""Start Google's Pub/Sub emulator on a loopback port, for the tests and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from common.config import EMULATOR_DEFAULT_PROJECT

STOP_TIMEOUT_SECONDS = 15


class EmulatorUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def emulator_is_up(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Emulator:
    """One emulator process (`gcloud beta emulators pubsub start`) on 127.0.0.1:port."""

    def __init__(self, port: int, log_path: Path) -> None:
        gcloud = shutil.which("gcloud")
        if gcloud is None:
            raise EmulatorUnavailable("the Pub/Sub emulator needs the Google Cloud CLI (gcloud)")
        self.host = f"127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        # A session of its own: gcloud starts the emulator's JVM as a child, and
        # stopping the whole process group takes both down.
        self._process = subprocess.Popen(
            [
                gcloud,
                "beta",
                "emulators",
                "pubsub",
                "start",
                f"--host-port={self.host}",
                f"--project={EMULATOR_DEFAULT_PROJECT}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not emulator_is_up(self.host):
            if self._process.poll() is not None:
                raise EmulatorUnavailable(f"the emulator exited:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise EmulatorUnavailable(f"the emulator on {self.host} is not up after {timeout}s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._log.close()


@contextlib.contextmanager
def emulator_host() -> Iterator[str]:
    """PUBSUB_EMULATOR_HOST when set; else an emulator started for the duration."""
    given = os.environ.get("PUBSUB_EMULATOR_HOST")
    if given:
        if not emulator_is_up(given):
            raise EmulatorUnavailable(f"PUBSUB_EMULATOR_HOST={given}: no emulator answers there")
        yield given
        return
    with tempfile.TemporaryDirectory() as tmp:
        emulator = Emulator(free_port(), Path(tmp) / "emulator.log")
        try:
            emulator.wait_until_up()
            yield emulator.host
        finally:
            emulator.stop()
