import math
from datetime import timedelta

import pytest

from common.config import ConfigError
from publisher.config import PublisherConfig
from publisher.sources import channel_message, reading_message, task_message

EMULATOR = {"PUBSUB_EMULATOR_HOST": "emulator:8085"}


def test_publisher_interval() -> None:
    assert PublisherConfig.from_env(EMULATOR).publish_interval_seconds == 5.0
    config = PublisherConfig.from_env({**EMULATOR, "PUBLISH_INTERVAL_SECONDS": "0.25"})
    assert config.publish_interval_seconds == 0.25


@pytest.mark.parametrize("raw", ["five", "0", "-1", "nan", "inf", "1e9"])
def test_publisher_interval_rejects(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"^PUBLISH_INTERVAL_SECONDS .*{raw!r}"):
        PublisherConfig.from_env({**EMULATOR, "PUBLISH_INTERVAL_SECONDS": raw})
    assert not math.isnan(PublisherConfig.from_env(EMULATOR).publish_interval_seconds)


def test_configs_are_frozen() -> None:
    config = PublisherConfig.from_env(EMULATOR)
    with pytest.raises(AttributeError):
        config.publish_interval_seconds = 1  # type: ignore[misc]


def test_publisher_mode_names_a_built_in_source() -> None:
    default = PublisherConfig.from_env(EMULATOR)
    assert (default.source_name, default.source) == ("channels", channel_message)
    tasks = PublisherConfig.from_env({**EMULATOR, "PUBLISHER_MODE": "TASKS"})
    assert (tasks.source_name, tasks.source) == ("tasks", task_message)
    with pytest.raises(
        ConfigError, match=r"^PUBLISHER_MODE must be one of channels, tasks, readings"
    ):
        PublisherConfig.from_env({**EMULATOR, "PUBLISHER_MODE": "news"})


def test_publisher_source_names_any_source_by_its_import_path() -> None:
    path = "publisher.sources:reading_message"
    config = PublisherConfig.from_env({**EMULATOR, "PUBLISHER_SOURCE": path})
    assert (config.source_name, config.source) == (path, reading_message)


def test_publisher_source_must_load_and_take_three_arguments() -> None:
    with pytest.raises(ConfigError, match=r"^PUBLISHER_SOURCE='nowhere:f': no module named"):
        PublisherConfig.from_env({**EMULATOR, "PUBLISHER_SOURCE": "nowhere:f"})
    with pytest.raises(ConfigError, match=r"^PUBLISHER_SOURCE='builtins:len': must accept 3"):
        PublisherConfig.from_env({**EMULATOR, "PUBLISHER_SOURCE": "builtins:len"})


def test_publisher_mode_and_source_together_are_ambiguous() -> None:
    settings = {"PUBLISHER_MODE": "tasks", "PUBLISHER_SOURCE": "publisher.sources:task_message"}
    with pytest.raises(ConfigError, match=r"^PUBLISHER_MODE and PUBLISHER_SOURCE are both set"):
        PublisherConfig.from_env({**EMULATOR, **settings})


def test_the_topic_retains_the_replicas_replay_window() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert PublisherConfig.from_env(base).topic_retention is None
    retained = PublisherConfig.from_env({**base, "REPLAY_SECONDS": "3600"}).topic_retention
    assert retained == timedelta(hours=1)
    with pytest.raises(ConfigError, match=r"^REPLAY_SECONDS must be"):
        PublisherConfig.from_env({**base, "REPLAY_SECONDS": "soon"})
