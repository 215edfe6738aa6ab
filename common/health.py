"""A heartbeat file that the container runtime's health check reads.

The service touches the file while it is doing its job (the subscriber while its stream
is open, the publisher while its publishes succeed); the check passes while the file is
fresh. A file, not an HTTP port, because the services serve nothing else: no port to
expose, nothing to secure, and a hung main loop stops the heartbeat just as surely.

Run as ``python -m common.health``: exit status 0 when healthy, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HEARTBEAT_FILE = Path(os.environ.get("HEARTBEAT_FILE", "/tmp/heartbeat"))
HEARTBEAT_INTERVAL_SECONDS = 2.0
# Several missed beats, so one slow iteration is not reported as a failure.
MAX_AGE_SECONDS = 5 * HEARTBEAT_INTERVAL_SECONDS


class Heartbeat:
    def __init__(self, path: Path = HEARTBEAT_FILE) -> None:
        self.path = path
        self.clear()  # a file left by an earlier run of this container says nothing now

    def beat(self) -> None:
        self.path.touch()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def is_fresh(path: Path, *, now: float, max_age: float = MAX_AGE_SECONDS) -> bool:
    try:
        return now - path.stat().st_mtime <= max_age
    except FileNotFoundError:
        return False


def main() -> int:
    if is_fresh(HEARTBEAT_FILE, now=time.time()):
        return 0
    sys.stderr.write(f"unhealthy: no heartbeat in {HEARTBEAT_FILE} within {MAX_AGE_SECONDS:g}s\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
