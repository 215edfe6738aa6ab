"""Ensure what a service declared (``common.resources.Plan``) exists in Pub/Sub, as declared.

Each call looks before it creates, so that where Terraform made a resource the service's
account needs no permission to create one. It waits with backoff while Pub/Sub is away
(``common.outage``), and for a topic another service creates. An existing subscription
is brought in line with its declaration (``common.reconcile``): what differs and can be
updated is, a refusal is logged, and a subscription on another topic, or with a filter,
stops the service (``ProvisioningConflict``, exit status 2): receiving from it would
silently miss messages. An existing topic retaining less than declared is lengthened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.health import Beat
from common.logs import fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS, UNAVAILABLE, call_until_ready
from common.reconcile import ProvisioningConflict, reconcile_subscription, reconcile_topic
from common.resources import Plan

log = logging.getLogger(__name__)

# A delete on the way out gets one short try: shutdown has a budget, and an owned
# subscription expires on its own (resources.OWNED_TTL).
DELETE_TIMEOUT_SECONDS = 2.0
__all__ = ["Provisioner", "ProvisioningConflict"]


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
        """Create the topic unless it exists; an existing one that retains messages for
        less than ``declared`` says is updated (``resources.topic_drift``), or, if Pub/Sub
        refuses (an account without ``pubsub.topics.update``, as Terraform grants), kept
        with a warning: a replay then reaches back only as far as it retains."""

        def create() -> None:
            try:
                existing = self._publisher.get_topic(
                    topic=declared.name, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                )
            except exceptions.NotFound:
                pass
            else:
                reconcile_topic(self._publisher, declared, existing)
                return
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
        self,
        declared: types.Subscription,
        beat: Beat | None = None,
        *,
        on_created: Callable[[types.Subscription], None] | None = None,
    ) -> types.Subscription:
        """Create the subscription unless it exists (waiting for its topic), or bring an
        existing one in line with ``declared``; returns it as Pub/Sub holds it. Raises
        ``ProvisioningConflict`` for a difference no update can mend.

        ``on_created(subscription)`` runs once this call created it (not when it existed:
        a resumed subscription has its own backlog), retried like the rest while Pub/Sub
        is away; a fan-out replica seeks its new subscription back with it."""
        name = declared.name
        created_now: list[types.Subscription] = []

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
                    created_now.append(created)
                    return created
            return reconcile_subscription(self._subscriber, declared, existing)

        # NOT_FOUND from the create: the topic is not there yet (its service makes it).
        granted = call_until_ready(
            create,
            what=f"Pub/Sub and topic {declared.topic}",
            stop=self._stop,
            retry_on=(*UNAVAILABLE, exceptions.NotFound),
            beat=beat,
        )
        if created_now and on_created is not None:
            call_until_ready(
                lambda: on_created(granted), what="Pub/Sub", stop=self._stop, beat=beat
            )
        return granted

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
