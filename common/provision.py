"""Ensure what a service declared (``common.resources.Plan``) exists in Pub/Sub, as declared.

Each call looks before it creates, so that where Terraform made a resource the service's
account needs no permission to create one. It waits with backoff while Pub/Sub is away
(``common.outage``), and for a topic another service creates. An existing subscription
is compared with its declaration (``resources.drift``): what differs and can be updated
is updated (a replica restarted after MAX_DELIVERY_ATTEMPTS changed gets the new policy);
an update Pub/Sub refuses (the emulator cannot change some fields, an account may lack
the permission) is logged and the subscription kept as it is; a subscription on another
topic, or with a filter, stops the service (``ProvisioningConflict``, exit status 2):
receiving from it would silently miss messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.logs import fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS, UNAVAILABLE, call_until_ready
from common.resources import Plan, drift

log = logging.getLogger(__name__)

# A delete on the way out gets one short try: shutdown has a budget, and an owned
# subscription expires on its own (resources.OWNED_TTL).
DELETE_TIMEOUT_SECONDS = 2.0
Beat = Callable[[str], None]


class ProvisioningConflict(Exception):
    """What exists cannot be made what is declared; the message names the subscription
    and the field, as do ``subscription`` and ``field``."""

    def __init__(self, message: str, subscription: str, field: str) -> None:
        super().__init__(message)
        self.subscription = subscription
        self.field = field


class Provisioner:
    """Ensures topics and subscriptions through ``publisher`` and ``subscriber`` (their
    admin calls; topics only, without a subscriber); every wait ends with
    ``ShutdownRequested`` once ``stop`` is set."""

    def __init__(
        self,
        publisher: pubsub_v1.PublisherClient,
        subscriber: pubsub_v1.SubscriberClient | None,
        stop: threading.Event,
    ) -> None:
        self._publisher = publisher
        self._subscriber_client = subscriber
        self._stop = stop

    @property
    def _subscriber(self) -> pubsub_v1.SubscriberClient:
        if self._subscriber_client is None:
            raise RuntimeError("a provisioner without a subscriber client ensures topics only")
        return self._subscriber_client

    def ensure(self, plan: Plan, beat: Beat | None = None) -> list[types.Subscription]:
        """Every topic of ``plan``, then every subscription; returns the subscriptions as
        Pub/Sub holds them, in order. ``beat(reason)`` is called while waiting."""
        for declared in plan.topics:
            self.ensure_topic(declared, beat)
        return [self.ensure_subscription(declared, beat) for declared in plan.subscriptions]

    def ensure_topic(self, declared: types.Topic, beat: Beat | None = None) -> None:
        """Create the topic unless it exists."""

        def create() -> None:
            try:
                self._publisher.get_topic(
                    topic=declared.name, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                )
                return
            except exceptions.NotFound:
                pass
            try:
                self._publisher.create_topic(
                    request=declared, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                )
            except exceptions.AlreadyExists:
                return
            log.info(
                "created topic %s",
                declared.name,
                extra=fields(event="topic created", topic=declared.name),
            )

        call_until_ready(create, what="Pub/Sub", stop=self._stop, beat=beat)

    def ensure_subscription(
        self, declared: types.Subscription, beat: Beat | None = None
    ) -> types.Subscription:
        """Create the subscription unless it exists (waiting for its topic), or bring an
        existing one in line with ``declared``; returns it as Pub/Sub holds it. Raises
        ``ProvisioningConflict`` for a difference no update can mend."""
        name = declared.name

        def create() -> types.Subscription:
            try:
                existing = self._get(name)
            except exceptions.NotFound:
                try:
                    created: types.Subscription = self._subscriber.create_subscription(
                        request=declared, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                    )
                except exceptions.AlreadyExists:
                    existing = self._get(name)
                else:
                    log.info(
                        "created subscription %s",
                        name,
                        extra=fields(event="subscription created", subscription=name),
                    )
                    return created
            return self._reconcile(declared, existing)

        # NOT_FOUND from the create: the topic is not there yet (its service makes it).
        return call_until_ready(
            create,
            what=f"Pub/Sub and topic {declared.topic}",
            stop=self._stop,
            retry_on=(*UNAVAILABLE, exceptions.NotFound),
            beat=beat,
        )

    def delete_subscription(self, path: str) -> None:
        """Delete a process's own subscription on its way out; one short try, a failure
        logged (it expires on its own), not raised."""
        try:
            self._subscriber.delete_subscription(
                subscription=path, retry=None, timeout=DELETE_TIMEOUT_SECONDS
            )
        except exceptions.NotFound:
            log.info("subscription %s was already gone", path)
            return
        except exceptions.GoogleAPICallError as exc:
            log.error("could not delete subscription %s (%s); it expires on its own", path, exc)
            return
        log.info(
            "deleted subscription %s",
            path,
            extra=fields(event="subscription deleted", subscription=path),
        )

    def _get(self, name: str) -> types.Subscription:
        got: types.Subscription = self._subscriber.get_subscription(
            subscription=name, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
        )
        return got

    def _reconcile(
        self, declared: types.Subscription, existing: types.Subscription
    ) -> types.Subscription:
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
        updated, refused = self._update(declared, updatable)
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
        self, declared: types.Subscription, paths: list[str]
    ) -> tuple[types.Subscription | None, list[tuple[str, str]]]:
        """Update ``paths`` at once or, if Pub/Sub refuses, one at a time: the emulator
        cannot change some fields (expiration_policy), which must not keep the others as
        they were. Returns the subscription as updated (None if nothing was) and the
        refused fields with Pub/Sub's reason."""
        try:
            updated: types.Subscription = self._subscriber.update_subscription(
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
            one, why = self._update(declared, [path])
            result, refused = one or result, refused + why
        return result, refused
