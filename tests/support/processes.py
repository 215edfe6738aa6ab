"""A service run as its container runs it: ``python -m <module>``, its log in a file."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ROOT
from tests.support.logs import Record, events
from tests.support.waiting import wait_for

STOP_TIMEOUT_SECONDS = 15


class ServiceProcess:
    """One child process, ``python -m module`` by default, with stdout and stderr in
    ``log_path``."""

    def __init__(
        self, module: str, env: dict[str, str], log_path: Path, args: list[str] | None = None
    ) -> None:
        self.module = module
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            args or [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def details(self) -> str:
        return f"--- {self.module} log ({self.log_path}) ---\n{self.log()}"

    def events(self, event: str | None = None, **fields: object) -> list[Record]:
        """The JSON log records (``LOG_FORMAT=json``) of ``event``, or all with None, whose
        fields equal ``fields``."""
        return events(self.log(), event, **fields)

    def wait_for_event(self, event: str, timeout: float = 30, **fields: object) -> Record:
        """The first record of ``event`` with ``fields``; ``AssertionError`` after
        ``timeout`` seconds, or at once if the process has exited without it."""
        return self.wait_for_events(event, 1, timeout, **fields)[0]

    def wait_for_events(
        self, event: str, count: int, timeout: float = 30, **fields: object
    ) -> list[Record]:
        """The records of ``event`` with ``fields`` once there are ``count`` or more; as
        ``wait_for_event`` otherwise."""

        def probe() -> list[Record] | None:
            exited = self.process.poll() is not None  # before reading: its last words count
            found = self.events(event, **fields)
            if len(found) < count and exited:
                raise AssertionError(
                    f"{self.module} exited {self.process.returncode} with {len(found)} of "
                    f"{count} event {event!r} {fields}\n{self.details()}"
                )
            return found if len(found) >= count else None

        return wait_for(
            probe,
            timeout=timeout,
            what=f"{count} event {event!r} {fields} in the {self.module} log",
            details=self.details,
        )

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far (Linux /proc)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name: field 3 on
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        """Resident memory now, in MiB (Linux /proc); NaN once the process is gone."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except FileNotFoundError:
            return math.nan
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kib / 1024

    def terminate(self, timeout: float = STOP_TIMEOUT_SECONDS) -> tuple[int, float]:
        """SIGTERM, as `docker stop` sends; the exit status and the seconds it took.
        ``AssertionError`` if it is still running after ``timeout`` (it is then killed)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"{self.module} ignored SIGTERM\n{self.details()}") from None
        return status, time.monotonic() - started

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, then SIGKILL if it still runs after ``timeout``; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """Kill the process if it still runs; idempotent."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._log.close()
