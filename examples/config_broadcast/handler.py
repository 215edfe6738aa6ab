"""The replicas' side: the latest value of each setting, in every replica.

``remember_setting`` is the fan-out handler (``HANDLER=examples.config_broadcast.
handler:remember_setting``): every replica gets every update and keeps, for each
setting, the value with the highest version. The rest of the replica's code reads them
with ``current``. With ``SETTINGS_FILE`` set, each change is also written there as one
JSON object, replaced atomically, for processes that are not Python.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from common.config import ConfigError
from common.logs import fields
from common.seams import Delivery

log = logging.getLogger(__name__)

# Read once, at import, which the replica does at start-up: a bad value stops it there.
SETTINGS_FILE = os.environ.get("SETTINGS_FILE", "").strip() or None
if SETTINGS_FILE is not None and not Path(SETTINGS_FILE).parent.is_dir():
    raise ConfigError(f"SETTINGS_FILE={SETTINGS_FILE}: its folder does not exist")

MAX_NAME = 100

# setting -> (value, version). The handler runs on HANDLER_THREADS threads at once, so
# every read and write of it holds the lock.
_latest: dict[str, tuple[Any, int]] = {}
_lock = threading.Lock()


def decode(data: bytes) -> tuple[str, Any, int]:
    """(setting, value, version); ``ValueError`` saying what is wrong, which makes the
    replica reject the message (nack; the dead-letter topic after the last attempt)."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("an update must be UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise ValueError("an update must be a JSON object")
    setting, value, version = body.get("setting"), body.get("value"), body.get("version")
    if not isinstance(setting, str) or not 0 < len(setting) <= MAX_NAME:
        raise ValueError(f"setting must be a name of 1 to {MAX_NAME} characters")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError("version must be a whole number, 0 or more")
    if "value" not in body:
        raise ValueError("an update must have a value")
    return setting, value, version


def remember_setting(message: Delivery) -> None:
    """Keep the update if it is newer than what this replica has for its setting."""
    setting, value, version = decode(message.data)
    with _lock:
        held = _latest.get(setting)
        if held is not None and held[1] >= version:
            # A redelivery, or an older update arriving late: keep what is newer.
            log.info(
                "kept %s version %d over version %d (message_id=%s)",
                setting,
                held[1],
                version,
                message.message_id,
                extra=fields(
                    event="setting kept",
                    message_id=message.message_id,
                    setting=setting,
                    version=held[1],
                    incoming=version,
                ),
            )
            return
        _latest[setting] = (value, version)
        if SETTINGS_FILE is not None:
            _write(SETTINGS_FILE, {name: held[0] for name, held in _latest.items()})
    log.info(
        "setting %s = %s (version %d, message_id=%s)",
        setting,
        json.dumps(value)[:200],
        version,
        message.message_id,
        extra=fields(
            event="setting applied", message_id=message.message_id, setting=setting, version=version
        ),
    )


def current(setting: str, default: Any = None) -> Any:
    """The latest value this replica has seen for ``setting``."""
    with _lock:
        held = _latest.get(setting)
    return default if held is None else held[0]


def _write(path: str, settings: dict[str, Any]) -> None:
    # Written beside it then renamed: a reader sees the old file or the new, never half.
    partial = f"{path}.partial"
    Path(partial).write_text(json.dumps(settings, sort_keys=True))
    os.replace(partial, path)
