"""SUBSCRIPTION_MODE picks one complete settings object per mode."""

import pytest

from common.config import ConfigError
from subscriber.config import load
from subscriber.fanout.config import FanoutConfig
from subscriber.workqueue.config import WorkQueueConfig

EMULATOR = {"PUBSUB_EMULATOR_HOST": "emulator:8085"}


def test_subscriber_defaults_and_bounds() -> None:
    config = load({**EMULATOR, "PUBSUB_TOPIC": "tv-guide"})
    assert isinstance(config, FanoutConfig)
    assert config.dead_letter.topic_id == "tv-guide-dead-letter"
    assert config.dead_letter.max_delivery_attempts == 5
    assert config.flow_control.max_messages == 1000
    assert config.flow_control.max_bytes == 100 * 1024 * 1024
    assert config.flow_control.max_lease_seconds == 3600
    for name, raw in [
        ("MAX_DELIVERY_ATTEMPTS", "4"),
        ("MAX_DELIVERY_ATTEMPTS", "101"),
        ("MAX_DELIVERY_ATTEMPTS", "5.5"),
        ("SUBSCRIBER_MAX_MESSAGES", "0"),
        ("DEAD_LETTER_TOPIC", "9lives"),
    ]:
        with pytest.raises(ConfigError, match=f"^{name} "):
            load({**EMULATOR, name: raw})


def test_shared_mode_settings() -> None:
    assert isinstance(load(EMULATOR), FanoutConfig)
    config = load(
        {
            **EMULATOR,
            "PUBSUB_TOPIC": "tasks",
            "SUBSCRIPTION_MODE": "Shared",
            "WORKER_PROCESSES": "3",
        }
    )
    assert isinstance(config, WorkQueueConfig)
    assert config.subscription_id == "tasks-workers"
    assert config.worker_processes == 3
    assert config.task_deadline_seconds == 60
    assert config.ack_deadline_seconds == 30
    assert config.drain_seconds == 10
    assert config.dead_letter.topic_id == "tasks-dead-letter"
    default = load({**EMULATOR, "SUBSCRIPTION_MODE": "shared"})
    assert isinstance(default, WorkQueueConfig)
    assert default.worker_processes >= 1


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SUBSCRIPTION_MODE", "broadcast"),
        ("SUBSCRIPTION_ID", "1-queue"),
        ("WORKER_PROCESSES", "0"),
        ("TASK_DEADLINE_SECONDS", "0.5"),
        ("ACK_DEADLINE_SECONDS", "9"),
        ("ACK_DEADLINE_SECONDS", "601"),
        ("DRAIN_SECONDS", "-1"),
    ],
)
def test_shared_mode_rejects(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} "):
        load({**EMULATOR, "SUBSCRIPTION_MODE": "shared", name: raw})
