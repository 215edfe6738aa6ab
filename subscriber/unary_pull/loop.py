"""A unary-pull consumer's main thread: steps until SIGTERM or a final pull error."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from common.health import Heartbeat
from subscriber.unary_pull.puller import Puller

log = logging.getLogger(__name__)


def run_until_stopped(
    puller: Puller,
    path: str,
    stop: threading.Event,
    *,
    step: Callable[[], None],
    drain: Callable[[], None],
) -> int:
    """Start ``puller``; call ``step`` (which waits at most a heartbeat interval) until
    ``stop`` is set or pulling fails for good, beating the heartbeat after each; on
    ``stop``, call ``drain``. Returns the exit status: 0, or 1 if pulling failed."""
    heartbeat = Heartbeat()
    puller.start()
    try:
        while not stop.is_set() and puller.error is None:
            step()
            heartbeat.beat()
        if puller.error is not None:
            log.error("pulling from %s failed: %s", path, puller.error)
            return 1
        drain()
        return 0
    finally:
        heartbeat.clear()
