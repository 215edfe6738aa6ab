import re

import pytest

from common.config import PubSubConfig
from common.subscriptions import (
    SUBSCRIPTION_TTL,
    durable_request,
    host_label,
    owned_request,
    random_suffix,
    subscription_id,
)

# Pub/Sub's rule for subscription IDs, and Google Cloud's for label values.
SUBSCRIPTION_ID = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


@pytest.mark.parametrize(
    ("host", "label"),
    [
        ("3f2a9c1b7d0e", "3f2a9c1b7d0e"),
        ("Worker-7.example.COM", "worker-7-example-com"),
        ("--odd__host--", "odd-host"),
        ("", "unknown-host"),
        ("ü", "unknown-host"),
        ("h" * 80, "h" * 63),
        ("a" * 62 + ".b", "a" * 62),
    ],
)
def test_host_label(host: str, label: str) -> None:
    assert host_label(host) == label
    assert LABEL_VALUE.fullmatch(label)


def test_subscription_id_names_topic_host_and_suffix() -> None:
    assert subscription_id("channel", "3f2a9c1b7d0e", "a1b2c3d4") == "channel-3f2a9c1b7d0e-a1b2c3d4"


@pytest.mark.parametrize("topic", ["abc", "channel", "t" * 255])
@pytest.mark.parametrize("host", ["", "0abc", "x" * 300, "Host.Name"])
def test_subscription_id_is_always_valid(topic: str, host: str) -> None:
    name = subscription_id(topic, host, random_suffix())
    assert SUBSCRIPTION_ID.fullmatch(name), name


def test_suffixes_differ() -> None:
    assert len({random_suffix() for _ in range(100)}) == 100


def test_owned_and_durable_requests() -> None:
    pubsub = PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "emulator:8085"})
    owned = owned_request(
        pubsub, "channel-h-1", "channel", role="fanout-subscriber", host="Some.Host"
    )
    labels = owned["labels"]
    assert labels == {"app": "pubsub-fanout", "role": "fanout-subscriber", "host": "some-host"}
    assert all(LABEL_VALUE.fullmatch(value) for value in labels.values())
    assert owned["name"] == "projects/local-project/subscriptions/channel-h-1"
    assert owned["expiration_policy"] == {"ttl": SUBSCRIPTION_TTL}
    durable = durable_request(pubsub, "tasks-workers", "tasks", role="work-queue")
    assert durable["topic"] == "projects/local-project/topics/tasks"
    assert durable["labels"] == {"app": "pubsub-fanout", "role": "work-queue"}
    assert durable["expiration_policy"] == {}, "never expires"


def test_owned_subscriptions_may_live_in_a_project_of_their_own() -> None:
    pubsub = PubSubConfig.from_env(
        {"GCP_PROJECT_ID": "main-project", "REPLICA_SUBSCRIPTIONS_PROJECT_ID": "replica-project"}
    )
    owned = owned_request(pubsub, "channel-h", "channel", role="fanout-subscriber", host="h")
    assert owned["name"] == "projects/replica-project/subscriptions/channel-h"
    assert owned["topic"] == "projects/main-project/topics/channel"
    durable = durable_request(pubsub, "tasks-workers", "tasks", role="work-queue")
    assert durable["name"] == "projects/main-project/subscriptions/tasks-workers"
