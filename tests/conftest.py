"""What every test layer shares: a layer whose machinery is missing skips, but not in CI.

Layers that need outside machinery (the emulator, PostgreSQL, a Docker Engine) skip with
a reason where it is missing, except in CI (CI set in the environment, as .ci/run does),
where a skipped layer would be a silent hole: there they fail instead. The machinery
itself is in ``tests.support``, shared with the benchmarks.

Each test starts from the logging set-up it found, whatever ran before it on its worker:
``common.logs.configure`` (a service's ``main``) sets the root logger's level and handler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterator
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``; in CI, fail it."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this layer must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def logging_as_found() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A passing test keeps only its captured stdout (its figures): -rP with
    --show-capture=stdout (pyproject.toml) printed a heading, and on a worker a
    "[gw0] linux -- Python ..." line, for each passing test that had only logged, with
    nothing under them (29 of the 100 in a whole run)."""
    report = yield
    if report.passed:
        report.sections = [s for s in report.sections if s[0].startswith("Captured stdout")]
    return report
