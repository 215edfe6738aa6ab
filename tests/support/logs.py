"""Reading the services' JSON log lines (``LOG_FORMAT=json``) by their fields.

Every line a test or a benchmark waits on carries an ``event`` field (``common.logs.fields``)
and the fields that say what it is about (``message_id``, ``subscription``, ``peer``, ...);
wording and logger names are free to change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Record = dict[str, Any]


def records(log: str) -> list[Record]:
    """The JSON lines of ``log`` as objects; other lines (a text log, a prefix such as
    Compose's) are skipped."""
    found = []
    for line in log.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "severity" in record:
            found.append(record)
    return found


def select(found: Iterable[Record], event: str | None = None, **fields: object) -> list[Record]:
    """The records of ``event`` (any, with None) whose fields equal ``fields``."""
    return [
        record
        for record in found
        if (event is None or record.get("event") == event)
        and all(record.get(key) == value for key, value in fields.items())
    ]


def events(log: str, event: str | None = None, **fields: object) -> list[Record]:
    """``select`` over the JSON lines of ``log``."""
    return select(records(log), event, **fields)


def message_ids(log: str, event: str) -> list[str]:
    """The ``message_id`` of each record of ``event`` ("published", "received", ...), in
    log order, repeats included."""
    return [str(record["message_id"]) for record in events(log, event)]
