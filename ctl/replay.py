"""``replay`` and ``snapshot create``: seek replicas' subscriptions back.

``replay --since 30m --all`` seeks every replica's subscription to 30 minutes ago: what
the topic retains from then on is delivered again (``common.replay``); ``--snapshot NAME``
seeks to a snapshot made before (``snapshot create NAME``: the acknowledgement state of
one replica's subscription, applicable to any subscription on the topic, for up to 7
days). Replayed messages are redeliveries to the handlers (docs/make-it-yours.md).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from google.api_core import exceptions
from google.cloud import pubsub_v1

from common import replay
from common.config import read_resource_id
from common.logs import fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS
from common.resources import APP_LABEL, replica_subscription_id
from ctl.config import CtlConfig
from ctl.durations import describe
from ctl.output import OK, Result, UsageError
from ctl.replicas import owned_subscriptions
from subscriber.fanout.replica import ROLE as REPLICA_ROLE

log = logging.getLogger(__name__)


def targets(
    subscriber: pubsub_v1.SubscriberClient, config: CtlConfig, replica: str | None
) -> list[str]:
    """The subscription of ``replica``, or of every replica (None); ``UsageError`` if
    there is none."""
    pubsub = config.pubsub
    if replica is not None:
        path = pubsub.owned_subscription_path(replica_subscription_id(pubsub.topic_id, replica))
        try:
            subscriber.get_subscription(
                subscription=path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
        except exceptions.NotFound:
            raise UsageError(f"--replica {replica}: no subscription {path}") from None
        return [path]
    found = sorted(
        sub.name
        for sub in owned_subscriptions(subscriber, config)
        if sub.labels.get("role") == REPLICA_ROLE and sub.topic == pubsub.topic_path
    )
    if not found:
        # No "--all:" before it: `snapshot create` without --replica comes here too.
        raise UsageError(f"no replica subscription on {pubsub.topic_path}: none is running")
    return found


def since(
    subscriber: pubsub_v1.SubscriberClient,
    publisher: pubsub_v1.PublisherClient,
    config: CtlConfig,
    window: timedelta,
    paths: list[str],
) -> Result:
    moment = replay.since(window.total_seconds())
    for path in paths:
        replay.seek_to_time(subscriber, path, moment)
        log.info(
            "sought %s back to %s",
            path,
            moment.isoformat(),
            extra=fields(event="sought", subscription=path, since=moment.isoformat()),
        )
    lines = [f"sought back to {moment.isoformat()}: {path}" for path in paths]
    retained = _topic_retention(publisher, config)
    if retained is not None and retained < window:
        lines.append(
            f"note: {config.pubsub.topic_path} retains messages for {describe(retained)}: on "
            "Google Cloud what was acked before that does not come back (set REPLAY_SECONDS "
            "on the publisher, or message_retention_duration in Terraform)"
        )
    data = {"since": moment.isoformat(), "subscriptions": paths}
    return Result(data, "\n".join(lines))


def to_snapshot(
    subscriber: pubsub_v1.SubscriberClient, config: CtlConfig, name: str, paths: list[str]
) -> Result:
    snapshot = snapshot_path(config, name)
    for path in paths:
        try:
            replay.seek_to_snapshot(subscriber, path, snapshot)
        except exceptions.NotFound:
            raise UsageError(f"--snapshot {name}: no snapshot {snapshot}") from None
        log.info(
            "sought %s to snapshot %s",
            path,
            snapshot,
            extra=fields(event="sought", subscription=path, snapshot=snapshot),
        )
    lines = [f"sought to {snapshot}: {path}" for path in paths]
    return Result({"snapshot": snapshot, "subscriptions": paths}, "\n".join(lines))


def create_snapshot(
    subscriber: pubsub_v1.SubscriberClient, config: CtlConfig, name: str, replica: str | None
) -> Result:
    """A snapshot of ``replica``'s subscription (None: the first replica's)."""
    snapshot = snapshot_path(config, name)  # a bad name first: it needs no replica
    source = targets(subscriber, config, replica)[0]
    try:
        made = subscriber.create_snapshot(
            request={"name": snapshot, "subscription": source, "labels": {"app": APP_LABEL}},
            retry=None,
            timeout=ADMIN_CALL_TIMEOUT_SECONDS,
        )
    except exceptions.AlreadyExists:
        raise UsageError(f"snapshot {name} exists: pick another name") from None
    expires = made.expire_time.isoformat() if made.expire_time else None
    log.info(
        "created snapshot %s of %s",
        snapshot,
        source,
        extra=fields(event="snapshot created", snapshot=snapshot, subscription=source),
    )
    text = f"created {snapshot} from {source}" + (f", expires {expires}" if expires else "")
    return Result({"snapshot": snapshot, "source": source, "expires": expires}, text, OK)


def snapshot_path(config: CtlConfig, name: str) -> str:
    """In the replicas' project, beside the subscriptions it is made from and applied to."""
    try:
        read_resource_id({"SNAPSHOT": name}, "SNAPSHOT", name)
    except ValueError as exc:
        raise UsageError(str(exc).replace("SNAPSHOT", "the snapshot name", 1)) from None
    project = config.pubsub.owned_subscription_path("x").rsplit("/subscriptions/", 1)[0]
    return f"{project}/snapshots/{name}"


def _topic_retention(publisher: pubsub_v1.PublisherClient, config: CtlConfig) -> timedelta | None:
    """The topic's retention; None when it cannot be read (no permission)."""
    try:
        found = publisher.get_topic(
            topic=config.pubsub.topic_path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
        )
    except exceptions.GoogleAPICallError:
        return None
    retention: timedelta = found.message_retention_duration
    return retention
