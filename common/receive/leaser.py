"""The messages in hand and their leases, kept on a thread of their own.

A pulled message is leased to this consumer for the subscription's ack deadline, which
the provisioner read from Pub/Sub (``lease_seconds``). While a callback holds it, this
thread renews its lease before it lapses: it wakes at a random point between a quarter
and a half of the lease (jitter: replicas do not renew in step) and renews every message
whose lease would lapse before its next chance. A message held longer than
``max_lease_seconds`` is let go, with one warning naming it: no longer renewed, handed
back (a nack) so Pub/Sub redelivers it, and its room in flow control freed. A callback
that hangs then holds nothing forever; settling it later does nothing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from common.logs import fields
from common.receive.acker import Acker
from common.receive.message import Received

log = logging.getLogger(__name__)

# The lease thread wakes after this share of the lease, drawn at random between the two.
WAKE_SHARE = (0.25, 0.5)
# A renewal goes out this long before a lease would lapse, at least: the call's own time.
RENEW_MARGIN_SECONDS = 2.0


@dataclass
class _Lease:
    received: Received
    expires: float  # monotonic


class Leaser:
    """Leases of the messages in hand, renewed by ``acker`` on a daemon thread.

    ``hold`` from the pull threads, ``release`` from the acker's; ``on_let_go`` is called
    with each message let go past ``max_lease_seconds``, after its lease is dropped.
    """

    def __init__(
        self,
        acker: Acker,
        *,
        lease_seconds: int,
        max_lease_seconds: float,
        on_let_go: Callable[[Received], None],
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._acker = acker
        self._counts = acker.counts
        self.lease_seconds = lease_seconds
        self._max_lease_seconds = max_lease_seconds
        self._on_let_go = on_let_go
        self._clock = clock
        self._rng = rng or random.Random()
        self._held: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._emptied = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leaser", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def count(self) -> int:
        return len(self._held)

    def hold(self, received: list[Received]) -> None:
        """Newly pulled messages, leased until the subscription's ack deadline."""
        with self._lock:
            for message in received:
                self._held[message.ack_id] = _Lease(message, message.pulled_at + self.lease_seconds)

    def release(self, settled: list[Received]) -> list[Received]:
        """Drop the leases of ``settled``; returns those that were held (a message let go
        or settled twice is not)."""
        with self._lock:
            held = [r for r in settled if self._held.pop(r.ack_id, None) is not None]
            if not self._held:
                self._emptied.notify_all()
        return held

    def wait_empty(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until nothing is held; True if so."""
        with self._lock:
            return self._emptied.wait_for(lambda: not self._held, timeout)

    def take_all(self) -> list[Received]:
        """Drop every lease (on the way out) and return the messages that held them."""
        with self._lock:
            taken = [lease.received for lease in self._held.values()]
            self._held.clear()
            self._emptied.notify_all()
        return taken

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.next_wake()):
            self.renew()

    def next_wake(self) -> float:
        """Seconds until the next round: a random share of the lease (``WAKE_SHARE``)."""
        return self.lease_seconds * self._rng.uniform(*WAKE_SHARE)

    def renew(self) -> None:
        """One round: let go what is past ``max_lease_seconds``; renew every lease that
        would lapse before the longest wait until the next round is over, plus
        ``RENEW_MARGIN_SECONDS``."""
        horizon = self.lease_seconds * WAKE_SHARE[1] + RENEW_MARGIN_SECONDS
        now = self._clock()
        overdue: list[Received] = []
        renewed: list[str] = []
        with self._lock:
            for ack_id, lease in list(self._held.items()):
                if now - lease.received.pulled_at >= self._max_lease_seconds:
                    del self._held[ack_id]
                    overdue.append(lease.received)
                elif lease.expires <= now + horizon:
                    lease.expires = now + self.lease_seconds
                    renewed.append(ack_id)
            if overdue and not self._held:
                self._emptied.notify_all()
        self._counts.leases(len(renewed), len(overdue))
        if renewed:
            log.debug(
                "renewing the leases of %d messages for %ds", len(renewed), self.lease_seconds
            )
            self._acker.modify(renewed, self.lease_seconds)
        for received in overdue:
            log.warning(
                "let go of message_id=%s: held %.0fs, past the %gs cap (max_lease_seconds); "
                "handed back for Pub/Sub to redeliver",
                received.message_id,
                now - received.pulled_at,
                self._max_lease_seconds,
                extra=fields(
                    event="let go",
                    message_id=received.message_id,
                    attempt=received.delivery_attempt,
                ),
            )
            self._on_let_go(received)
        if overdue:
            self._acker.modify([r.ack_id for r in overdue], 0)
