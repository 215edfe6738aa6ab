"""Polling with a deadline: every wait in the tests and benchmarks has one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    details: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``probe`` until it returns something other than None or False, and return it.

    Raises ``AssertionError`` naming ``what`` (and ``details()``) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{details()}")
        time.sleep(interval)
