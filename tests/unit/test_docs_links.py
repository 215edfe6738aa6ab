"""Every relative link in the project's Markdown resolves: to a file, and to a heading there.

Anchors follow GitHub's rule: the heading lowercased, punctuation other than - and _
dropped, spaces as hyphens, a -1, -2 ... suffix for repeats. Links inside code are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from tests.support import ROOT

DOCS = ("README.md", "docs/*.md", "benchmarks/README.md", "tests/README.md", "secrets/README.md")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")


def markdown_files() -> list[Path]:
    return sorted({path for pattern in DOCS for path in ROOT.glob(pattern)})


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match[1])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links() -> list[str]:
    problems = []
    for source in markdown_files():
        for number, line in prose_lines(source.read_text(encoding="utf-8")):
            for target in LINK.findall(CODE_SPAN.sub("", line)):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                path_part, _, anchor = target.partition("#")
                resolved = (source.parent / unquote(path_part)).resolve() if path_part else source
                where = f"{source.relative_to(ROOT)}:{number}: {target}"
                if not resolved.exists():
                    problems.append(f"{where}: no such file")
                elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    problems.append(f"{where}: no heading #{anchor}")
    return problems


def test_relative_links_resolve() -> None:
    assert len(markdown_files()) >= 5
    assert broken_links() == []


def test_the_readme_fits_on_a_screen_or_so() -> None:
    """The front page stays a front page (issue 10): the reference lives in docs/."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
