"""Unary Pull in a thread of its own, with leases, for the modes that manage acks themselves.

Shared mode (``subscriber.workqueue``) and sink mode (``subscriber.sink``) both pull
this way rather than through the client's StreamingPull, because of the emulator's
dead-stream behaviour (see the README, "Why unary Pull"): a consumer that goes away
must not strand the subscription's messages.

A semaphore of permits bounds the messages in hand: the puller takes one permit per
message it pulls and its consumer gives the permit back when the message is acked or
nacked. A consumer may also pause the puller (the sink, while its database is down).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage

from common.health import HEARTBEAT_INTERVAL_SECONDS, Heartbeat
from common.retry import UNAVAILABLE, backoff_delays

log = logging.getLogger(__name__)

# How long one pull waits for messages. It bounds how long a stopping worker waits for
# its last pull, whose messages it then nacks rather than strand them under a lease.
PULL_TIMEOUT_SECONDS = 3.0
RPC_TIMEOUT_SECONDS = 10.0
# How soon a paused puller notices it may pull again.
PAUSED_POLL_SECONDS = 0.2


class Puller(threading.Thread):
    """Pulls as many messages as there are permits, leases them, hands them over."""

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        path: str,
        lease_seconds: int,
        permits: threading.Semaphore,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="puller", daemon=True)
        self._subscriber = subscriber
        self._path = path
        self._lease_seconds = lease_seconds
        self._permits = permits
        self._stopping = stop
        self.inbox: queue.SimpleQueue[ReceivedMessage] = queue.SimpleQueue()
        self.wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        # A final error (the subscription was deleted, permission revoked): the worker exits.
        self.error: Exception | None = None
        # Set by the consumer: pull nothing more until cleared. Messages in hand keep
        # their leases (the consumer renews them); the rest wait in the subscription.
        self.paused = threading.Event()

    def run(self) -> None:
        delays = backoff_delays()
        while not self._stopping.is_set():
            if self.paused.is_set():
                self._stopping.wait(PAUSED_POLL_SECONDS)
                continue
            if not self._permits.acquire(timeout=HEARTBEAT_INTERVAL_SECONDS):
                continue
            wanted = 1
            while self._permits.acquire(blocking=False):
                wanted += 1
            try:
                received = self._pull(wanted)
            except exceptions.GoogleAPICallError as exc:
                self._release(wanted)
                if not isinstance(exc, UNAVAILABLE):
                    self.error = exc
                    self._wake_writer.send_bytes(b"")
                    return
                log.warning("pull failed (%s: %s); retrying", type(exc).__name__, exc)
                self._stopping.wait(next(delays))
                continue
            delays = backoff_delays()
            self._release(wanted - len(received))
            if not received:
                continue
            ack_ids = [message.ack_id for message in received]
            if self._stopping.is_set():
                # Pulled while stopping: give them straight back.
                nack(self._subscriber, self._path, ack_ids)
                self._release(len(received))
                return
            # The subscription may have a shorter ack deadline than this worker renews
            # on; take the full lease at once.
            set_lease(self._subscriber, self._path, ack_ids, self._lease_seconds)
            log.debug(
                "pulled message_id=%s", ",".join(message.message.message_id for message in received)
            )
            for message in received:
                self.inbox.put(message)
            self._wake_writer.send_bytes(b"")

    def _pull(self, wanted: int) -> list[ReceivedMessage]:
        try:
            response = self._subscriber.pull(
                subscription=self._path,
                max_messages=wanted,
                timeout=PULL_TIMEOUT_SECONDS,
                retry=None,
            )
        except exceptions.DeadlineExceeded:
            return []  # nothing arrived in time
        return list(response.received_messages)

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._permits.release()


def set_lease(
    subscriber: pubsub_v1.SubscriberClient, path: str, ack_ids: list[str], seconds: int
) -> None:
    """Set the lease of these messages; 0 nacks them. A failure is logged, not raised:
    the lease then lapses on its own and Pub/Sub redelivers."""
    try:
        subscriber.modify_ack_deadline(
            subscription=path,
            ack_ids=ack_ids,
            ack_deadline_seconds=seconds,
            timeout=RPC_TIMEOUT_SECONDS,
        )
    except exceptions.GoogleAPICallError as exc:
        log.warning(
            "could not set the lease of %d message(s) to %ds: %s", len(ack_ids), seconds, exc
        )


def nack(subscriber: pubsub_v1.SubscriberClient, path: str, ack_ids: list[str]) -> None:
    set_lease(subscriber, path, ack_ids, 0)


def run_until_stopped(
    puller: Puller,
    path: str,
    stop: threading.Event,
    *,
    step: Callable[[], None],
    drain: Callable[[], None],
) -> int:
    """The consumer's main thread: ``step`` until SIGTERM or a final pull error, beating
    the heartbeat; on SIGTERM ``drain``. The exit status: 0, or 1 if pulling failed."""
    heartbeat = Heartbeat()
    puller.start()
    try:
        while not stop.is_set() and puller.error is None:
            step()
            heartbeat.beat()
        if puller.error is not None:
            log.error("pulling from %s failed: %s", path, puller.error)
            return 1
        drain()
        return 0
    finally:
        heartbeat.clear()
