import socket

import pytest

from common.config import ConfigError
from common.resources import replica_subscription_id
from subscriber.config import load
from subscriber.fanout.config import PULL_THREADS, FanoutConfig


def test_receipts_topic_defaults_and_can_be_turned_off() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert FanoutConfig.from_env(base).receipts_topic_id == "channel-receipts"
    named = FanoutConfig.from_env({**base, "RECEIPTS_TOPIC": "seen"})
    assert named.receipts_topic_id == "seen"
    assert FanoutConfig.from_env({**base, "RECEIPTS": "off"}).receipts_topic_id is None
    shared = load({**base, "SUBSCRIPTION_MODE": "shared"})
    assert not hasattr(shared, "receipts_topic_id"), "work queue workers send no receipts"


def test_replica_identity_defaults_to_the_host_name() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert FanoutConfig.from_env(base).replica_id == socket.gethostname()
    assert FanoutConfig.from_env({**base, "REPLICA_ID": "subscriber-7d9f-x2"}).replica_id == (
        "subscriber-7d9f-x2"
    )
    first, second = (FanoutConfig.from_env({**base, "REPLICA_ID": "random"}) for _ in range(2))
    assert first.replica_id != second.replica_id, "random: a new identity per process"
    for bad in ("-lead", "a b", "x" * 101, "ü"):
        with pytest.raises(ConfigError, match=r"^REPLICA_ID must be"):
            FanoutConfig.from_env({**base, "REPLICA_ID": bad})


def test_replica_subscription_is_named_after_the_identity() -> None:
    assert replica_subscription_id("channel", "3f2a9c1b7d0e") == "channel-3f2a9c1b7d0e"
    assert replica_subscription_id("channel", "Pod.Name_1") == "channel-Pod.Name_1"
    assert replica_subscription_id("t" * 255, "r" * 100).endswith("-" + "r" * 100)
    assert len(replica_subscription_id("t" * 255, "r" * 100)) == 255


def test_pull_threads_default_and_bounds() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert FanoutConfig.from_env(base).pull_threads == PULL_THREADS
    assert FanoutConfig.from_env({**base, "PULL_THREADS": "8"}).pull_threads == 8
    for bad in ("0", "33", "two"):
        with pytest.raises(ConfigError, match="PULL_THREADS"):
            FanoutConfig.from_env({**base, "PULL_THREADS": bad})


def test_replay_seconds_is_off_by_default_and_names_itself_when_bad() -> None:
    base = {"PUBSUB_EMULATOR_HOST": "localhost:8085"}
    assert FanoutConfig.from_env(base).replay_seconds == 0
    assert FanoutConfig.from_env({**base, "REPLAY_SECONDS": "3600"}).replay_seconds == 3600
    for bad in ("-1", "1.5", "an hour", str(31 * 86_400 + 1)):
        with pytest.raises(ConfigError, match=r"^REPLAY_SECONDS must be"):
            FanoutConfig.from_env({**base, "REPLAY_SECONDS": bad})
