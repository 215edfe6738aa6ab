"""`pip install .` gives a wheel with everything the services read, not only their code:
every file under the service packages that git tracks (the live view's page, the sink's
migrations) is in it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("common", "dashboard", "publisher", "subscriber")


def test_the_wheel_holds_every_file_the_services_read(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("pubsub_fanout-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "dashboard/static/index.html" in tracked
    missing = sorted(set(tracked) - inside)
    assert not missing, f"not in {wheel.name}: {missing}"
