"""Reading the services' log lines."""

from __future__ import annotations

import re

MESSAGE_ID = r"message_id=(\S+)"


def message_ids(log: str, event: str) -> list[str]:
    """IDs on the log lines of one event ("published", "received", "rejected")."""
    return re.findall(rf"{event} {MESSAGE_ID}", log)
