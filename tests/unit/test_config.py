import math
from pathlib import Path

import pytest

from common.config import EMULATOR_DEFAULT_PROJECT, ConfigError, PubSubConfig
from publisher.config import PublisherConfig
from subscriber.config import SubscriberConfig

EMULATOR = {"PUBSUB_EMULATOR_HOST": "emulator:8085"}


def test_emulator_defaults() -> None:
    config = PubSubConfig.from_env(EMULATOR)
    assert config.project_id == EMULATOR_DEFAULT_PROJECT
    assert config.topic_id == "channel"
    assert config.emulator_host == "emulator:8085"
    assert config.log_level == "INFO"
    assert config.topic_path == "projects/local-project/topics/channel"
    assert config.subscription_path("s-1") == "projects/local-project/subscriptions/s-1"
    assert config.target == "emulator at emulator:8085"


def test_real_pubsub_needs_a_project() -> None:
    with pytest.raises(ConfigError, match="GCP_PROJECT_ID must be set when PUBSUB_EMULATOR_HOST"):
        PubSubConfig.from_env({})
    config = PubSubConfig.from_env({"GCP_PROJECT_ID": "my-project-1", "PUBSUB_TOPIC": "tv-guide"})
    assert config.emulator_host is None
    assert config.target == "Google Cloud Pub/Sub"
    assert config.topic_path == "projects/my-project-1/topics/tv-guide"


def test_blank_values_count_as_unset() -> None:
    config = PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "localhost:8085", "PUBSUB_TOPIC": " "})
    assert config.topic_id == "channel"
    with pytest.raises(ConfigError, match="GCP_PROJECT_ID"):
        PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "  ", "GCP_PROJECT_ID": ""})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PUBSUB_EMULATOR_HOST": "emulator"}, "PUBSUB_EMULATOR_HOST"),
        ({"PUBSUB_EMULATOR_HOST": "emulator:http"}, "PUBSUB_EMULATOR_HOST"),
        ({"PUBSUB_EMULATOR_HOST": "emulator:70000"}, "PUBSUB_EMULATOR_HOST"),
        ({"PUBSUB_EMULATOR_HOST": "http://emulator:8085"}, "PUBSUB_EMULATOR_HOST"),
        ({**EMULATOR, "GCP_PROJECT_ID": "My_Project"}, "GCP_PROJECT_ID"),
        ({**EMULATOR, "GCP_PROJECT_ID": "abc"}, "GCP_PROJECT_ID"),
        ({**EMULATOR, "PUBSUB_TOPIC": "7up"}, "PUBSUB_TOPIC"),
        ({**EMULATOR, "PUBSUB_TOPIC": "tv"}, "PUBSUB_TOPIC"),
        ({**EMULATOR, "PUBSUB_TOPIC": "google-topic"}, "PUBSUB_TOPIC"),
        ({**EMULATOR, "PUBSUB_TOPIC": "a topic"}, "PUBSUB_TOPIC"),
        ({**EMULATOR, "PUBSUB_TOPIC": "t" * 256}, "PUBSUB_TOPIC"),
        ({**EMULATOR, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_values_fail_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} "):
        PubSubConfig.from_env(env)


def test_accepted_forms() -> None:
    config = PubSubConfig.from_env(
        {"PUBSUB_EMULATOR_HOST": "[::1]:8085", "PUBSUB_TOPIC": "News.v2~x", "LOG_LEVEL": "debug"}
    )
    assert config.emulator_host == "[::1]:8085"
    assert config.topic_id == "News.v2~x"
    assert config.log_level == "DEBUG"


def test_publisher_interval() -> None:
    assert PublisherConfig.from_env(EMULATOR).publish_interval_seconds == 5.0
    config = PublisherConfig.from_env({**EMULATOR, "PUBLISH_INTERVAL_SECONDS": "0.25"})
    assert config.publish_interval_seconds == 0.25


@pytest.mark.parametrize("raw", ["five", "0", "-1", "nan", "inf", "1e9"])
def test_publisher_interval_rejects(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"^PUBLISH_INTERVAL_SECONDS .*{raw!r}"):
        PublisherConfig.from_env({**EMULATOR, "PUBLISH_INTERVAL_SECONDS": raw})
    assert not math.isnan(PublisherConfig.from_env(EMULATOR).publish_interval_seconds)


def test_subscriber_defaults_and_bounds() -> None:
    config = SubscriberConfig.from_env({**EMULATOR, "PUBSUB_TOPIC": "tv-guide"})
    assert config.dead_letter_topic_id == "tv-guide-dead-letter"
    assert config.max_delivery_attempts == 5
    assert config.max_outstanding_messages == 100
    for name, raw in [
        ("MAX_DELIVERY_ATTEMPTS", "4"),
        ("MAX_DELIVERY_ATTEMPTS", "101"),
        ("MAX_DELIVERY_ATTEMPTS", "5.5"),
        ("SUBSCRIBER_MAX_MESSAGES", "0"),
        ("DEAD_LETTER_TOPIC", "9lives"),
    ]:
        with pytest.raises(ConfigError, match=f"^{name} "):
            SubscriberConfig.from_env({**EMULATOR, name: raw})


def test_configs_are_frozen() -> None:
    config = PublisherConfig.from_env(EMULATOR)
    with pytest.raises(AttributeError):
        config.publish_interval_seconds = 1  # type: ignore[misc]


def test_a_key_file_must_be_readable(tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    real = {"GCP_PROJECT_ID": "my-project-1", "GOOGLE_APPLICATION_CREDENTIALS": str(key)}
    with pytest.raises(ConfigError, match=r"^GOOGLE_APPLICATION_CREDENTIALS=.*No such file"):
        PubSubConfig.from_env(real)
    key.write_text("{}")
    assert PubSubConfig.from_env(real).key_file == str(key)
    # With the emulator, no key is used, so none is checked.
    config = PubSubConfig.from_env({**EMULATOR, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent"})
    assert config.key_file is None


def test_shared_mode_settings() -> None:
    per_replica = SubscriberConfig.from_env(EMULATOR)
    assert per_replica.work_queue is None
    config = SubscriberConfig.from_env(
        {
            **EMULATOR,
            "PUBSUB_TOPIC": "tasks",
            "SUBSCRIPTION_MODE": "Shared",
            "WORKER_PROCESSES": "3",
        }
    )
    assert config.work_queue is not None
    assert config.work_queue.subscription_id == "tasks-workers"
    assert config.work_queue.worker_processes == 3
    assert config.work_queue.task_deadline_seconds == 60
    assert config.work_queue.ack_deadline_seconds == 30
    assert config.work_queue.drain_seconds == 10
    default = SubscriberConfig.from_env({**EMULATOR, "SUBSCRIPTION_MODE": "shared"}).work_queue
    assert default is not None
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
        SubscriberConfig.from_env({**EMULATOR, "SUBSCRIPTION_MODE": "shared", name: raw})


def test_publisher_mode() -> None:
    assert PublisherConfig.from_env(EMULATOR).mode == "channels"
    assert PublisherConfig.from_env({**EMULATOR, "PUBLISHER_MODE": "TASKS"}).mode == "tasks"
    with pytest.raises(
        ConfigError, match=r"^PUBLISHER_MODE must be one of channels, tasks, readings"
    ):
        PublisherConfig.from_env({**EMULATOR, "PUBLISHER_MODE": "news"})
