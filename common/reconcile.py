"""Bringing what exists in Pub/Sub in line with what a service declares
(``common.resources``): the second half of ``common.provision``'s ensure calls.

A subscription: what differs and can be updated is updated (a replica restarted after
MAX_DELIVERY_ATTEMPTS changed gets the new policy); an update Pub/Sub refuses (the
emulator cannot change some fields, an account may lack the permission) is logged and the
subscription kept; a subscription on another topic, or with a filter, is a
``ProvisioningConflict`` (exit status 2). A topic: a retention shorter than declared is
lengthened, or kept with a warning where Pub/Sub refuses.
"""

from __future__ import annotations

import logging

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.logs import fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS
from common.resources import drift, topic_drift

log = logging.getLogger(__name__)


class ProvisioningConflict(Exception):
    """What exists cannot be made what is declared; the message names the subscription
    and the field, as do ``subscription`` and ``field``."""

    def __init__(self, message: str, subscription: str, field: str) -> None:
        super().__init__(message)
        self.subscription = subscription
        self.field = field


def reconcile_topic(
    publisher: pubsub_v1.PublisherClient, declared: types.Topic, existing: types.Topic
) -> None:
    """Update what ``existing`` lacks of ``declared`` (``topic_drift``); a refusal is
    logged and the topic kept."""
    paths = topic_drift(declared, existing)
    if not paths:
        return
    try:
        publisher.update_topic(
            request={"topic": declared, "update_mask": {"paths": paths}},
            retry=None,
            timeout=ADMIN_CALL_TIMEOUT_SECONDS,
        )
    except (exceptions.InvalidArgument, exceptions.PermissionDenied) as exc:
        log.warning(
            "topic %s retains messages for %s, less than the %s declared, and Pub/Sub "
            "refused to update it (%s); kept as it is there",
            declared.name,
            existing.message_retention_duration,
            declared.message_retention_duration,
            exc.message,
            extra=fields(event="topic kept", topic=declared.name),
        )
        return
    log.info(
        "updated topic %s: message retention %s as declared",
        declared.name,
        declared.message_retention_duration,
        extra=fields(event="topic updated", topic=declared.name, fields=paths),
    )


def reconcile_subscription(
    subscriber: pubsub_v1.SubscriberClient,
    declared: types.Subscription,
    existing: types.Subscription,
) -> types.Subscription:
    """Bring ``existing`` in line with ``declared`` (``drift``): what can be updated is,
    what Pub/Sub refuses to update is logged and kept; returns the subscription as it is
    now. Raises ``ProvisioningConflict`` for a field no update can change."""
    name = declared.name
    updatable, conflicting = drift(declared, existing)
    if conflicting:
        field = conflicting[0]
        raise ProvisioningConflict(
            f"subscription {name} exists with {field} "
            f"{getattr(existing, field)!r}, not {getattr(declared, field)!r} as this "
            f"service declares, and Pub/Sub cannot change {field}: delete the "
            "subscription (its messages with it) or point the service at another",
            name,
            field,
        )
    if not updatable:
        log.info(
            "subscription %s exists as declared",
            name,
            extra=fields(event="subscription exists", subscription=name),
        )
        return existing
    updated, refused = _update(subscriber, declared, updatable)
    if refused:
        log.warning(
            "subscription %s differs from its declaration, and Pub/Sub refused to "
            "update %s; kept as it is there",
            name,
            "; ".join(f"{field} ({why})" for field, why in refused),
            extra=fields(event="subscription kept", subscription=name),
        )
    if changed := [f for f in updatable if f not in dict(refused)]:
        log.info(
            "updated subscription %s: %s as declared",
            name,
            ", ".join(changed),
            extra=fields(event="subscription updated", subscription=name, fields=changed),
        )
    return updated or existing


def _update(
    subscriber: pubsub_v1.SubscriberClient, declared: types.Subscription, paths: list[str]
) -> tuple[types.Subscription | None, list[tuple[str, str]]]:
    """Update ``paths`` at once or, if Pub/Sub refuses, one at a time: the emulator
    cannot change some fields (expiration_policy), which must not keep the others as
    they were. Returns the subscription as updated (None if nothing was) and the
    refused fields with Pub/Sub's reason."""
    try:
        updated: types.Subscription = subscriber.update_subscription(
            request={"subscription": declared, "update_mask": {"paths": paths}},
            retry=None,
            timeout=ADMIN_CALL_TIMEOUT_SECONDS,
        )
        return updated, []
    except (exceptions.InvalidArgument, exceptions.PermissionDenied) as exc:
        if len(paths) == 1:
            return None, [(paths[0], str(exc.message))]
    result: types.Subscription | None = None
    refused: list[tuple[str, str]] = []
    for path in paths:
        one, why = _update(subscriber, declared, [path])
        result, refused = one or result, refused + why
    return result, refused
