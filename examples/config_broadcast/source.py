"""The publisher's side: the authority on the settings, publishing their changes.

Every call may publish one update: each setting's current value once at start, then a
setting's new value when it changes (one call in ``EDIT_EVERY`` edits one, as an
administrator would). A replica started later learns the values published before its
subscription existed by replay (``REPLAY_SECONDS``: its new subscription is sought back,
and the topic retains that window), so the values are not sent again and again.

``REBROADCAST_SECONDS`` (0, the default: off) re-publishes a setting's current value once
that long has passed since it was last sent: for settings that may go unchanged longer
than the replay window (keep it shorter than ``REPLAY_SECONDS``), or without replay at all,
where a replica started later waits up to a cycle for every value (measured:
benchmarks/README.md, "Late joiners").
"""

from __future__ import annotations

import json
import os
import random
import time

from common.config import read_float
from common.seams import Outgoing

# Read once, at import, which the publisher does at start-up: a bad value stops it there.
REBROADCAST_SECONDS = read_float(os.environ, "REBROADCAST_SECONDS", 0.0, minimum=0, maximum=2**31)

# The settings this authority owns, with the values an edit picks from.
CHOICES: dict[str, list[object]] = {
    "banner": ["", "Autumn sale", "Maintenance on Sunday 02:00 UTC", "New: dark mode"],
    "max_upload_mb": [10, 25, 100],
    "dark_mode": [False, True],
}
# One call in this many changes a setting before publishing it.
EDIT_EVERY = 5

# setting -> (value, version), and when each was last sent (monotonic). Module state,
# which the publisher keeps for the life of its process; it calls the source from one
# thread only.
_current: dict[str, tuple[object, int]] = {name: (values[0], 0) for name, values in CHOICES.items()}
_sent_at: dict[str, float] = {}


def update(setting: str, value: object, version: int) -> Outgoing:
    """One update as a message; ``sequence`` 0 (for messages made outside the loop)."""
    body = {"setting": setting, "value": value, "version": version}
    return Outgoing(
        data=json.dumps(body).encode(),
        attributes={"content_type": "application/json", "setting": setting},
        description=f"setting={setting} version={version}",
        sequence=0,
    )


def setting_updates(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing | None:
    """``PUBLISHER_SOURCE=examples.config_broadcast.source:setting_updates``."""
    names = sorted(CHOICES)
    unsent = [name for name in names if name not in _sent_at]
    if unsent:
        setting = unsent[0]
    else:
        setting = names[sequence % len(names)]
        if sequence % EDIT_EVERY == 0:
            # The time of the edit, and never a version already used (two edits in one ms).
            version = max(time.time_ns() // 1_000_000, _current[setting][1] + 1)
            _current[setting] = (rng.choice(CHOICES[setting]), version)
        elif not due(_sent_at[setting], time.monotonic(), REBROADCAST_SECONDS):
            return None
    _sent_at[setting] = time.monotonic()
    value, version = _current[setting]
    message = update(setting, value, version)
    attributes = {**message.attributes, "publisher": publisher_id}
    return Outgoing(message.data, attributes, message.description, sequence)


def due(sent_at: float, now: float, every: float) -> bool:
    """Whether a value sent at ``sent_at`` is to be re-broadcast at ``now`` (0: never)."""
    return every > 0 and now - sent_at >= every
