"""Reading the services' log lines: text (``LOG_FORMAT=text``) or JSON (``json``)."""

from __future__ import annotations

import json
import re
from typing import Any

MESSAGE_ID = r"message_id=(\S+)"


def records(log: str) -> list[dict[str, Any]]:
    """The JSON lines of ``log`` as objects; other lines (text logs) are skipped."""
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


def message_ids(log: str, event: str) -> list[str]:
    """IDs of one event's messages ("published", "received", "rejected", ...): from the
    ``event`` and ``message_id`` fields of JSON lines, else from the text lines' wording."""
    structured = [r["message_id"] for r in records(log) if r.get("event") == event]
    return structured or re.findall(rf"{event} {MESSAGE_ID}", log)
