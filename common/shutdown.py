"""Turn SIGTERM and SIGINT into an event the main loop waits on.

In a container the service runs as PID 1, where the kernel ignores SIGTERM unless a
handler is installed; without this, `docker stop` would wait out the grace period and
then SIGKILL the process, skipping every clean-up step.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT. Call from the main thread."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
