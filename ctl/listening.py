"""Listening to the replicas: their receipts, heard on a subscription of the command's own.

Replicas publish receipts to ``<topic>-receipts`` (``subscriber.fanout.receipts``): what
they handled, and ``alive`` when idle for ``ANNOUNCE_SECONDS``. Pub/Sub keeps no record
of who is listening, so this is how the command learns which replicas are live: a
temporary subscription (labelled ``role=ctl``, expiring after a day should the command be
killed), pulled for a few announcement periods, then deleted.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.messages import receipts
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS
from common.resources import owned, random_suffix, subscription_id
from ctl.config import CtlConfig
from subscriber.fanout.receipts import ANNOUNCE_SECONDS

# The role label of the command's own temporary subscriptions.
ROLE = "ctl"
# Long enough for every listening replica to announce itself, and to miss a beat.
LISTEN_SECONDS = 3 * ANNOUNCE_SECONDS
PULL_SECONDS = 2.0


@dataclass(frozen=True)
class Heard:
    """A receipt, when Pub/Sub took it (its publish time) and when it reached us."""

    receipt: receipts.Receipt
    published: datetime
    arrived: datetime


@contextlib.contextmanager
def temporary_subscription(
    subscriber: pubsub_v1.SubscriberClient, config: CtlConfig, topic_id: str
) -> Iterator[str]:
    """A subscription of this command's own on ``topic_id``, deleted on the way out."""
    host = socket.gethostname()
    declared = owned(
        config.pubsub,
        subscription_id(f"{topic_id}-ctl", host, random_suffix()),
        topic_id,
        role=ROLE,
        host=host,
    )
    subscriber.create_subscription(request=declared, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS)
    try:
        yield declared.name
    finally:
        with contextlib.suppress(exceptions.GoogleAPICallError):
            subscriber.delete_subscription(
                subscription=declared.name, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )


def listen(
    subscriber: pubsub_v1.SubscriberClient,
    config: CtlConfig,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> list[Heard]:
    """The replicas' receipts heard within ``seconds``, oldest first; [] for 0. A body
    that is not a receipt is skipped."""
    if seconds <= 0:
        return []
    heard: list[Heard] = []
    try:
        with temporary_subscription(subscriber, config, config.receipts_topic_id) as path:
            _pull_for(subscriber, path, clock() + seconds, heard, clock)
    except exceptions.NotFound:  # no receipts topic: no replica ever ran, or RECEIPTS=off
        return []
    return heard


def _pull_for(
    subscriber: pubsub_v1.SubscriberClient,
    path: str,
    deadline: float,
    heard: list[Heard],
    clock: Callable[[], float],
) -> None:
    """Pull until ``deadline``, adding what is a receipt to ``heard``."""
    while (left := deadline - clock()) > 0:
        try:
            response = subscriber.pull(
                request={"subscription": path, "max_messages": 1000},
                retry=None,
                timeout=max(min(left, PULL_SECONDS), 0.1),
            )
        except exceptions.DeadlineExceeded:  # an idle pull held to its deadline
            continue
        arrived = datetime.now(UTC)
        for received in response.received_messages:
            with contextlib.suppress(receipts.InvalidReceipt):
                receipt = receipts.decode(received.message.data)
                heard.append(Heard(receipt, received.message.publish_time, arrived))
        if ack_ids := [received.ack_id for received in response.received_messages]:
            subscriber.acknowledge(
                subscription=path, ack_ids=ack_ids, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
        if not response.received_messages:
            time.sleep(min(0.2, max(deadline - clock(), 0)))


def latest_by_replica(heard: list[Heard]) -> dict[str, Heard]:
    """Each replica's newest receipt heard (by publish time)."""
    latest: dict[str, Heard] = {}
    for entry in sorted(heard, key=lambda h: h.published):
        latest[entry.receipt.sender.replica] = entry
    return latest
