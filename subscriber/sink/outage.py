"""The database's availability as the sink sees it: when to retry, and what to log.

One line when the database goes, a reminder a minute while it stays down, one line when
it is back: an outage of any length costs a handful of log lines, not one per retry.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from common.retry import backoff_delays

log = logging.getLogger(__name__)

# While the database stays down, one reminder line this often rather than one per retry.
REMINDER_SECONDS = 60.0


class Outage:
    """Tracks failed and successful attempts; ``next_attempt`` says when to try again."""

    def __init__(self, retry_max_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._retry_max_seconds = retry_max_seconds
        self._clock = clock
        self._delays = backoff_delays(maximum=retry_max_seconds)
        # Since when the database has been unavailable (monotonic); None while it is up.
        self.down_since: float | None = None
        self._next_reminder = math.inf
        # When the next attempt is due (monotonic); 0: now.
        self.next_attempt = 0.0

    def failed(self, error: str, held: int) -> None:
        """An attempt failed with ``error`` (one line) while holding ``held`` messages."""
        now = self._clock()
        delay = next(self._delays)
        self.next_attempt = now + delay
        if self.down_since is None:
            self.down_since = now
            self._next_reminder = now + REMINDER_SECONDS
            log.warning(
                "database unavailable (%s); holding %d messages, retrying in %.1fs",
                error,
                held,
                delay,
            )
        elif now >= self._next_reminder:
            self._next_reminder = now + REMINDER_SECONDS
            log.warning(
                "database still unavailable after %.0fs (%s); holding %d messages",
                now - self.down_since,
                error,
                held,
            )
        else:
            log.debug("database still unavailable (%s); retrying in %.1fs", error, delay)

    def succeeded(self, stored: int) -> None:
        """An attempt succeeded, storing ``stored`` messages."""
        if self.down_since is not None:
            log.info(
                "database back after %.1fs; stored %d messages",
                self._clock() - self.down_since,
                stored,
            )
            self.down_since = None
            self._next_reminder = math.inf
        self._delays = backoff_delays(maximum=self._retry_max_seconds)
        self.next_attempt = 0.0
