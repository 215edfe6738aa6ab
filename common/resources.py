"""The topics and subscriptions the stack owns, declared as the client's typed objects.
Pure: no I/O (``common.provision`` ensures them).

Two kinds of subscription:
- **owned** by one process (a fan-out replica, a dashboard): named after it, labelled
  with it, in the replicas' project (``REPLICA_SUBSCRIPTIONS_PROJECT_ID``), expiring
  after ``OWNED_TTL`` without a subscriber in case the process dies without deleting it;
- **durable**, shared by a pool (the work queue, the sink, the dead letters): no process
  deletes it and it never expires, so messages wait in it while none runs.

``drift`` compares a declaration with what Pub/Sub holds: what can be updated to match,
and what cannot (a subscription on another topic, or with a filter); ``topic_drift`` does
the same for a topic's message retention, which a topic declares as a minimum: the
window a replica replays on joining (``REPLAY_SECONDS``) must be retained.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from google.pubsub_v1 import types

from common.config import MAX_REPLAY_SECONDS, PubSubConfig

MAX_SUBSCRIPTION_ID_LENGTH = 255
MAX_LABEL_LENGTH = 63
# A Kubernetes pod name is at most 63 characters in practice (a DNS label); longer
# identities are cut, leaving the topic ID most of a subscription ID's 255.
MAX_REPLICA_LENGTH = 100
APP_LABEL = "pubsub-fanout"
# The shortest expiration Pub/Sub allows: a safety net for an owned subscription whose
# process died without deleting it.
OWNED_TTL = timedelta(days=1)
# Fields Pub/Sub cannot change on an existing subscription, and those it can.
IMMUTABLE = ("topic", "filter", "enable_message_ordering")
UPDATABLE = (
    "ack_deadline_seconds",
    "dead_letter_policy",
    "retry_policy",
    "expiration_policy",
    "push_config",
    "enable_exactly_once_delivery",
)


@dataclass(frozen=True)
class Plan:
    """What a service owns: topics it creates if missing, and subscriptions it creates if
    missing (waiting for a topic another service creates) and keeps as declared."""

    topics: tuple[types.Topic, ...] = ()
    subscriptions: tuple[types.Subscription, ...] = ()

    def __add__(self, other: Plan) -> Plan:
        return Plan(self.topics + other.topics, self.subscriptions + other.subscriptions)


def host_label(host: str) -> str:
    """A host name as a label value: lowercase letters, digits and dashes, at most 63."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    return cleaned[:MAX_LABEL_LENGTH].rstrip("-") or "unknown-host"


def random_suffix() -> str:
    """Tells apart two processes with one host name (a restarted container, two hosts
    cloned from one image)."""
    return secrets.token_hex(4)


def replica_subscription_id(topic_id: str, replica: str) -> str:
    """``<topic>-<replica>``: a fan-out replica's own subscription, the same across its
    restarts. Characters a subscription ID cannot hold become dashes; valid whenever the
    topic ID is, as it starts with it."""
    tail = "-" + (re.sub(r"[^A-Za-z0-9_.~+%-]+", "-", replica)[:MAX_REPLICA_LENGTH] or "replica")
    return topic_id[: MAX_SUBSCRIPTION_ID_LENGTH - len(tail)] + tail


def subscription_id(topic_id: str, host: str, suffix: str) -> str:
    """``<topic>-<host>-<suffix>``: valid whenever the topic ID is, as it starts with it."""
    tail = f"-{host_label(host)}-{suffix}"
    return topic_id[: MAX_SUBSCRIPTION_ID_LENGTH - len(tail)] + tail


# Topic message retention Pub/Sub accepts: 10 minutes to 31 days.
# https://cloud.google.com/pubsub/docs/topic-message-retention
MIN_TOPIC_RETENTION = timedelta(minutes=10)
MAX_TOPIC_RETENTION = timedelta(seconds=MAX_REPLAY_SECONDS)


def retention_covering(seconds: int) -> timedelta | None:
    """The topic retention that keeps a replay window of ``seconds`` (0: none needed,
    None); at least Pub/Sub's minimum, at most its maximum."""
    if seconds <= 0:
        return None
    return min(max(timedelta(seconds=seconds), MIN_TOPIC_RETENTION), MAX_TOPIC_RETENTION)


def topic(path: str, retention: timedelta | None = None) -> types.Topic:
    """A topic; ``retention``: how long it keeps every message, acked or not, so that a
    subscription can be sought back within it (None: Pub/Sub's default, none)."""
    declared = types.Topic(name=path)
    if retention is not None:
        declared.message_retention_duration = retention
    return declared


def topic_drift(declared: types.Topic, existing: types.Topic) -> list[str]:
    """The fields of ``existing`` to update to cover ``declared``: its message retention,
    when declared and longer than what the topic keeps (a longer one covers it too)."""
    want, have = types.Topic.pb(declared), types.Topic.pb(existing)
    wanted = want.message_retention_duration.ToTimedelta()
    if want.HasField("message_retention_duration") and (
        have.message_retention_duration.ToTimedelta() < wanted
    ):
        return ["message_retention_duration"]
    return []


def dead_letter_policy(topic_path: str, max_delivery_attempts: int) -> types.DeadLetterPolicy:
    """After ``max_delivery_attempts`` (5 to 100), Pub/Sub moves a message to the topic."""
    return types.DeadLetterPolicy(
        dead_letter_topic=topic_path, max_delivery_attempts=max_delivery_attempts
    )


def owned(
    pubsub: PubSubConfig,
    subscription: str,
    topic_id: str,
    *,
    role: str,
    host: str,
    ack_deadline_seconds: int = 10,
    dead_letter: types.DeadLetterPolicy | None = None,
) -> types.Subscription:
    """A subscription one process owns, in the replicas' project, on a topic of the main
    one (Pub/Sub lets a subscription live in another project than its topic)."""
    return types.Subscription(
        name=pubsub.owned_subscription_path(subscription),
        topic=pubsub.topic_path_of(topic_id),
        labels={"app": APP_LABEL, "role": role, "host": host_label(host)},
        expiration_policy=types.ExpirationPolicy(ttl=OWNED_TTL),
        retry_policy=retry_policy(pubsub),
        ack_deadline_seconds=ack_deadline_seconds,
        dead_letter_policy=dead_letter,
    )


def durable(
    pubsub: PubSubConfig,
    subscription: str,
    topic_id: str,
    *,
    role: str,
    ack_deadline_seconds: int = 10,
    dead_letter: types.DeadLetterPolicy | None = None,
) -> types.Subscription:
    """A subscription a pool of replicas shares; it never expires (an empty policy)."""
    return types.Subscription(
        name=pubsub.subscription_path(subscription),
        topic=pubsub.topic_path_of(topic_id),
        labels={"app": APP_LABEL, "role": role},
        expiration_policy=types.ExpirationPolicy(),
        retry_policy=retry_policy(pubsub),
        ack_deadline_seconds=ack_deadline_seconds,
        dead_letter_policy=dead_letter,
    )


def retry_policy(pubsub: PubSubConfig) -> types.RetryPolicy:
    """How long Pub/Sub waits before redelivering a nacked message (RETRY_*_SECONDS)."""
    policy = pubsub.retry_policy
    return types.RetryPolicy(
        minimum_backoff=timedelta(seconds=policy.minimum_seconds),
        maximum_backoff=timedelta(seconds=policy.maximum_seconds),
    )


def drift(
    declared: types.Subscription, existing: types.Subscription
) -> tuple[list[str], list[str]]:
    """The fields in which ``existing`` differs from ``declared``: (those an update can
    change, those it cannot). Compared as protobuf: an absent field equals its default."""
    want, have = types.Subscription.pb(declared), types.Subscription.pb(existing)
    differs = [f for f in (*UPDATABLE, *IMMUTABLE) if getattr(want, f) != getattr(have, f)]
    return [f for f in differs if f in UPDATABLE], [f for f in differs if f in IMMUTABLE]
