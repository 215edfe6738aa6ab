"""A fan-out replica's identity, and the rule that one live process holds it at a time.

The identity (REPLICA_ID, by default the host name) names the replica's subscription, so
a replica restarted in place (same container, same pod: same host name) resumes its own
subscription and receives what was published while it was down. Two live processes with
one identity would share that subscription, each receiving part of its messages: fan-out
silently broken. Compose and Kubernetes give every container or pod a host name of its
own, so this happens only by misconfiguration (a fixed REPLICA_ID or ``hostname:``, host
networking); docs/operations.md states the rule for compose, Kubernetes and Cloud Run.

To detect it, each process claims its identity when it starts, and checks the claim
every ``CHECK_SECONDS``. The claim is a record in Pub/Sub itself: a subscription named
after the identity on the registry topic ``<topic>-replicas``, on which nothing is ever
published (so it holds no messages), labelled with the claiming process's boot ID. It
never expires (nothing pulls it, so an expiry would end the check of a long-lived
replica); the replica deletes it on its way out, and `python -m ctl leftovers` finds
those of replicas that never came back. A
starting process always claims (it may be the same replica after a crash: it must resume
at once, not wait for a lease to lapse); a process that finds its claim taken by another
says so and stops, so two live processes sharing an identity fail loudly within
``CHECK_SECONDS``, each taking the claim in turn, rather than share quietly.

A record rather than labels on the replica's subscription: Pub/Sub has no compare-and-set
on labels, and the emulator cannot update them at all (measured: "labels is not a known
Subscription field"). Taking a claim is therefore delete then create.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.config import PubSubConfig
from common.logs import fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS, call_until_ready
from common.resources import owned, replica_subscription_id

log = logging.getLogger(__name__)

# How often a process checks that it still holds its identity: one admin read each time.
CHECK_SECONDS = 30.0
BOOT_LABEL = "boot"
# The role label of a claim.
CLAIM_ROLE = "replica-claim"


class IdentityTaken(Exception):
    """Another live process claimed this replica's identity."""


def registry_topic(topic_id: str) -> str:
    return f"{topic_id}-replicas"


class Claim:
    """This process's claim on the identity ``replica``; ``boot`` tells processes apart.
    The registry topic must exist before ``take`` (the replica's plan creates it)."""

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        pubsub: PubSubConfig,
        replica: str,
        stop: threading.Event,
    ) -> None:
        self._subscriber = subscriber
        self._stop = stop
        self.replica = replica
        self.boot = secrets.token_hex(4)
        registry = registry_topic(pubsub.topic_id)
        self.record = owned(
            pubsub,
            replica_subscription_id(registry, replica),
            registry,
            role=CLAIM_ROLE,
            host=replica,
        )
        self.record.labels[BOOT_LABEL] = self.boot
        self.record.expiration_policy = types.ExpirationPolicy()  # never: see the docstring
        self.path: str = self.record.name
        self._next_check = time.monotonic() + CHECK_SECONDS

    def take(self, beat: Callable[[str], None] | None = None) -> None:
        """Claim the identity, replacing any earlier claim; waits while Pub/Sub is away
        (raises ``ShutdownRequested`` once the stop event is set)."""

        def claim() -> None:
            holder = self._holder(ADMIN_CALL_TIMEOUT_SECONDS)
            if holder not in (None, self.boot):
                log.warning(
                    "replica %s was claimed by process %s: taking it over (a restart of "
                    "this replica, or another live process with this REPLICA_ID, which "
                    "will stop)",
                    self.replica,
                    holder,
                    extra=fields(event="identity taken over", replica=self.replica),
                )
                with contextlib.suppress(exceptions.NotFound):
                    self._subscriber.delete_subscription(
                        subscription=self.path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                    )
            if holder != self.boot:
                with contextlib.suppress(exceptions.AlreadyExists):
                    self._subscriber.create_subscription(
                        request=self.record, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                    )

        what = f"Pub/Sub to claim replica {self.replica}"
        call_until_ready(claim, what=what, stop=self._stop, beat=beat)
        self._next_check = time.monotonic() + CHECK_SECONDS

    def check_if_due(self) -> None:
        """Every ``CHECK_SECONDS``: raise ``IdentityTaken`` if another process holds the
        claim now. A claim gone with Pub/Sub's state (an emulator restart) is taken again
        when the replica provisions; a check that cannot reach Pub/Sub waits for the next."""
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + CHECK_SECONDS
        try:
            holder = self._holder(ADMIN_CALL_TIMEOUT_SECONDS)
        except exceptions.GoogleAPICallError as exc:
            log.debug("could not check the claim on replica %s: %s", self.replica, exc)
            return
        if holder not in (None, self.boot):
            raise IdentityTaken(
                f"replica {self.replica} is claimed by process {holder}, not this one "
                f"({self.boot}): two live processes share REPLICA_ID={self.replica}; "
                "give each a REPLICA_ID of its own (docs/operations.md)"
            )

    def release(self) -> None:
        """On a clean exit: drop the claim if it is still this process's; one short try."""
        try:
            if self._holder(1.0) == self.boot:
                self._subscriber.delete_subscription(
                    subscription=self.path, retry=None, timeout=1.0
                )
        except exceptions.GoogleAPICallError as exc:
            log.debug("could not release the claim on replica %s: %s", self.replica, exc)

    def _holder(self, timeout: float) -> str | None:
        """The boot ID of the process holding the claim; None if none does."""
        try:
            record = self._subscriber.get_subscription(
                subscription=self.path, retry=None, timeout=timeout
            )
        except exceptions.NotFound:
            return None
        return str(record.labels.get(BOOT_LABEL, ""))
