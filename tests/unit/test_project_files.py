"""What people who fork a template expect, kept true: every compose setting in
.env.example, one version everywhere, a CI workflow actionlint accepts, an update bot
that covers every pin, and a bare `make` that says what it can do."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.tools import ToolUnavailable, dev_tool

COMPOSE_FILES = (
    "docker-compose.yml",
    "docker-compose.gcp.yml",
    "docker-compose.emulator-port.yml",
    "examples/compose.yml",
)
WORKFLOW = ROOT / ".github/workflows/ci.yml"


def git_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [name for name in listed if (ROOT / name).exists()]


def test_env_example_holds_every_compose_setting_and_no_other() -> None:
    used = set()
    for name in COMPOSE_FILES:
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / name).read_text()))
    listed = set(re.findall(r"(?m)^# ([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text()))
    assert used - listed == set(), "compose settings missing from .env.example"
    assert listed - used == set(), ".env.example settings no compose file reads"


def test_env_example_shows_the_compose_defaults() -> None:
    """A copy of .env.example changes nothing: each line shows the compose file's default
    (blank where the files differ, as ACK_DEADLINE_SECONDS does by service)."""
    defaults: dict[str, set[str]] = {}
    for name in COMPOSE_FILES:
        for var, default in re.findall(r"\$\{([A-Z0-9_]+):-([^}]*)\}", (ROOT / name).read_text()):
            defaults.setdefault(var, set()).add(default)
    text = (ROOT / ".env.example").read_text()
    for var, values in defaults.items():
        shown = re.search(rf"(?m)^# {var}=(\S*)", text)
        assert shown, var
        if len(values) == 1 and var != "LOG_FORMAT":  # json in the GCP file, said beside it
            assert shown[1] == next(iter(values)), var


def version() -> str:
    found = re.search(r'(?m)^version = "(.+)"', (ROOT / "pyproject.toml").read_text())
    assert found
    return found[1]


def test_one_version_in_pyproject_changelog_images_and_overlay() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog)
    assert released, "CHANGELOG.md: ## [x.y.z] - YYYY-MM-DD headings"
    assert released[0] == version(), "the newest release in CHANGELOG.md is pyproject's"
    assert "## [Unreleased]" in changelog
    for name in COMPOSE_FILES:
        tags = set(re.findall(r"\$\{VERSION:-([^}]*)\}", (ROOT / name).read_text()))
        assert tags <= {version()}, name
    examples = (ROOT / "examples/Dockerfile").read_text()
    assert f"ARG BASE_IMAGE=pubsub-fanout-subscriber:{version()}" in examples
    gke = (ROOT / "deploy/kubernetes/overlays/gke/kustomization.yaml").read_text()
    assert set(re.findall(r"newTag: (\S+)", gke)) == {version()}


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    try:
        tool = dev_tool("actionlint")
    except ToolUnavailable as exc:
        unavailable(str(exc))
    return subprocess.run(
        [tool, "-no-color", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_ci_workflow_passes_actionlint_and_runs_the_readme_commands() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = re.findall(r"(?m)^\s+- run: (.+)$", WORKFLOW.read_text())
    assert "make test" in runs
    assert any(run.endswith("make test-kubernetes") for run in runs), runs


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github/workflows/ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-24.04", "runs-on: [", 1))
    assert actionlint(broken).returncode != 0


def renovate_patterns() -> dict[str, list[re.Pattern[str]]]:
    config = json.loads((ROOT / "renovate.json").read_text())
    patterns = {}
    for manager in config["enabledManagers"]:
        found = config[manager]["managerFilePatterns"]
        assert all(p.startswith("/") and p.endswith("/") for p in found), manager
        patterns[manager] = [re.compile(p[1:-1]) for p in found]
    return patterns


def pinned_files() -> dict[str, str]:
    """Each file in the repository that pins an image or a version -> the manager it needs."""
    wanted = {}
    for name in git_files():
        text = (ROOT / name).read_text(errors="replace") if Path(name).suffix != ".png" else ""
        base = Path(name).name
        if re.fullmatch(r"Dockerfile(-\w+)?", base) and re.search(r"(?m)^FROM \w", text):
            wanted[name] = "dockerfile"
        elif re.fullmatch(r"(docker-)?compose[^/]*\.ya?ml", base) and "image:" in text:
            wanted[name] = "docker-compose"
        elif base == "kustomization.yaml" and "newTag:" in text:
            wanted[name] = "kustomize"
        elif name.startswith("deploy/kubernetes/") and re.search(r"image: \S+:\S+", text):
            wanted[name] = "kubernetes"
        elif re.fullmatch(r"requirements-\w+\.lock", base):
            wanted[name] = "pip-compile"
        elif name.endswith(".tf") and "required_providers" in text:
            wanted[name] = "terraform"
        elif name.startswith(".github/workflows/"):
            wanted[name] = "github-actions"
        elif base == "package.json":
            wanted[name] = "npm"
        elif base == "compose-v2.txt":
            wanted[name] = "pip_requirements"
    return wanted


def test_renovate_covers_every_pinned_file() -> None:
    patterns = renovate_patterns()
    wanted = pinned_files()
    for kind in ("dockerfile", "docker-compose", "kustomize", "kubernetes", "pip-compile",
                 "terraform", "github-actions", "npm", "pip_requirements"):  # fmt: skip
        assert kind in wanted.values(), f"no {kind} file found: is this test still reading?"
    uncovered = {
        name: manager
        for name, manager in wanted.items()
        if not any(p.search(name) for p in patterns.get(manager, []))
    }
    assert not uncovered, f"pins no Renovate manager reads: {uncovered}"


@pytest.mark.parametrize("lock", ["requirements-dev.lock", "requirements-scan.lock"])
def test_each_lock_says_the_command_that_made_it(lock: str) -> None:
    """Renovate's pip-compile manager re-runs the command in the lock's header."""
    header = (ROOT / lock).read_text().split("\n\n", 1)[0]
    assert re.search(rf"pip-compile .*--output-file={lock}", header), header


def test_a_bare_make_prints_the_targets() -> None:
    make = shutil.which("make")
    if make is None:
        unavailable("make is not installed")
    result = subprocess.run([make, "--no-print-directory"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)  # fmt: skip
    for target in ("test", "test-kubernetes", "lint", "lock", "bench"):
        assert re.search(rf"(?m)^  make {target}\s", result.stdout), result.stdout
