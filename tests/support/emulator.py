"""Start Google's Pub/Sub emulator on a loopback port, for the tests and the benchmarks:
the Google Cloud CLI's (with its pubsub-emulator component) where this machine has it,
else the emulator image docker-compose.yml runs, as a container (``tests.support.containers``).
"""

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

from testcontainers.core.container import DockerContainer

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.support.containers import ContainersUnavailable, compose_image, loopback_container

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


def local_gcloud() -> str | None:
    """This machine's gcloud, if its SDK holds the Pub/Sub emulator component."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    sdk = Path(gcloud).resolve().parents[1]
    return gcloud if (sdk / "platform" / "pubsub-emulator").is_dir() else None


class Emulator:
    """One emulator on 127.0.0.1:port: a local process, else a container."""

    def __init__(self, port: int, log_path: Path, *, local: bool = True) -> None:
        """Started, not yet up (``wait_until_up``); ``local=False``: the image even where
        this machine has the Google Cloud CLI."""
        self.host = f"127.0.0.1:{port}"
        self.log_path = log_path
        self._container: DockerContainer | None = None
        gcloud = local_gcloud() if local else None
        if gcloud is None:
            self._start_container(port)
            return
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

    def _start_container(self, port: int) -> None:
        try:
            container = loopback_container(compose_image("emulator"), "emulator", {8085: port})
        except ContainersUnavailable as exc:
            raise EmulatorUnavailable(
                "the Pub/Sub emulator needs Docker (for its image) or the Google Cloud CLI with "
                f"its pubsub-emulator component: {exc}"
            ) from None
        command = ["gcloud", "beta", "emulators", "pubsub", "start", "--host-port=0.0.0.0:8085",
                   f"--project={EMULATOR_DEFAULT_PROJECT}"]  # fmt: skip
        self._container = container.with_command(command).start()

    def _exited(self) -> bool:
        if self._container is not None:
            self._container.reload()
            return self._container.status not in ("created", "running")
        return self._process.poll() is not None

    def wait_until_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not emulator_is_up(self.host):
            if self._exited():
                self._save_container_log()
                raise EmulatorUnavailable(f"the emulator exited:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise EmulatorUnavailable(f"the emulator on {self.host} is not up after {timeout}s")
            time.sleep(0.2)

    def _save_container_log(self) -> None:
        if self._container is not None:
            stdout, stderr = self._container.get_logs()
            self.log_path.write_bytes(stdout + stderr)

    def stop(self) -> None:
        if self._container is not None:
            self._save_container_log()
            self._container.stop()  # removed at once: the emulator keeps nothing worth a wait
            return
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
