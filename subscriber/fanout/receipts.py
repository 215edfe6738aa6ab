"""A replica's receipts sender: what it handled, published to ``<topic>-receipts``.

The live view learns which replica handled which message from these, through Pub/Sub
itself rather than a side channel, so it works wherever the replicas run. The format is
``common.messages.receipts``.

Handled messages are gathered and sent together every ``BATCH_SECONDS``: a receipt per
message would be a publish per message, in the replica and in Pub/Sub, and more than
doubled a replica's CPU per message (measured: benchmarks/README.md).
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Literal

from google.cloud import pubsub_v1

from common.messages import CONTENT_TYPE
from common.messages._json import utc_timestamp
from common.messages.receipts import Handled, Kind, Outcome, encode_handled, encode_lifecycle
from common.publishing import Publishes

log = logging.getLogger(__name__)

# The live view is up to this much behind; 10 receipts a second per replica at any rate.
BATCH_SECONDS = 0.1
# A burst is split so that no receipt grows large (Pub/Sub takes up to 10 MB).
MAX_BATCH = 1000


class ReceiptSender:
    """Publishes receipts on one PublisherClient and checks every publish future.

    Receipts are best effort: a failed one is logged with its message ID and never holds
    up the message it describes.
    """

    def __init__(
        self,
        client: pubsub_v1.PublisherClient,
        topic_path: str,
        *,
        replica: str,
        subscription: str,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self._publishes: Publishes[tuple[Kind, list[str]]] = Publishes(
            client, topic_path, self._on_done
        )
        self._replica = replica
        # The subscription ID, not its path: the project is the same for everyone.
        self._subscription = subscription.rsplit("/", 1)[-1]
        self._lock = threading.Lock()
        self._batch: list[Handled] = []
        self._stopped = threading.Event()
        self._sender = threading.Thread(
            target=self._send_every, args=(batch_seconds,), name="receipts", daemon=True
        )
        self._sender.start()

    def handled(self, message_id: str, outcome: Outcome, delivery_attempt: int | None) -> None:
        """Called from the client's callback threads: only a list append, most times."""
        entry = Handled(message_id, outcome, delivery_attempt, utc_timestamp())
        with self._lock:
            self._batch.append(entry)
            full = len(self._batch) >= MAX_BATCH
        if full:
            self._send_batch()

    def lifecycle(self, kind: Literal["joined", "left"]) -> None:
        if kind == "left":
            # What was handled goes first, and nothing is gathered after.
            self._stopped.set()
            self._send_batch()
        data = encode_lifecycle(
            kind, replica=self._replica, subscription=self._subscription, at=utc_timestamp()
        )
        self._send(kind, data, [])

    def _send_every(self, seconds: float) -> None:
        while not self._stopped.wait(seconds):
            self._send_batch()

    def _send_batch(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        if batch:
            data = encode_handled(batch, replica=self._replica, subscription=self._subscription)
            self._send("handled", data, [entry.message_id for entry in batch])

    def _send(self, kind: Kind, data: bytes, message_ids: list[str]) -> None:
        attributes = {"kind": kind, "content_type": CONTENT_TYPE}
        self._publishes.publish(data, attributes, (kind, message_ids))

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
