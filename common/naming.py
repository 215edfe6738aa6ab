"""Names and labels of the subscriptions a replica or a dashboard owns. Pure: no I/O."""

from __future__ import annotations

import re
import secrets

MAX_SUBSCRIPTION_ID_LENGTH = 255
MAX_LABEL_LENGTH = 63
APP_LABEL = "pubsub-fanout"


def host_label(host: str) -> str:
    """A host name as a label value: lowercase letters, digits and dashes, at most 63."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    return cleaned[:MAX_LABEL_LENGTH].rstrip("-") or "unknown-host"


def random_suffix() -> str:
    """Tells apart two replicas with one host name (a restarted container, two hosts
    cloned from one image)."""
    return secrets.token_hex(4)


def subscription_id(topic_id: str, host: str, suffix: str) -> str:
    """``<topic>-<host>-<suffix>``: valid whenever the topic ID is, as it starts with it."""
    tail = f"-{host_label(host)}-{suffix}"
    return topic_id[: MAX_SUBSCRIPTION_ID_LENGTH - len(tail)] + tail


def subscription_labels(host: str) -> dict[str, str]:
    """Labels that find the stack's subscriptions, and a replica's, in a listing."""
    return {"app": APP_LABEL, "role": "fanout-subscriber", "host": host_label(host)}
