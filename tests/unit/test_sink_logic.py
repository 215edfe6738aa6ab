"""The sink's pure parts: its settings, how a batch splits into rows, migration order."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.config import ConfigError
from common.readings import Reading
from subscriber.config import SubscriberConfig
from subscriber.lifecycle import shared_subscription_request, sink_subscription_request
from subscriber.rows import Incoming, ReadingRow, refused, split
from subscriber.schema import MigrationError, load, ordered

SINK = {
    "PUBSUB_EMULATOR_HOST": "emulator:8085",
    "PUBSUB_TOPIC": "readings",
    "SUBSCRIPTION_MODE": "sink",
}
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def test_sink_defaults(tmp_path: Path) -> None:
    config = SubscriberConfig.from_env(SINK)
    assert config.work_queue is None
    assert config.sink is not None
    assert config.sink.subscription_id == "readings-sink"
    assert config.sink.batch_size == 100
    assert config.sink.ack_deadline_seconds == 60
    database = config.sink.database
    assert database.describe() == "sink@localhost:5432/readings"
    assert database.password is None
    assert SubscriberConfig.from_env({**SINK, "SUBSCRIPTION_MODE": "shared"}).sink is None


def test_password_comes_from_a_file_and_stays_out_of_repr(tmp_path: Path) -> None:
    secret = tmp_path / "password.txt"
    secret.write_text("s3cret-demo\n")
    config = SubscriberConfig.from_env({**SINK, "POSTGRES_PASSWORD_FILE": str(secret)})
    assert config.sink is not None
    assert config.sink.database.password == "s3cret-demo"
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
        SubscriberConfig.from_env({**SINK, **settings})


def test_an_empty_password_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"^POSTGRES_PASSWORD_FILE=.* is empty"):
        SubscriberConfig.from_env({**SINK, "POSTGRES_PASSWORD_FILE": str(empty)})


def test_sink_subscription_is_durable_without_dead_lettering() -> None:
    config = SubscriberConfig.from_env({**SINK, "ACK_DEADLINE_SECONDS": "30"})
    request = sink_subscription_request(config, "projects/p/subscriptions/readings-sink")
    assert request["topic"] == "projects/local-project/topics/readings"
    assert request["expiration_policy"] == {}, "never expires"
    assert request["ack_deadline_seconds"] == 30
    assert request["labels"]["role"] == "sink"
    assert "dead_letter_policy" not in request
    shared = SubscriberConfig.from_env({**SINK, "SUBSCRIPTION_MODE": "shared"})
    work_queue = shared_subscription_request(shared, "projects/p/subscriptions/q")
    assert work_queue["dead_letter_policy"]["max_delivery_attempts"] == 5


def incoming(message_id: str, data: bytes) -> Incoming:
    return Incoming(message_id, data, {"publisher": "p1"}, NOW, NOW)


def test_a_batch_splits_into_one_row_per_message() -> None:
    good = Reading("kitchen", "humidity", 44.5, "%", NOW).encode()[0]
    batch = [
        incoming("1", good),
        incoming("2", b"not json"),
        incoming("3", b'{"hello": "world"}'),
        incoming("4", good.replace(b"44.5", b"144.5")),
        incoming("5", good),
    ]
    rows = split(batch)
    assert [row.message.message_id for row in rows.readings] == ["1", "5"]
    assert rows.readings[0].reading.value == 44.5
    assert rows.readings[0].payload == good.decode()
    reasons = {row.message.message_id: row.reason for row in rows.rejects}
    assert set(reasons) == {"2", "3", "4"}
    assert reasons["2"].startswith("not UTF-8 JSON")
    assert reasons["3"].startswith("not a reading: missing device")
    assert "out of range for humidity" in reasons["4"]
    assert len(rows) == len(batch)
    assert split([]).readings == []


def test_rows_the_database_refuses_become_rejects() -> None:
    data = Reading("kitchen", "co2", 600, "ppm", NOW).encode()[0]
    row = ReadingRow(incoming("7", data), Reading("kitchen", "co2", 600, "ppm", NOW))
    reject = refused(row, "CheckViolation: new row violates a check")
    assert reject.message.data == data
    assert reject.reason == "refused by the database: CheckViolation: new row violates a check"
    bare = reject.without_attributes("UntranslatableCharacter: \\u0000")
    assert not bare.keep_attributes
    assert bare.reason.endswith("; attributes dropped: UntranslatableCharacter: \\u0000")


def test_migrations_apply_in_number_order() -> None:
    names = ["0002_b.sql", "README", "0010_j.sql", "0001_a.sql"] + [
        f"{n:04d}_m.sql" for n in range(3, 10)
    ]
    assert [version for version, _ in ordered(names)] == list(range(1, 11))
    assert ordered(names)[-1] == (10, "0010_j.sql")


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["0001_a.sql", "0001_b.sql"], "share version 1"),
        (["0001_a.sql", "0003_c.sql"], "no gap"),
        (["0002_b.sql"], "no gap"),
        (["1_a.sql"], "NNNN_what_it_does.sql"),
        (["0001_Add Table.sql"], "NNNN_what_it_does.sql"),
    ],
)
def test_a_broken_sequence_of_migrations_is_refused(names: list[str], problem: str) -> None:
    with pytest.raises(MigrationError, match=problem):
        ordered(names)


def test_the_shipped_migrations_load() -> None:
    migrations = load()
    assert migrations[0].version == 1
    assert "CREATE TABLE readings" in migrations[0].sql
    assert "CREATE TABLE rejects" in migrations[0].sql
