"""Wait for Pub/Sub (or a resource in it) with capped exponential backoff.

Services start in any order: the emulator may still be booting, or the topic may not be
created yet. Rather than crash and rely on a restart policy, a service retries the call
that needs it, logging why, and stays responsive to SIGTERM while it waits.
"""

from __future__ import annotations

import logging
import random
import threading
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
# Deadline for one admin call; the loop below decides how long to keep trying.
ADMIN_CALL_TIMEOUT_SECONDS = 10.0


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
) -> T:
    """Return ``call()``, retrying on ``retry_on`` until it succeeds or ``stop`` is set.

    Raises ``ShutdownRequested`` if ``stop`` is set first; any other error propagates.
    """
    delays = delays or backoff_delays()
    attempt = 1
    while True:
        if stop.is_set():
            raise ShutdownRequested(what)
        try:
            return call()
        except retry_on as exc:
            delay = next(delays)
            logger.warning(
                "waiting for %s (attempt %d, %s: %s); retrying in %.1fs",
                what,
                attempt,
                type(exc).__name__,
                exc,
                delay,
            )
        attempt += 1
        if stop.wait(delay):
            raise ShutdownRequested(what)
