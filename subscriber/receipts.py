"""Receipts: what a replica reports about its work, published to ``<topic>-receipts``.

The live view (``dashboard``) learns which replica handled which message from these, through
Pub/Sub itself rather than a side channel, so it works wherever the replicas run. A receipt
is small UTF-8 JSON::

    {"kind": "handled", "message_id": "42", "replica": "3f2a9c1b7d0e",
     "subscription": "channel-3f2a9c1b7d0e-1a2b3c4d", "outcome": "acked",
     "delivery_attempt": 1, "handled_at": "2026-11-25T18:00:00.123Z"}

``kind`` is ``handled`` (one message, outcome ``acked`` or ``rejected``), ``joined`` (the
replica started listening) or ``left`` (it stops; its subscription is about to go).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent import futures
from datetime import UTC, datetime
from typing import Any, Literal

from google.cloud import pubsub_v1

log = logging.getLogger(__name__)

Kind = Literal["handled", "joined", "left"]
Outcome = Literal["acked", "rejected"]
RECEIPT_CONTENT_TYPE = "application/json"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_receipt(
    kind: Kind,
    *,
    replica: str,
    subscription: str,
    at: str,
    message_id: str | None = None,
    outcome: Outcome | None = None,
    delivery_attempt: int | None = None,
) -> bytes:
    """A receipt's body. Pure. ``handled`` receipts carry the message's fields."""
    body: dict[str, Any] = {"kind": kind, "replica": replica, "subscription": subscription}
    if kind == "handled":
        if message_id is None or outcome is None:
            raise ValueError("a handled receipt needs message_id and outcome")
        body.update(message_id=message_id, outcome=outcome, delivery_attempt=delivery_attempt)
    body["handled_at" if kind == "handled" else "at"] = at
    return json.dumps(body, separators=(",", ":")).encode()


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
    ) -> None:
        self._client = client
        self._topic_path = topic_path
        self._replica = replica
        # The subscription ID, not its path: the project is the same for everyone.
        self._subscription = subscription.rsplit("/", 1)[-1]
        self._pending: set[futures.Future[str]] = set()
        self._lock = threading.Lock()

    def handled(self, message_id: str, outcome: Outcome, delivery_attempt: int | None) -> None:
        self._send(
            "handled",
            encode_receipt(
                "handled",
                replica=self._replica,
                subscription=self._subscription,
                at=utc_now(),
                message_id=message_id,
                outcome=outcome,
                delivery_attempt=delivery_attempt,
            ),
            message_id,
        )

    def lifecycle(self, kind: Literal["joined", "left"]) -> None:
        data = encode_receipt(
            kind, replica=self._replica, subscription=self._subscription, at=utc_now()
        )
        self._send(kind, data, None)

    def _send(self, kind: Kind, data: bytes, message_id: str | None) -> None:
        future = self._client.publish(
            self._topic_path, data, kind=kind, content_type=RECEIPT_CONTENT_TYPE
        )
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(lambda done: self._on_done(done, kind, message_id))

    def _on_done(self, future: futures.Future[str], kind: Kind, message_id: str | None) -> None:
        with self._lock:
            self._pending.discard(future)
        try:
            future.result()
        except Exception as exc:  # the future carries the client's final error
            log.warning(
                "receipt %s for message_id=%s not published: %s: %s",
                kind,
                message_id,
                type(exc).__name__,
                exc,
            )

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` for receipts in flight; the number still unsent."""
        with self._lock:
            pending = set(self._pending)
        _, not_done = futures.wait(pending, timeout=timeout)
        if not_done:
            log.warning("%d receipts unsent after %.1fs; leaving them", len(not_done), timeout)
        return len(not_done)
