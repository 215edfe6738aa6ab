"""Wait for Pub/Sub (or a resource in it) with capped exponential backoff.

Services start in any order: the emulator may still be booting, or the topic may not be
created yet. Rather than crash and rely on a restart policy, a service retries the call
that needs it, logging why, and stays responsive to SIGTERM while it waits.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from google.api_core import exceptions

T = TypeVar("T")

# Errors that mean "not reachable yet": the emulator is still starting, or a network blip.
UNAVAILABLE: tuple[type[Exception], ...] = (
    exceptions.ServiceUnavailable,
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
)
# Deadline for one admin call; the loop below decides how long to keep trying. Short
# enough that a peer that hangs (a stopped emulator) still lets a waiting service beat
# its heartbeat inside the health check's window (common.health.MAX_AGE_SECONDS).
ADMIN_CALL_TIMEOUT_SECONDS = 5.0
# While waiting, the caller's beat is called this often.
BEAT_SECONDS = 2.0
# While the wait goes on, one reminder line this often.
REMINDER_SECONDS = 60.0


class ShutdownRequested(Exception):
    """The stop event was set while waiting."""


def backoff_delays(
    *,
    initial: float = 0.5,
    maximum: float = 10.0,
    multiplier: float = 2.0,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Endless delays: initial, times multiplier each time, capped at maximum, each ±jitter."""
    rng = rng or random.Random()
    delay = initial
    while True:
        yield delay * rng.uniform(1 - jitter, 1 + jitter)
        delay = min(delay * multiplier, maximum)


def call_until_ready(
    call: Callable[[], T],
    *,
    what: str,
    stop: threading.Event,
    logger: logging.Logger,
    retry_on: tuple[type[Exception], ...] = UNAVAILABLE,
    delays: Iterator[float] | None = None,
    beat: Callable[[str], None] | None = None,
) -> T:
    """Return ``call()``, retrying on ``retry_on`` until it succeeds or ``stop`` is set.

    Logs the first failure, then a reminder a minute, then the recovery: a long wait
    costs a few lines. ``beat(reason)`` is called at least every
    ``BEAT_SECONDS`` while waiting, so a caller's heartbeat says "alive, not ready".
    Raises ``ShutdownRequested`` if ``stop`` is set first; any other error propagates.
    """
    delays = delays or backoff_delays()
    attempt = 1
    started = time.monotonic()
    next_reminder = started + REMINDER_SECONDS
    while True:
        if stop.is_set():
            raise ShutdownRequested(what)
        try:
            result = call()
        except retry_on as exc:
            delay = next(delays)
            reason = f"{type(exc).__name__}: {exc}"
            if attempt == 1:
                logger.warning(
                    "waiting for %s (attempt 1, %s); retrying in %.1fs", what, reason, delay
                )
            elif time.monotonic() >= next_reminder:
                next_reminder = time.monotonic() + REMINDER_SECONDS
                logger.warning(
                    "still waiting for %s after %.0fs (attempt %d, %s)",
                    what,
                    time.monotonic() - started,
                    attempt,
                    reason,
                )
            else:
                logger.debug("waiting for %s (attempt %d, %s)", what, attempt, reason)
        else:
            if attempt > 1:
                logger.info("done waiting for %s after %.1fs", what, time.monotonic() - started)
            return result
        attempt += 1
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
