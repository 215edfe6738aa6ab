"""Messages pulled from a subscription and held: leases renewed until each is acked or,
at the end, handed back (``release``), so a look at the dead letters changes nothing.

Unary pulls with the client's own calls (an operator command, not a hot path). A
message held is leased for the subscription's ack deadline and renewed at half of it,
so a command killed (SIGKILL) leaves nothing hidden for longer than that deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.outage import ADMIN_CALL_TIMEOUT_SECONDS

# How long a pull waits for messages (Google Cloud holds an idle one until its deadline).
PULL_SECONDS = 2.0
MAX_PULL = 100


class Holder:
    """The messages of the subscription at ``path`` this command holds, by ack ID."""

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        path: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._subscriber = subscriber
        self.path = path
        self._clock = clock
        # Raises NotFound for a subscription that does not exist: the caller says so.
        granted = subscriber.get_subscription(
            subscription=path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
        )
        self.lease_seconds: int = granted.ack_deadline_seconds or 10
        # Ack IDs only: a dead letter's data (up to 10 MB each) is not kept here.
        self._held: set[str] = set()
        self._seen: set[str] = set()
        self._renewed_at = clock()

    def pull(self) -> list[types.ReceivedMessage]:
        """Messages new to this command (a message whose lease lapsed and came back is
        not new); renews the leases of those held when due."""
        self.renew_if_due()
        try:
            response = self._subscriber.pull(
                request={"subscription": self.path, "max_messages": MAX_PULL},
                retry=None,
                timeout=PULL_SECONDS,
            )
        except exceptions.DeadlineExceeded:  # an idle pull held to its deadline
            return []
        fresh = []
        for received in response.received_messages:
            self._held.add(received.ack_id)
            if received.message.message_id not in self._seen:
                self._seen.add(received.message.message_id)
                fresh.append(received)
        return fresh

    def pull_until_idle(
        self, idle_seconds: float, stop: threading.Event, done: Callable[[], bool] = lambda: False
    ) -> Iterator[list[types.ReceivedMessage]]:
        """Batches of new messages until none came for ``idle_seconds``, ``done()``, or
        ``stop`` is set."""
        last_new = self._clock()
        while not stop.is_set() and not done():
            fresh = self.pull()
            if fresh:
                last_new = self._clock()
                yield fresh
            elif self._clock() - last_new >= idle_seconds:
                return
            else:
                stop.wait(0.2)

    def renew_if_due(self) -> None:
        """Renew every lease held once half of it has passed (nothing held: nothing due)."""
        if not self._held:
            self._renewed_at = self._clock()
        elif self._clock() - self._renewed_at >= self.lease_seconds / 2:
            self._modify(list(self._held), self.lease_seconds)
            self._renewed_at = self._clock()

    def ack(self, received: types.ReceivedMessage) -> None:
        """Acknowledge one message and wait for Pub/Sub's answer; raises
        ``GoogleAPICallError`` (the message then comes back)."""
        self._subscriber.acknowledge(
            subscription=self.path,
            ack_ids=[received.ack_id],
            retry=None,
            timeout=ADMIN_CALL_TIMEOUT_SECONDS,
        )
        self._held.discard(received.ack_id)

    def release(self) -> int:
        """Hand back every message still held (a lease of 0: Pub/Sub may deliver it at
        once); the number handed back."""
        ack_ids = list(self._held)
        for start in range(0, len(ack_ids), 1000):
            self._modify(ack_ids[start : start + 1000], 0)
        self._held.clear()
        return len(ack_ids)

    def _modify(self, ack_ids: list[str], seconds: int) -> None:
        if ack_ids:
            self._subscriber.modify_ack_deadline(
                subscription=self.path,
                ack_ids=ack_ids,
                ack_deadline_seconds=seconds,
                retry=None,
                timeout=ADMIN_CALL_TIMEOUT_SECONDS,
            )
