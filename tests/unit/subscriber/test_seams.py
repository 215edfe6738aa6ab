"""Each mode's seam setting: the demo by default, any callable by path, a bad path refused
at start-up with exit status 2 naming the setting. (The loader's cases in full:
tests/unit/common/test_loading.py.)"""

import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ConfigError
from subscriber.config import load
from subscriber.fanout.config import FanoutConfig
from subscriber.fanout.handler import log_channel
from subscriber.sink.config import SinkConfig
from subscriber.sink.rows import reading_row
from subscriber.sink.schema import PROJECT_TABLE, USER_TABLE
from subscriber.workqueue.config import WorkQueueConfig
from tests.support import ROOT
from tests.support.environment import clean_env

EMULATOR = {"PUBSUB_EMULATOR_HOST": "emulator:8085"}
SHARED = {**EMULATOR, "SUBSCRIPTION_MODE": "shared"}
SINK = {**EMULATOR, "SUBSCRIPTION_MODE": "sink"}


def test_fanout_handler_defaults_to_the_demo_and_takes_any_path() -> None:
    config = load(EMULATOR)
    assert isinstance(config, FanoutConfig)
    assert (config.handler, config.handler_path) == (
        log_channel,
        "subscriber.fanout.handler:log_channel",
    )
    mine = load({**EMULATOR, "HANDLER": "builtins:repr"})
    assert isinstance(mine, FanoutConfig)
    handler: object = mine.handler
    assert handler is repr
    with pytest.raises(ConfigError, match=r"^HANDLER='builtins:divmod': must accept 1 positional"):
        load({**EMULATOR, "HANDLER": "builtins:divmod"})


def test_task_function_defaults_to_the_demo_and_is_checked_at_start_up() -> None:
    config = load(SHARED)
    assert isinstance(config, WorkQueueConfig)
    assert config.task_function == "subscriber.workqueue.work:run_task"
    mine = load({**SHARED, "TASK_FUNCTION": "builtins:repr"})
    assert isinstance(mine, WorkQueueConfig)
    assert mine.task_function == "builtins:repr"
    with pytest.raises(ConfigError, match=r"^TASK_FUNCTION='subscriber:run': subscriber has no"):
        load({**SHARED, "TASK_FUNCTION": "subscriber:run"})


def test_sink_row_mapper_defaults_to_the_demo() -> None:
    config = load(SINK)
    assert isinstance(config, SinkConfig)
    assert (config.row_mapper, config.row_mapper_path) == (
        reading_row,
        "subscriber.sink.rows:reading_row",
    )
    assert [m.table for m in config.migrations] == [PROJECT_TABLE]
    with pytest.raises(ConfigError, match=r"^SINK_ROW_MAPPER='x': must be an import path"):
        load({**SINK, "SINK_ROW_MAPPER": "x"})


def test_sink_migrations_are_a_numbered_folder_read_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "0001_orders.sql").write_text("CREATE TABLE orders (message_id text);\n")
    (tmp_path / "README.md").write_text("not a migration\n")
    config = load({**SINK, "SINK_MIGRATIONS": str(tmp_path)})
    assert isinstance(config, SinkConfig)
    project, user = config.migrations
    assert (project.table, user.table) == (PROJECT_TABLE, USER_TABLE)
    assert [(m.version, m.name) for m in user.migrations] == [(1, "0001_orders.sql")]

    (tmp_path / "0003_gap.sql").write_text("SELECT 1;\n")
    with pytest.raises(ConfigError, match=r"^SINK_MIGRATIONS: migration versions must count up"):
        load({**SINK, "SINK_MIGRATIONS": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"^SINK_MIGRATIONS: /nowhere is not a folder$"):
        load({**SINK, "SINK_MIGRATIONS": "/nowhere"})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"holds no NNNN_what_it_does\.sql migration$"):
        load({**SINK, "SINK_MIGRATIONS": str(empty)})


@pytest.mark.parametrize(
    ("module", "settings", "named"),
    [
        ("subscriber", {"HANDLER": "examples.nowhere:handle"}, "HANDLER"),
        ("subscriber", {**SHARED, "TASK_FUNCTION": "builtins:print.x"}, "TASK_FUNCTION"),
        ("subscriber", {**SINK, "SINK_ROW_MAPPER": "json:dumps.nope"}, "SINK_ROW_MAPPER"),
        ("publisher", {"PUBLISHER_SOURCE": "random:random"}, "PUBLISHER_SOURCE"),
    ],
)
def test_a_bad_path_stops_the_service_at_start_up_with_exit_status_2(
    module: str, settings: dict[str, str], named: str
) -> None:
    # The real entry point, as the container runs it: no Pub/Sub is reached before this.
    env = clean_env(**{**EMULATOR, **settings})
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"configuration error: {named}=" in result.stdout
