"""The layout's size rules (issue 10): small modules, small classes, so that a reader finds
any behaviour in a minute. A file or class that outgrows them is split, not excused."""

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

MAX_FILE_LINES = 300
MAX_CLASS_LINES = 150
PACKAGES = ("common", "ctl", "publisher", "subscriber", "dashboard", "benchmarks", "tests")
SOURCES = sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_and_classes_stay_small(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.name}: split it by concern"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            assert lines <= MAX_CLASS_LINES, f"class {node.name} has {lines} lines"


# The receive component's face is its package (issue 20): its modules and their private
# state are its own; only its unit tests, which mirror it module by module, look inside.
RECEIVE = ROOT / "common" / "receive"
RECEIVE_TESTS = ROOT / "tests" / "unit" / "common" / "receive"
OUTSIDE_RECEIVE = [
    path
    for path in SOURCES + sorted((ROOT / "examples").rglob("*.py"))
    if not path.is_relative_to(RECEIVE) and not path.is_relative_to(RECEIVE_TESTS)
]


def test_nothing_outside_the_receive_component_reaches_past_its_face() -> None:
    reaching = []
    for path in OUTSIDE_RECEIVE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            reaching += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if name.startswith("common.receive.")
            ]
    assert not reaching, reaching
