"""Seeking a subscription: replaying what its topic retains, from a time or a snapshot.

A seek to a time marks the messages the subscription can reach that were published
before it as acknowledged, and those after it as not: Pub/Sub delivers them again.
What it can reach: on Google Cloud, the topic's retained messages
(``message_retention_duration``, ``common.resources.topic``; a subscription can then be
sought back to before it existed), else only what the subscription itself retains.
The emulator (0.8.20, measured: docs/operations.md, "Late joiners and replay") behaves
otherwise: a subscription created on a topic that retains messages receives them at
once, and with that retention a seek reaches every message, acked or not; without it,
none that was acked.

A replayed message is a redelivery to the handler: the same message ID, again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.cloud import pubsub_v1

from common.outage import ADMIN_CALL_TIMEOUT_SECONDS


def since(seconds: float, now: datetime | None = None) -> datetime:
    """The moment ``seconds`` before ``now`` (default: this machine's clock, in UTC)."""
    return (now or datetime.now(UTC)) - timedelta(seconds=seconds)


def seek_to_time(
    subscriber: pubsub_v1.SubscriberClient,
    subscription: str,
    moment: datetime,
    timeout: float = ADMIN_CALL_TIMEOUT_SECONDS,
) -> None:
    """Seek the subscription at path ``subscription`` to ``moment`` (timezone-aware).
    Needs ``pubsub.subscriptions.consume`` on it; raises ``GoogleAPICallError``."""
    subscriber.seek(
        request={"subscription": subscription, "time": moment}, retry=None, timeout=timeout
    )


def seek_to_snapshot(
    subscriber: pubsub_v1.SubscriberClient,
    subscription: str,
    snapshot: str,
    timeout: float = ADMIN_CALL_TIMEOUT_SECONDS,
) -> None:
    """Seek the subscription to the snapshot at path ``snapshot`` (of the same topic):
    its messages become unacknowledged as they were when the snapshot was taken. Needs
    ``pubsub.snapshots.seek`` too; raises ``GoogleAPICallError``."""
    subscriber.seek(
        request={"subscription": subscription, "snapshot": snapshot}, retry=None, timeout=timeout
    )
