"""An outage of a peer (Pub/Sub, the database), as a long-lived loop sees it.

One line when the peer goes, a reminder a minute while it stays away, one line when it
is back: an outage of any length costs a handful of log lines, never one per retry. The
loop asks ``next_attempt`` when to try again (capped exponential backoff) and ``down``
whether to report itself not ready.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from common.retry import backoff_delays

# While the peer stays away, one reminder line this often rather than one per retry.
REMINDER_SECONDS = 60.0


class Outage:
    """Failed and successful attempts at reaching ``peer`` (a name for the log lines).

    ``failed`` and ``succeeded`` log on ``logger``; the ``detail`` given to them ends the
    line (e.g. ``"holding 3 messages"``). Not thread-safe: one loop owns it.
    """

    def __init__(
        self,
        peer: str,
        logger: logging.Logger,
        *,
        retry_max_seconds: float = 10.0,
        retries: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._peer = peer
        self._log = logger
        self._retries = retries
        self._retry_max_seconds = retry_max_seconds
        self._clock = clock
        self._delays = backoff_delays(maximum=retry_max_seconds)
        # Since when the peer has been away (monotonic); None while it answers.
        self.down_since: float | None = None
        self._next_reminder = math.inf
        # When the next attempt is due (monotonic); 0: now.
        self.next_attempt = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: str, detail: str = "") -> float:
        """An attempt failed with ``error`` (one line); returns the seconds to wait."""
        now = self._clock()
        delay = next(self._delays)
        self.next_attempt = now + delay
        tail = f"; {detail}" if detail else ""
        if self.down_since is None:
            self.down_since = now
            self._next_reminder = now + REMINDER_SECONDS
            retrying = f", retrying in {delay:.1f}s" if self._retries else ""
            self._log.warning("%s unavailable (%s)%s%s", self._peer, error, tail, retrying)
        elif now >= self._next_reminder:
            self._next_reminder = now + REMINDER_SECONDS
            self._log.warning(
                "%s still unavailable after %.0fs (%s)%s",
                self._peer,
                now - self.down_since,
                error,
                tail,
            )
        else:
            self._log.debug(
                "%s still unavailable (%s); retrying in %.1fs", self._peer, error, delay
            )
        return delay

    def succeeded(self, detail: str = "") -> None:
        """An attempt succeeded; ``detail`` ends the "back" line, if one is logged."""
        if self.down_since is not None:
            tail = f"; {detail}" if detail else ""
            self._log.info(
                "%s back after %.1fs%s", self._peer, self._clock() - self.down_since, tail
            )
            self.down_since = None
            self._next_reminder = math.inf
        self._delays = backoff_delays(maximum=self._retry_max_seconds)
        self.next_attempt = 0.0
