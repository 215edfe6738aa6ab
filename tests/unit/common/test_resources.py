import re
from datetime import timedelta

import pytest
from google.pubsub_v1 import types

from common.config import PubSubConfig
from common.resources import (
    OWNED_TTL,
    dead_letter_policy,
    drift,
    durable,
    host_label,
    owned,
    random_suffix,
    retention_covering,
    subscription_id,
    topic,
    topic_drift,
)
from subscriber.sink.config import SinkConfig
from subscriber.sink.sink import plan as sink_plan
from subscriber.workqueue.config import WorkQueueConfig
from subscriber.workqueue.worker import plan as work_queue_plan

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


PUBSUB = PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "emulator:8085"})


def test_owned_and_durable_subscriptions() -> None:
    mine = owned(PUBSUB, "channel-h-1", "channel", role="fanout-subscriber", host="Some.Host")
    labels = dict(mine.labels)
    assert labels == {"app": "pubsub-fanout", "role": "fanout-subscriber", "host": "some-host"}
    assert all(LABEL_VALUE.fullmatch(value) for value in labels.values())
    assert mine.name == "projects/local-project/subscriptions/channel-h-1"
    assert mine.expiration_policy.ttl == OWNED_TTL
    assert mine.retry_policy.minimum_backoff.total_seconds() == 10
    shared = durable(PUBSUB, "tasks-workers", "tasks", role="work-queue")
    assert shared.topic == "projects/local-project/topics/tasks"
    assert dict(shared.labels) == {"app": "pubsub-fanout", "role": "work-queue"}
    assert "expiration_policy" in shared, "an empty policy: never expires"
    assert not shared.expiration_policy.ttl


def test_owned_subscriptions_may_live_in_a_project_of_their_own() -> None:
    pubsub = PubSubConfig.from_env(
        {"GCP_PROJECT_ID": "main-project", "REPLICA_SUBSCRIPTIONS_PROJECT_ID": "replica-project"}
    )
    mine = owned(pubsub, "channel-h", "channel", role="fanout-subscriber", host="h")
    assert mine.name == "projects/replica-project/subscriptions/channel-h"
    assert mine.topic == "projects/main-project/topics/channel"
    shared = durable(pubsub, "tasks-workers", "tasks", role="work-queue")
    assert shared.name == "projects/main-project/subscriptions/tasks-workers"


def test_the_sink_declares_a_durable_subscription_without_dead_lettering() -> None:
    env = {"PUBSUB_EMULATOR_HOST": "emulator:8085", "PUBSUB_TOPIC": "readings"}
    plan = sink_plan(SinkConfig.from_env({**env, "ACK_DEADLINE_SECONDS": "30"}))
    assert [t.name for t in plan.topics] == ["projects/local-project/topics/readings"]
    (sink,) = plan.subscriptions
    assert sink.name == "projects/local-project/subscriptions/readings-sink"
    assert sink.ack_deadline_seconds == 30
    assert sink.labels["role"] == "sink"
    assert "dead_letter_policy" not in sink
    work_queue = work_queue_plan(WorkQueueConfig.from_env(env)).subscriptions[-1]
    assert work_queue.dead_letter_policy.max_delivery_attempts == 5
    assert work_queue.dead_letter_policy.dead_letter_topic.endswith("/readings-dead-letter")


def test_drift_names_what_an_update_can_mend_and_what_it_cannot() -> None:
    declared = durable(
        PUBSUB,
        "tasks-workers",
        "tasks",
        role="work-queue",
        ack_deadline_seconds=30,
        dead_letter=dead_letter_policy("projects/local-project/topics/tasks-dead-letter", 5),
    )
    assert drift(declared, declared) == ([], [])
    existing = types.Subscription(declared)
    existing.ack_deadline_seconds = 600
    existing.dead_letter_policy = None  # type: ignore[assignment]
    existing.labels["extra"] = "kept"  # labels are not compared
    assert drift(declared, existing) == (["ack_deadline_seconds", "dead_letter_policy"], [])
    elsewhere = types.Subscription(declared, topic="_deleted-topic_", filter='attributes.a="b"')
    assert drift(declared, elsewhere) == ([], ["topic", "filter"])


def test_an_absent_policy_equals_an_empty_one() -> None:
    """The emulator reports no expiration_policy for a subscription made without one;
    a durable subscription declares an empty one (never expires): no update."""
    declared = durable(PUBSUB, "s-1", "t-1", role="sink")
    existing = types.Subscription(declared)
    existing.expiration_policy = None  # type: ignore[assignment]
    assert drift(declared, existing) == ([], [])


@pytest.mark.parametrize(
    ("seconds", "retention"),
    [
        (0, None),
        (60, timedelta(minutes=10)),
        (3600, timedelta(hours=1)),
        (40 * 86_400, timedelta(days=31)),
    ],
)
def test_topic_retention_covers_the_replay_window_within_pubsubs_range(
    seconds: int, retention: timedelta | None
) -> None:
    assert retention_covering(seconds) == retention


def test_a_topic_retaining_less_than_declared_drifts_and_one_retaining_more_does_not() -> None:
    declared = topic("projects/p/topics/t", timedelta(hours=1))
    assert types.Topic.pb(declared).message_retention_duration.seconds == 3600
    shorter = types.Topic(
        name="projects/p/topics/t", message_retention_duration=timedelta(minutes=10)
    )
    longer = types.Topic(name="projects/p/topics/t", message_retention_duration=timedelta(days=2))
    assert topic_drift(declared, shorter) == ["message_retention_duration"]
    assert topic_drift(declared, types.Topic(name="projects/p/topics/t")) == [
        "message_retention_duration"
    ]
    assert topic_drift(declared, longer) == []
    # A topic declared without retention leaves whatever the topic has alone.
    assert topic_drift(topic("projects/p/topics/t"), longer) == []
