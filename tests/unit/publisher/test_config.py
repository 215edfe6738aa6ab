import math

import pytest

from common.config import ConfigError
from publisher.config import PublisherConfig

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


def test_publisher_mode() -> None:
    assert PublisherConfig.from_env(EMULATOR).mode == "channels"
    assert PublisherConfig.from_env({**EMULATOR, "PUBLISHER_MODE": "TASKS"}).mode == "tasks"
    with pytest.raises(
        ConfigError, match=r"^PUBLISHER_MODE must be one of channels, tasks, readings"
    ):
        PublisherConfig.from_env({**EMULATOR, "PUBLISHER_MODE": "news"})
