"""What a subcommand answers: data for ``--json``, text for people, an exit status.

Text from Pub/Sub (a message's data and attributes, a label) is not trusted: it is
escaped as the services escape their log lines (``common.logs.escape``), so a dead
letter cannot send escape sequences to an operator's terminal.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from common.logs import escape

# Exit statuses: done; a check failed or some work could not be done; bad usage or
# settings (the message names them).
OK = 0
FAILED = 1
USAGE = 2


class UsageError(Exception):
    """A request that cannot be carried out as given (exit 2); the message says why."""


@dataclass(frozen=True)
class Result:
    """``data``: what ``--json`` prints (JSON-able); ``text``: what people read."""

    data: Any
    text: str
    status: int = OK


def emit(result: Result, as_json: bool, stream: TextIO | None = None) -> int:
    """Print ``result`` on ``stream`` (stdout); returns its status."""
    out = stream or sys.stdout
    if as_json:
        out.write(json.dumps(result.data, indent=2, default=str) + "\n")
    elif result.text:
        out.write(result.text.rstrip("\n") + "\n")
    out.flush()
    return result.status


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows in aligned columns under ``headers``, every cell escaped; "-" for None."""
    cells = [[escape("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def preview(data: bytes, limit: int = 60, *, size: int | None = None) -> str:
    """A message body on one line: its text (escaped) if UTF-8, else its size. ``data``
    may be the start of a body of ``size`` bytes, cut anywhere, even within a character."""
    whole = size is None or size <= len(data)
    try:
        # A start may end in part of a character: not an error, unless it is the whole.
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=whole)
    except UnicodeDecodeError:
        return f"<{len(data) if size is None else size} bytes, not UTF-8>"
    text = escape(text)
    return text if len(text) <= limit and whole else text[: limit - 1] + "…"
