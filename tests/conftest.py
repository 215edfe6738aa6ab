"""Shared test helpers.

Layers that need outside machinery (the emulator, a Docker Engine) skip with a reason
where it is missing, except in CI (CI set in the environment, as .ci/run does), where a
skipped layer would be a silent hole: there they fail instead.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def unavailable(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this layer must run)", pytrace=False)
    pytest.skip(reason)


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    details: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``probe`` until it returns something other than None or False."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{details()}")
        time.sleep(interval)


MESSAGE_ID = r"message_id=(\S+)"


def message_ids(log: str, event: str) -> list[str]:
    """IDs on the log lines of one event ("published", "received", "rejected")."""
    return re.findall(rf"{event} {MESSAGE_ID}", log)
