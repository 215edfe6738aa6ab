"""The publisher's side: the authority on the settings, re-broadcasting them.

Every call publishes one setting's current value, round-robin, and now and then changes
a value first (an administrator's edit). Re-sending the current values, not only the
changes, is what lets a replica started later, or one that missed an update, converge:
a subscription receives only what is published after it exists.
"""

from __future__ import annotations

import json
import random
import time

from common.seams import Outgoing

# The settings this authority owns, with the values an edit picks from.
CHOICES: dict[str, list[object]] = {
    "banner": ["", "Autumn sale", "Maintenance on Sunday 02:00 UTC", "New: dark mode"],
    "max_upload_mb": [10, 25, 100],
    "dark_mode": [False, True],
}
# One call in this many changes a setting before publishing it.
EDIT_EVERY = 5

# setting -> (value, version). Module state, which the publisher keeps for the life of
# its process; it calls the source from one thread only.
_current: dict[str, tuple[object, int]] = {name: (values[0], 0) for name, values in CHOICES.items()}


def update(setting: str, value: object, version: int) -> Outgoing:
    """One update as a message; ``sequence`` 0 (for messages made outside the loop)."""
    body = {"setting": setting, "value": value, "version": version}
    return Outgoing(
        data=json.dumps(body).encode(),
        attributes={"content_type": "application/json", "setting": setting},
        description=f"setting={setting} version={version}",
        sequence=0,
    )


def setting_updates(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing:
    """``PUBLISHER_SOURCE=examples.config_broadcast.source:setting_updates``."""
    names = sorted(CHOICES)
    setting = names[sequence % len(names)]
    if sequence % EDIT_EVERY == 0:
        # The time of the edit, and never a version already used (two edits in one ms).
        version = max(time.time_ns() // 1_000_000, _current[setting][1] + 1)
        _current[setting] = (rng.choice(CHOICES[setting]), version)
    value, version = _current[setting]
    message = update(setting, value, version)
    attributes = {**message.attributes, "publisher": publisher_id}
    return Outgoing(message.data, attributes, message.description, sequence)
