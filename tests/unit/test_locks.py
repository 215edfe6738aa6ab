"""One resolution for every lock: each image runs exactly the versions the tests ran.

`make lock` resolves the development lock first, then each image's lock constrained to it
(pip-compile --constraint requirements-dev.lock). These tests hold the outcome: every pin
of every image lock is the development lock's pin, hashes included; and every locked
package installs on the oldest Python that pyproject.toml admits (Debian 12 ships 3.11.2,
and pip-compile resolves only for the Python that runs it).
"""

from __future__ import annotations

import re
import sys
import tomllib
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.conftest import unavailable
from tests.support import ROOT

IMAGE_LOCKS = ("requirements-publisher.lock", "requirements-subscriber.lock",
               "requirements-dashboard.lock")  # fmt: skip
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)((?:\s*\\\n\s+--hash=\S+)+)", re.M)


def pins(lock: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Package name -> (version, its hashes), from a pip-compile lock."""
    found = {}
    for name, version, hashes in PIN.findall((ROOT / lock).read_text()):
        found[name.lower()] = (version, frozenset(re.findall(r"--hash=(\S+)", hashes)))
    assert found, f"no pins read from {lock}"
    return found


@pytest.mark.parametrize("lock", IMAGE_LOCKS)
def test_every_image_pin_is_the_development_locks(lock: str) -> None:
    development = pins("requirements-dev.lock")
    image = pins(lock)
    differing = {
        name: (pin[0], development.get(name, ("missing", frozenset()))[0])
        for name, pin in image.items()
        if development.get(name) != pin
    }
    assert not differing, f"{lock} (image, development): {differing}; run `make lock`"


def test_lock_reader_sees_a_difference() -> None:
    """The comparison above reads versions and hashes: a changed pin would show."""
    development = pins("requirements-dev.lock")
    image = pins("requirements-publisher.lock")
    assert "google-cloud-pubsub" in image
    assert image["google-cloud-pubsub"] == development["google-cloud-pubsub"]
    assert image["grpcio"][1], "hashes are read"


def oldest_python() -> str:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    (minimum,) = re.findall(r">=\s*(\d+\.\d+)", requires)
    return f"{minimum}.0"


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        unavailable(f"{venv.name} is not installed: make {venv.name}/.installed")
    return found[0]


@pytest.mark.parametrize("venv", [Path(sys.prefix), ROOT / ".venv-scan"], ids=["dev", "scan"])
def test_every_locked_package_installs_on_the_oldest_python_admitted(venv: Path) -> None:
    oldest = oldest_python()
    refused = []
    for metadata in site_packages(venv).glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(metadata.read_text(errors="replace"))
        requires = headers.get("Requires-Python")
        if requires and not SpecifierSet(requires).contains(oldest):
            refused.append(f"{headers['Name']} {headers['Version']} ({requires})")
    assert not refused, f"not installable on Python {oldest}: {refused}; bound them in the .in"
