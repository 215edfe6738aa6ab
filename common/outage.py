"""An outage of a peer (Pub/Sub, the database) as a long-lived loop sees it, and the wait
for one to end.

Faults are normal: services start in any order, the emulator restarts, a network blips.
Every long-lived call here goes through one record, ``Outage``: one line when the peer
goes, a reminder a minute while it stays away, one line when it is back, so an outage of
any length costs a handful of log lines, never one per retry. It also says when to try
again (capped exponential backoff with jitter) and whether the caller is down, for its
health check. ``call_until_ready`` retries one call with it, still answering SIGTERM.

The lines carry ``event`` = ``unavailable``, ``still unavailable`` or ``available``, the
``peer`` and, while it is away, the ``reason``, so tests and log queries match on fields,
not wording.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from google.api_core import exceptions

from common.logs import fields

log = logging.getLogger(__name__)
T = TypeVar("T")

# While the peer stays away, one reminder line this often rather than one per retry.
REMINDER_SECONDS = 60.0
# Errors of a call that must answer (an admin call, an ack) meaning "not reachable now".
UNAVAILABLE: tuple[type[Exception], ...] = (
    exceptions.ServiceUnavailable,
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
)
# Deadline of one admin call: short enough that a peer that hangs (a stopped emulator)
# still lets a waiting service beat its heartbeat inside the health check's window.
ADMIN_CALL_TIMEOUT_SECONDS = 5.0
# While ``call_until_ready`` waits, ``beat`` is called this often.
BEAT_SECONDS = 2.0


class ShutdownRequested(Exception):
    """The stop event was set while waiting for a peer."""


def backoff_delays(
    *,
    initial: float = 0.5,
    maximum: float = 10.0,
    multiplier: float = 2.0,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Endless delays in seconds: ``initial``, times ``multiplier`` each time, capped at
    ``maximum``, each within ±``jitter`` of that (so replicas do not retry in step)."""
    rng = rng or random.Random()
    delay = initial
    while True:
        yield delay * rng.uniform(1 - jitter, 1 + jitter)
        delay = min(delay * multiplier, maximum)


class Outage:
    """Failed and successful attempts at reaching ``peer`` (a name for the log lines).

    Thread-safe: several threads (pull threads) may report to one record. ``retrying``
    False leaves "retrying in" out of the lines, for callers that do not retry;
    ``delays`` makes the backoff's delays (``backoff_delays`` up to ``retry_max_seconds``).
    """

    def __init__(
        self,
        peer: str,
        *,
        retry_max_seconds: float = 10.0,
        retrying: bool = True,
        clock: Callable[[], float] = time.monotonic,
        delays: Callable[[], Iterator[float]] | None = None,
    ) -> None:
        self.peer = peer
        self._retrying = retrying
        self._clock = clock
        self._new_delays = delays or (lambda: backoff_delays(maximum=retry_max_seconds))
        self._delays = self._new_delays()
        self._lock = threading.Lock()
        # Since when the peer has been away (monotonic); None while it answers.
        self.down_since: float | None = None
        self._next_reminder = math.inf
        # When the next attempt is due (monotonic); 0: now.
        self.next_attempt = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: str, detail: str = "") -> float:
        """An attempt failed with ``error`` (logged on the first failure and once a minute
        after); returns the seconds to wait before the next attempt. ``detail`` ends the
        line (e.g. ``"holding 3 messages"``)."""
        with self._lock:
            now = self._clock()
            delay = next(self._delays)
            self.next_attempt = now + delay
            tail = f"; {detail}" if detail else ""
            if self.down_since is None:
                self.down_since = now
                self._next_reminder = now + REMINDER_SECONDS
                retry = f", retrying in {delay:.1f}s" if self._retrying else ""
                log.warning(
                    "%s unavailable (%s)%s%s",
                    self.peer,
                    error,
                    tail,
                    retry,
                    extra=fields(event="unavailable", peer=self.peer, reason=error),
                )
            elif now >= self._next_reminder:
                self._next_reminder = now + REMINDER_SECONDS
                seconds = now - self.down_since
                log.warning(
                    "%s still unavailable after %.0fs (%s)%s",
                    self.peer,
                    seconds,
                    error,
                    tail,
                    extra=fields(
                        event="still unavailable", peer=self.peer, seconds=seconds, reason=error
                    ),
                )
            else:
                log.debug("%s still unavailable (%s)", self.peer, error)
            return delay

    def succeeded(self, detail: str = "") -> None:
        """An attempt succeeded; ``detail`` ends the "available" line, if one is logged.
        Cheap when nothing failed: a busy loop calls it on every success."""
        if self.down_since is None and self.next_attempt == 0.0:
            return
        with self._lock:
            if self.down_since is not None:
                seconds = self._clock() - self.down_since
                log.info(
                    "%s available after %.1fs%s",
                    self.peer,
                    seconds,
                    f"; {detail}" if detail else "",
                    extra=fields(event="available", peer=self.peer, seconds=seconds),
                )
                self.down_since = None
                self._next_reminder = math.inf
            self._delays = self._new_delays()
            self.next_attempt = 0.0


def call_until_ready(
    call: Callable[[], T],
    *,
    what: str,
    stop: threading.Event,
    retry_on: tuple[type[Exception], ...] = UNAVAILABLE,
    beat: Callable[[str], None] | None = None,
    delays: Callable[[], Iterator[float]] | None = None,
) -> T:
    """Return ``call()``, retrying while it raises one of ``retry_on``, with an ``Outage``
    named ``what`` (e.g. ``"Pub/Sub"``, ``"topic projects/p/topics/t"``) for the lines.

    ``beat(reason)`` is called at least every ``BEAT_SECONDS`` while waiting, so that the
    caller's heartbeat says "alive, not ready". Raises ``ShutdownRequested`` once ``stop``
    is set; any other error propagates. ``delays`` as for ``Outage``.
    """
    outage = Outage(what, delays=delays)
    while True:
        if stop.is_set():
            raise ShutdownRequested(what)
        try:
            result = call()
        except retry_on as exc:
            delay = outage.failed(f"{type(exc).__name__}: {exc}")
        else:
            outage.succeeded()
            return result
        if _wait(stop, delay, beat, f"waiting for {what}"):
            raise ShutdownRequested(what)


def _wait(
    stop: threading.Event, seconds: float, beat: Callable[[str], None] | None, reason: str
) -> bool:
    """Wait ``seconds`` or until ``stop``; True if stopped. Beats on the way."""
    deadline = time.monotonic() + seconds
    while True:
        if beat is not None:
            beat(reason)
        left = deadline - time.monotonic()
        if left <= 0:
            return stop.is_set()
        if stop.wait(min(left, BEAT_SECONDS)):
            return True
