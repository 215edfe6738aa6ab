from pathlib import Path

import pytest

from common.config import (
    EMULATOR_DEFAULT_PROJECT,
    ConfigError,
    PubSubConfig,
    read_float,
    read_int,
)

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
        (
            {**EMULATOR, "REPLICA_SUBSCRIPTIONS_PROJECT_ID": "Other"},
            "REPLICA_SUBSCRIPTIONS_PROJECT_ID",
        ),
    ],
)
def test_bad_values_fail_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} "):
        PubSubConfig.from_env(env)


def test_a_bound_is_said_as_it_may_be_typed() -> None:
    # Not :g's "1.04858e+06 and 1.71799e+10": six digits, and a form nobody types.
    with pytest.raises(ConfigError, match=r"^N must be between 1048576 and 17179869184, got '5'$"):
        read_int({"N": "5"}, "N", 2**20, minimum=2**20, maximum=16 * 2**30)
    with pytest.raises(ConfigError, match=r"^S must be between 0\.0001 and 2678400, got '-1'$"):
        read_float({"S": "-1"}, "S", 1.0, minimum=0.0001, maximum=2_678_400.0)


def test_accepted_forms() -> None:
    config = PubSubConfig.from_env(
        {"PUBSUB_EMULATOR_HOST": "[::1]:8085", "PUBSUB_TOPIC": "News.v2~x", "LOG_LEVEL": "debug"}
    )
    assert config.emulator_host == "[::1]:8085"
    assert config.topic_id == "News.v2~x"
    assert config.log_level == "DEBUG"


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
