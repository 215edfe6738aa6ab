"""What every test layer shares: a layer whose machinery is missing skips, but not in CI.

Layers that need outside machinery (the emulator, PostgreSQL, a Docker Engine) skip with
a reason where it is missing, except in CI (CI set in the environment, as .ci/run does),
where a skipped layer would be a silent hole: there they fail instead. The machinery
itself is in ``tests.support``, shared with the benchmarks.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``; in CI, fail it."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this layer must run)", pytrace=False)
    pytest.skip(reason)
