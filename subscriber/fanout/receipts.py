"""A replica's receipts sender: what it handled, published to ``<topic>-receipts``.

The live view learns which replica handled which message from these, through Pub/Sub
itself rather than a side channel, so it works wherever the replicas run. The format is
``common.messages.receipts``.

Handled messages are gathered and sent together every ``BATCH_SECONDS``: a receipt per
message would be a publish per message, in the replica and in Pub/Sub, and more than
doubled a replica's CPU per message (benchmarks/README.md, "Where the CPU goes").

Between ``joined`` and ``left`` the replica also announces itself: when it has sent no
receipt for ``ANNOUNCE_SECONDS``, it sends an ``alive`` one. A dashboard started late
lists every listening replica within that time, and can tell a replica gone silent
(several announcements missed) from an idle one. Every receipt carries the replica's
running totals, so such a dashboard counts exactly from its first receipt on.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Literal

from google.cloud import pubsub_v1

from common.messages import CONTENT_TYPE, utc_timestamp
from common.messages.receipts import (
    Announcement,
    Handled,
    Kind,
    Outcome,
    Sender,
    Totals,
    encode_announcement,
    encode_handled,
)
from common.publishing import Publishes

log = logging.getLogger(__name__)

# The live view is up to this much behind; 10 receipts a second per replica at any rate.
BATCH_SECONDS = 0.1
# A burst is split so that no receipt grows large (Pub/Sub takes up to 10 MB).
MAX_BATCH = 1000
# An idle replica announces itself this often: a dashboard started late lists it within
# this time (plus delivery), and calls it silent after 3 missed announcements.
ANNOUNCE_SECONDS = 2.0


class ReceiptSender:
    """Publishes receipts on one PublisherClient and checks every publish future.

    Receipts are best effort: a failed one is logged with its message IDs and never holds
    up the message it describes. ``listening``, when given, is asked before each ``alive``
    announcement: a replica that is not receiving (its subscription being re-created, say)
    says nothing rather than claiming to be alive.
    """

    def __init__(
        self,
        client: pubsub_v1.PublisherClient,
        topic_path: str,
        *,
        replica: str,
        subscription: str,
        batch_seconds: float = BATCH_SECONDS,
        announce_seconds: float = ANNOUNCE_SECONDS,
        listening: Callable[[], bool] | None = None,
    ) -> None:
        self._publishes: Publishes[tuple[Kind, list[str]]] = Publishes(
            client, topic_path, self._on_done
        )
        # The subscription ID, not its path: the project is the same for everyone. The
        # session tells this process's totals from those of the replica's earlier lives.
        self._sender = Sender(replica, subscription.rsplit("/", 1)[-1], secrets.token_hex(4))
        self._announce_seconds = announce_seconds
        self._listening = listening
        self._lock = threading.Lock()
        self._batch: list[Handled] = []
        self._acked = 0
        self._rejected = 0
        self._joined = False
        self._last_sent = time.monotonic()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._send_every, args=(batch_seconds,), name="receipts", daemon=True
        )
        self._thread.start()

    @property
    def session(self) -> str:
        return self._sender.session

    def totals(self) -> Totals:
        """Every outcome reported so far by ``handled``: acked, rejected."""
        with self._lock:
            return Totals(self._acked, self._rejected)

    def handled(self, message_id: str, outcome: Outcome, delivery_attempt: int | None) -> None:
        """Called from the client's callback threads: a list append and a count, most times."""
        entry = Handled(message_id, outcome, delivery_attempt, utc_timestamp())
        with self._lock:
            self._batch.append(entry)
            if outcome == "acked":
                self._acked += 1
            else:
                self._rejected += 1
            full = len(self._batch) >= MAX_BATCH
        if full:
            self._send_batch()

    def lifecycle(self, kind: Literal["joined", "left"]) -> None:
        if kind == "left":
            # What was handled goes first, and nothing is gathered nor announced after.
            self._stopped.set()
            self._send_batch()
        else:
            self._joined = True
        self._announce(kind)

    def _announce(self, kind: Announcement) -> None:
        data = encode_announcement(
            kind, self._sender, self.totals(), at=utc_timestamp(), every=self._announce_seconds
        )
        self._send(kind, data, [])

    def _send_every(self, seconds: float) -> None:
        while not self._stopped.wait(seconds):
            self._send_batch()
            with self._lock:
                quiet = time.monotonic() - self._last_sent >= self._announce_seconds
            if quiet and self._joined and self._is_listening():
                self._announce("alive")

    def _is_listening(self) -> bool:
        if self._listening is None:
            return True
        try:
            return self._listening()
        except Exception:  # a broken probe must not end the receipts thread
            log.exception("listening probe failed; announcing nothing")
            return False

    def _send_batch(self) -> None:
        with self._lock:
            # Taken together: the totals count this batch and every one before it.
            batch, self._batch = self._batch, []
            totals = Totals(self._acked, self._rejected)
        if batch:
            data = encode_handled(batch, self._sender, totals)
            self._send("handled", data, [entry.message_id for entry in batch])

    def _send(self, kind: Kind, data: bytes, message_ids: list[str]) -> None:
        attributes = {"kind": kind, "content_type": CONTENT_TYPE}
        self._publishes.publish(data, attributes, (kind, message_ids))
        with self._lock:
            self._last_sent = time.monotonic()

    @staticmethod
    def _on_done(future: futures.Future[str], sent: tuple[Kind, list[str]]) -> None:
        kind, message_ids = sent
        try:
            future.result()
        except Exception as exc:  # the future carries the client's final error
            log.warning(
                "receipt %s for message_id=%s not published: %s: %s",
                kind,
                ",".join(message_ids) or "-",
                type(exc).__name__,
                exc,
            )

    def flush(self, timeout: float) -> int:
        """Send what is gathered, wait up to ``timeout`` for receipts in flight; the number
        still unsent."""
        self._stopped.set()
        self._send_batch()
        _, unresolved = self._publishes.wait(timeout)
        if unresolved:
            log.warning("%d receipts unsent after %.1fs; leaving them", unresolved, timeout)
        return unresolved
