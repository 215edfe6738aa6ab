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


CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_roles_and_tls_settings(tmp_path: Path) -> None:
    owner = tmp_path / "owner.txt"
    owner.write_text("owner-secret\n")
    root = tmp_path / "root.crt"
    root.write_text(CERTIFICATE)
    config = SinkConfig.from_env(
        {
            **SINK,
            "POSTGRES_MIGRATION_USER": "sink_owner",
            "POSTGRES_MIGRATION_PASSWORD_FILE": str(owner),
            "POSTGRES_SSLMODE": "verify-full",
            "POSTGRES_SSLROOTCERT": str(root),
        }
    )
    database = config.database
    assert (database.migrates_as, database.migration_password) == ("sink_owner", "owner-secret")
    assert (database.sslmode, database.sslrootcert) == ("verify-full", str(root))
    assert "owner-secret" not in repr(config)
    defaults = SinkConfig.from_env(SINK).database
    assert (defaults.migrates_as, defaults.sslmode, defaults.sslrootcert) == (
        "sink",
        "prefer",
        None,
    )


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"POSTGRES_SSLMODE": "verify"}, "POSTGRES_SSLMODE"),
        ({"POSTGRES_SSLMODE": "verify-full"}, "POSTGRES_SSLMODE=verify-full needs"),
        ({"POSTGRES_SSLMODE": "verify-ca"}, "POSTGRES_SSLMODE=verify-ca needs"),
        ({"POSTGRES_SSLROOTCERT": "/nonexistent/root.crt"}, "POSTGRES_SSLROOTCERT"),
        ({"POSTGRES_SSLROOTCERT": "/etc/hostname"}, "POSTGRES_SSLROOTCERT"),
        ({"POSTGRES_MIGRATION_PASSWORD_FILE": "/etc/hostname"}, "POSTGRES_MIGRATION_PASSWORD_FILE"),
        (
            {"POSTGRES_MIGRATION_USER": "o", "POSTGRES_MIGRATION_PASSWORD_FILE": "/nonexistent"},
            "POSTGRES_MIGRATION_PASSWORD_FILE",
        ),
    ],
)
def test_bad_role_and_tls_settings_name_the_variable(
    settings: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}"):
        load({**SINK, **settings})
