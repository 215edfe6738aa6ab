"""A heartbeat file that the container runtime's health checks read: alive, and ready.

The service's main loop rewrites the file every few seconds while it runs (alive), saying
in it whether the service is doing its job (ready) or, if not, why. Two checks read it:

- ``python -m common.health``: healthy while the file is fresh and says ``ready``. The
  images' ``HEALTHCHECK``, and a Kubernetes readiness probe. Red while Pub/Sub or the
  database is unreachable: the service is then not doing its job, whatever the reason.
- ``python -m common.health --live``: healthy while the file is fresh and does not say
  ``stuck``. A Kubernetes liveness probe: a restart cannot bring Pub/Sub back, so only a
  loop that has stopped turning, or a process whose every worker thread is held by code
  that never returns (threads Python cannot kill), should get one.

A file, not an HTTP port, because the services serve nothing else: no port to expose,
nothing to secure, and a hung main loop stops the heartbeat just as surely.

Exit status 0 when healthy, 1 otherwise, with the reason on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

HEARTBEAT_FILE = Path(os.environ.get("HEARTBEAT_FILE", "/tmp/heartbeat"))
HEARTBEAT_INTERVAL_SECONDS = 2.0
# Several missed beats, so one slow iteration is not reported as a failure.
MAX_AGE_SECONDS = 5 * HEARTBEAT_INTERVAL_SECONDS
READY = "ready"
STUCK = "stuck"
MIN_WRITE_SECONDS = 1.0
# What a loop that waits calls to say "alive, but not ready, because ...".
Beat = Callable[[str], None]


class Heartbeat:
    """The service's side: ``beat()`` from its main loop, ``clear()`` on the way out."""

    def __init__(self, path: Path = HEARTBEAT_FILE) -> None:
        self.path = path
        self._written = ("", -1.0)  # what the file says, and when it was written
        self.clear()  # a file left by an earlier run of this container says nothing now

    def beat(self, not_ready: str = "", stuck: str = "") -> None:
        """Alive; and ready unless ``not_ready`` says why not (one line); or, when
        ``stuck`` says why, in need of a restart. Cheap to call from a busy loop: the file
        is written at most once a second unless it changes."""
        state = f"{STUCK}: {stuck}" if stuck else f"not ready: {not_ready}" if not_ready else READY
        now = time.monotonic()
        if state == self._written[0] and now - self._written[1] < MIN_WRITE_SECONDS:
            return
        # Written aside and renamed: a check never reads a half-written file.
        scratch = self.path.with_name(f".{self.path.name}.new")
        scratch.write_text(f"{state}\n")
        scratch.replace(self.path)
        self._written = (state, now)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self._written = ("", -1.0)


def check(path: Path, *, now: float, live_only: bool, max_age: float = MAX_AGE_SECONDS) -> str:
    """Why the service is unhealthy, or "" if it is healthy."""
    try:
        age = now - path.stat().st_mtime
        state = path.read_text().strip()
    except FileNotFoundError:
        return f"no heartbeat in {path}"
    if age > max_age:
        return f"no heartbeat in {path} within {max_age:g}s"
    if state.startswith(STUCK) or (not live_only and state != READY):
        return state or "not ready"
    return ""


def main(argv: list[str]) -> int:
    problem = check(HEARTBEAT_FILE, now=time.time(), live_only="--live" in argv)
    if problem:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
