"""Turn SIGTERM and SIGINT into an event the main loop waits on.

In a container the service runs as PID 1, where the kernel ignores SIGTERM unless a
handler is installed; without this, `docker stop` would wait out the grace period and
then SIGKILL the process, skipping every clean-up step.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from common.logs import fields

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT. Call from the main thread."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            name = signal.Signals(signum).name
            log.info(
                "%s received: shutting down", name, extra=fields(event="shutting down", signal=name)
            )
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


# How long threads that are merely finishing get before they count as stuck.
SETTLE_THREADS_SECONDS = 0.2


def exit_now_if_stuck(status: int) -> int:
    """Return ``status``, or, if a non-daemon thread still runs, leave at once with it.

    Python joins every non-daemon thread before a process exits, the pools' threads
    included, so a handler still running after the drain budget (a slow call, a stuck
    one) would hold the exit until it returns, or until the platform's SIGKILL. By the
    time this is called, the service has done its clean-up (acks sent, subscription
    deleted): what such a thread does now is abandoned, as its message already is.
    """
    main = threading.main_thread()
    running = [t for t in threading.enumerate() if t is not main and not t.daemon]
    for thread in running:  # idle pool threads exit within moments of their shutdown
        thread.join(SETTLE_THREADS_SECONDS / max(len(running), 1))
    stuck = [thread.name for thread in running if thread.is_alive()]
    if not stuck:
        return status
    log.warning(
        "exiting without waiting for %d thread(s) still running: %s",
        len(stuck),
        ", ".join(stuck[:5]),
    )
    logging.shutdown()  # flushes every handler: os._exit flushes nothing
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
