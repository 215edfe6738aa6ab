"""The config-broadcast example: the latest value of each setting wins, in any order."""

from __future__ import annotations

import importlib
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from common.config import ConfigError
from common.seams import Delivery
from examples.config_broadcast import handler as handler_module
from examples.config_broadcast import source as source_module
from examples.config_broadcast.source import CHOICES, EDIT_EVERY, update


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    """The handler module as a replica imports it, with SETTINGS_FILE in ``tmp_path``."""
    monkeypatch.setenv("SETTINGS_FILE", str(tmp_path / "settings.json"))
    yield importlib.reload(handler_module)
    monkeypatch.delenv("SETTINGS_FILE")
    importlib.reload(handler_module)


def delivery(data: bytes, message_id: str = "1") -> Delivery:
    return Delivery(message_id, data, {}, datetime(2026, 11, 22, tzinfo=UTC), 1)


def test_the_newest_version_wins_whatever_the_order(handler: ModuleType, tmp_path: Path) -> None:
    for version, value in [(2, "Autumn sale"), (1, "stale"), (3, "Winter sale"), (3, "dup")]:
        handler.remember_setting(delivery(update("banner", value, version).data))
    handler.remember_setting(delivery(update("dark_mode", True, 1).data))
    assert handler.current("banner") == "Winter sale"
    assert handler.current("dark_mode") is True
    assert handler.current("unknown", "default") == "default"
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved == {"banner": "Winter sale", "dark_mode": True}
    assert not (tmp_path / "settings.json.partial").exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff", "an update must be UTF-8 JSON"),
        (b"[1]", "an update must be a JSON object"),
        (b'{"setting": "", "value": 1, "version": 1}', "setting must be a name"),
        (b'{"setting": "x", "value": 1, "version": -1}', "version must be a whole number"),
        (b'{"setting": "x", "value": 1, "version": true}', "version must be a whole number"),
        (b'{"setting": "x", "version": 1}', "an update must have a value"),
    ],
)
def test_a_bad_update_raises_so_the_replica_rejects_it(
    handler: ModuleType, data: bytes, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        handler.remember_setting(delivery(data))


def test_a_settings_file_in_no_folder_stops_the_replica_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SETTINGS_FILE", "/no/such/folder/settings.json")
    with pytest.raises(ConfigError, match=r"^SETTINGS_FILE=/no/such/folder/settings.json: "):
        importlib.reload(handler_module)
    monkeypatch.delenv("SETTINGS_FILE")
    importlib.reload(handler_module)


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The source module afresh (its state, its settings read at import)."""
    yield importlib.reload(source_module)
    monkeypatch.delenv("REBROADCAST_SECONDS", raising=False)
    importlib.reload(source_module)


def test_the_source_sends_every_setting_once_then_only_its_edits(source: ModuleType) -> None:
    rng = random.Random(3)
    messages = [source.setting_updates(rng, n, "pub-1") for n in range(1, 4 * EDIT_EVERY + 1)]
    sent = [message for message in messages if message is not None]
    decoded = [handler_module.decode(message.data) for message in sent]
    # Each setting's value at start, then an edit every EDIT_EVERY calls, nothing else.
    assert [setting for setting, _, version in decoded if version == 0] == sorted(CHOICES)
    assert len(sent) == len(CHOICES) + 4
    assert all(version > 0 for _, _, version in decoded[len(CHOICES) :])
    assert all(value in CHOICES[setting] for setting, value, _ in decoded)
    assert sent[0].sequence == 1
    assert sent[0].attributes["publisher"] == "pub-1"


def test_rebroadcast_sends_a_value_again_once_it_is_that_old(
    monkeypatch: pytest.MonkeyPatch, source: ModuleType
) -> None:
    monkeypatch.setenv("REBROADCAST_SECONDS", "0.01")
    rebroadcasting = importlib.reload(source_module)
    rng = random.Random(3)
    for n in range(1, 4):
        assert rebroadcasting.setting_updates(rng, n, "pub-1") is not None
    time.sleep(0.02)
    again = rebroadcasting.setting_updates(rng, 4, "pub-1")
    assert again is not None
    assert handler_module.decode(again.data)[2] == 0, "the current value, not an edit"
    assert source_module.due(10.0, 11.0, 1.0)
    assert not source_module.due(10.0, 10.5, 1.0)
    assert not source_module.due(0.0, 1e9, 0.0), "0: never"


def test_a_bad_rebroadcast_setting_stops_the_publisher_at_start_up(
    monkeypatch: pytest.MonkeyPatch, source: ModuleType
) -> None:
    monkeypatch.setenv("REBROADCAST_SECONDS", "often")
    with pytest.raises(ConfigError, match=r"^REBROADCAST_SECONDS must be a number"):
        importlib.reload(source_module)
