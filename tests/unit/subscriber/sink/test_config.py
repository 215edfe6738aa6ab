"""The sink's settings, its database's and password file's included."""

from pathlib import Path

import pytest

from common.config import ConfigError
from subscriber.config import load
from subscriber.sink.config import SinkConfig

SINK = {
    "PUBSUB_EMULATOR_HOST": "emulator:8085",
    "PUBSUB_TOPIC": "readings",
    "SUBSCRIPTION_MODE": "sink",
}


def test_sink_defaults(tmp_path: Path) -> None:
    config = load(SINK)
    assert isinstance(config, SinkConfig)
    assert config.subscription_id == "readings-sink"
    assert config.batch_size == 100
    assert config.ack_deadline_seconds == 60
    database = config.database
    assert database.describe() == "sink@localhost:5432/readings"
    assert database.password is None
    assert not isinstance(load({**SINK, "SUBSCRIPTION_MODE": "shared"}), SinkConfig)


def test_password_comes_from_a_file_and_stays_out_of_repr(tmp_path: Path) -> None:
    secret = tmp_path / "password.txt"
    secret.write_text("s3cret-demo\n")
    config = SinkConfig.from_env({**SINK, "POSTGRES_PASSWORD_FILE": str(secret)})
    assert config.database.password == "s3cret-demo"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"POSTGRES_PORT": "0"}, "POSTGRES_PORT"),
        ({"POSTGRES_PORT": "five"}, "POSTGRES_PORT"),
        ({"SINK_BATCH_SIZE": "0"}, "SINK_BATCH_SIZE"),
        ({"SINK_BATCH_SIZE": "1001"}, "SINK_BATCH_SIZE"),
        ({"ACK_DEADLINE_SECONDS": "5"}, "ACK_DEADLINE_SECONDS"),
        ({"DB_RETRY_MAX_SECONDS": "0"}, "DB_RETRY_MAX_SECONDS"),
        ({"DRAIN_SECONDS": "-1"}, "DRAIN_SECONDS"),
        ({"POSTGRES_CONNECT_TIMEOUT_SECONDS": "1"}, "POSTGRES_CONNECT_TIMEOUT_SECONDS"),
        ({"SUBSCRIPTION_ID": "9lives"}, "SUBSCRIPTION_ID"),
        ({"POSTGRES_PASSWORD_FILE": "/nonexistent/password"}, "POSTGRES_PASSWORD_FILE"),
        ({"SUBSCRIPTION_MODE": "sinks"}, "SUBSCRIPTION_MODE"),
    ],
)
def test_bad_sink_settings_name_the_variable(settings: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}[ =]"):
        load({**SINK, **settings})


def test_an_empty_password_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"^POSTGRES_PASSWORD_FILE=.* is empty"):
        load({**SINK, "POSTGRES_PASSWORD_FILE": str(empty)})
