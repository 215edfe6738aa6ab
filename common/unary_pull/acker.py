"""Acks, nacks and lease changes, sent on a thread of their own, never on the caller's.

A call to an unreachable Pub/Sub (a partition) takes its whole deadline to fail. Made on
a consumer's main loop, a few of them would stall it past its heartbeat's window: its
health check would say "dead" when it is merely cut off, and a liveness probe would
restart it, which helps nothing. So the loop only queues them, and this thread sends
them in order, each kind gathered into one call per round (the client library's own
dispatcher does the same on its stream). A failed call is not retried: an unacked
message comes back when its lease lapses, and an ack is only ever a best effort in
Pub/Sub's at-least-once delivery. Failures are logged once per outage, not per call.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import AcknowledgeRequest, ModifyAckDeadlineRequest

from common import tracing
from common.outage import Outage

log = logging.getLogger(__name__)

# Deadline of one call; the loop never waits on it.
RPC_TIMEOUT_SECONDS = 10.0
# Pub/Sub takes up to 2,500 ack IDs a request; fewer keeps each request small.
MAX_IDS_PER_CALL = 1000
# Requests built as raw protobuf: the library's wrappers convert a list of ack IDs one
# by one in Python, about 0.9 µs an ID (measured: an ack of 100 IDs 475 against 387 µs of
# CPU), and every message goes through an ack, and a lease or two.
_ACK = AcknowledgeRequest.pb()
_LEASE = ModifyAckDeadlineRequest.pb()


@dataclass(frozen=True)
class Request:
    """Ack ``ack_ids`` (``seconds`` None), or set their lease to ``seconds`` (0: nack)."""

    ack_ids: list[str]
    seconds: int | None = None

    @property
    def kind(self) -> str:
        """ "ack", "nack" or "modack", as the client library names these calls' spans."""
        if self.seconds is None:
            return "ack"
        return "nack" if self.seconds == 0 else "modack"


class Acker:
    """Sends queued requests for one subscription, in order, on a daemon thread."""

    def __init__(self, subscriber: pubsub_v1.SubscriberClient, path: str) -> None:
        self._subscriber = subscriber
        self._path = path
        self._queue: queue.Queue[Request] = queue.Queue()
        self._outage = Outage(f"Pub/Sub (acks and leases on {path})", log, retries=False)
        threading.Thread(target=self._send_forever, name="acker", daemon=True).start()

    def send(self, request: Request) -> None:
        if request.ack_ids:
            self._queue.put(request)

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for everything queued to be sent; True if it was."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, name="acker-flush", daemon=True).start()
        return done.wait(timeout)

    def _send_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for request in _gathered(batch):
                    self._call(request)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _call(self, request: Request) -> None:
        for start in range(0, len(request.ack_ids), MAX_IDS_PER_CALL):
            ack_ids = request.ack_ids[start : start + MAX_IDS_PER_CALL]
            try:
                count = {tracing.MESSAGE_COUNT: len(ack_ids)}
                with tracing.step(request.kind, self._path, count):
                    self._send(request, ack_ids)
            except exceptions.NotFound:
                # The subscription is gone (deleted, an emulator restarted empty): so are
                # its messages' leases. The puller reports it and the consumer recovers.
                log.debug("nothing to ack or lease: subscription %s is gone", self._path)
            except exceptions.GoogleAPICallError as exc:
                what = "acks" if request.seconds is None else f"leases of {request.seconds}s"
                self._outage.failed(
                    f"{type(exc).__name__}: {exc}",
                    f"{len(ack_ids)} {what} not sent: those messages come back when their "
                    "lease lapses",
                )
            else:
                self._outage.succeeded()

    def _send(self, request: Request, ack_ids: list[str]) -> None:
        if request.seconds is None:
            ack = _ACK(subscription=self._path, ack_ids=ack_ids)
            self._subscriber.acknowledge(
                request=AcknowledgeRequest.wrap(ack), timeout=RPC_TIMEOUT_SECONDS
            )
        else:
            lease = _LEASE(
                subscription=self._path, ack_ids=ack_ids, ack_deadline_seconds=request.seconds
            )
            self._subscriber.modify_ack_deadline(
                request=ModifyAckDeadlineRequest.wrap(lease), timeout=RPC_TIMEOUT_SECONDS
            )


def _gathered(batch: list[Request]) -> list[Request]:
    """Consecutive requests of one kind joined into one, order kept."""
    gathered: list[Request] = []
    for request in batch:
        if gathered and gathered[-1].seconds == request.seconds:
            gathered[-1] = Request([*gathered[-1].ack_ids, *request.ack_ids], request.seconds)
        else:
            gathered.append(request)
    return gathered
