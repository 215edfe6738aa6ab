"""The WebSocket format, version 2: a snapshot, then frames of what changed. Pure.

A client is sent a snapshot when it connects, then at most one frame per tick (10 a
second by default) holding everything that changed since the revision of the grid it
was last sent: rows whole, the columns whole when any changed, the counters and rates
always. However many messages arrive between two ticks, and however many ticks a slow
client misses, it gets one frame that brings it up to date: what it is owed never
exceeds one grid's worth (``history`` rows, a few columns), whatever the rate.

    {"type": "snapshot", "version": 2, "history": 50, "rows_per_second": 10, "messages": [...],
     "replicas": [...], "dead_letters": [...], "counters": {...}, "rates": {...}}
    {"type": "frame", "version": 2, "messages": [...], "counters": {...},
     "rates": {...}, "replicas": [...], "dead_letters": [...]}

In a frame, ``replicas`` and ``dead_letters`` are there only when they changed, and
then whole (replace yours); ``messages`` holds the rows that changed, oldest first
(replace yours with the same ``message_id``, then keep the ``history`` with the highest
``index``). docs/live-view.md describes every field.
"""

from __future__ import annotations

import json
from typing import Any

from dashboard.grid import Grid

VERSION = 2
# An idle grid still sends a frame this often: the rates fall to 0, and a client sees the
# feed is alive.
HEARTBEAT_SECONDS = 1.0


def snapshot(grid: Grid) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "version": VERSION,
        "history": grid.history,
        "rows_per_second": grid.rows_per_second,
        "messages": [row.to_json() for row in grid.rows.values()],
        "replicas": [column.to_json() for column in grid.columns],
        "dead_letters": [letter.to_json() for letter in grid.letters.shown],
        "counters": grid.counters_json(),
        "rates": rates(grid),
    }


def frame(grid: Grid, since: int) -> dict[str, Any]:
    """What changed after revision ``since``."""
    body: dict[str, Any] = {
        "type": "frame",
        "version": VERSION,
        "messages": [row.to_json() for row in grid.rows.values() if row.revision > since],
        "counters": grid.counters_json(),
        "rates": rates(grid),
    }
    if grid.columns.changed_since(since):
        body["replicas"] = [column.to_json() for column in grid.columns]
    if grid.letters.revision > since:
        body["dead_letters"] = [letter.to_json() for letter in grid.letters.shown]
    return body


def rates(grid: Grid) -> dict[str, float]:
    messages, deliveries = grid.rates.rates()
    return {"messages": round(messages, 1), "deliveries": round(deliveries, 1)}


def due(sent: int | None, revision: int, since_last: float) -> bool:
    """Whether a client sent revision ``sent`` (None: nothing yet) ``since_last`` seconds
    ago is owed a frame at a tick where the grid is at ``revision``."""
    return sent is None or revision > sent or since_last >= HEARTBEAT_SECONDS


class FrameCache:
    """Each tick, a frame is encoded once per revision clients were last sent: clients
    keeping up were all sent the same one, so 20 of them cost one encoding."""

    def __init__(self, grid: Grid) -> None:
        self._grid = grid
        self._texts: dict[int | None, str] = {}

    def new_tick(self) -> None:
        self._texts.clear()

    def text(self, sent: int | None) -> str:
        """The frame owed to a client sent revision ``sent``; None: a snapshot."""
        text = self._texts.get(sent)
        if text is None:
            body = snapshot(self._grid) if sent is None else frame(self._grid, sent)
            text = self._texts[sent] = json.dumps(body, separators=(",", ":"))
        return text
