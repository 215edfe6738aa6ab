"""What the stack's subscriptions look like: names, labels, requests. Pure: no I/O.

Two kinds:
- **owned** by one process (a fan-out replica, a dashboard): named after its host, labelled
  with it, expiring after ``SUBSCRIPTION_TTL`` without a subscriber in case the process
  dies without deleting it;
- **durable**, shared by a pool of replicas (the work queue, the sink, the dead letters):
  no process deletes it and it never expires, so messages wait in it while none runs.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from common.config import PubSubConfig

MAX_SUBSCRIPTION_ID_LENGTH = 255
MAX_LABEL_LENGTH = 63
# A Kubernetes pod name is at most 63 characters in practice (a DNS label); longer
# identities are cut, leaving the topic ID most of a subscription ID's 255.
MAX_REPLICA_LENGTH = 100
APP_LABEL = "pubsub-fanout"
# The shortest expiration Pub/Sub allows: a safety net for an owned subscription whose
# process died without deleting it.
SUBSCRIPTION_TTL = timedelta(days=1)


def host_label(host: str) -> str:
    """A host name as a label value: lowercase letters, digits and dashes, at most 63."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    return cleaned[:MAX_LABEL_LENGTH].rstrip("-") or "unknown-host"


def random_suffix() -> str:
    """Tells apart two replicas with one host name (a restarted container, two hosts
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


def owned_request(
    pubsub: PubSubConfig, subscription: str, topic_id: str, *, role: str, host: str
) -> dict[str, Any]:
    """A ``create_subscription`` request for a subscription one process owns, in the
    replicas' project (``REPLICA_SUBSCRIPTIONS_PROJECT_ID``) on a topic in the main one:
    Pub/Sub lets a subscription live in another project than its topic."""
    return {
        "name": pubsub.owned_subscription_path(subscription),
        "topic": pubsub.topic_path_of(topic_id),
        "labels": {"app": APP_LABEL, "role": role, "host": host_label(host)},
        "expiration_policy": {"ttl": SUBSCRIPTION_TTL},
        "retry_policy": pubsub.retry_policy.request(),
    }


def durable_request(
    pubsub: PubSubConfig, subscription: str, topic_id: str, *, role: str
) -> dict[str, Any]:
    """A ``create_subscription`` request for a subscription a pool of replicas shares."""
    return {
        "name": pubsub.subscription_path(subscription),
        "topic": pubsub.topic_path_of(topic_id),
        "labels": {"app": APP_LABEL, "role": role},
        "expiration_policy": {},  # no TTL: never expires
        "retry_policy": pubsub.retry_policy.request(),
    }
