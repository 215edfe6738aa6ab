"""The pull thread: pulls as many messages as the consumer has permits for, hands them over.

It only pulls. The consumer's main thread does the work, acks, nacks and renews leases
(``leaser``); a pipe wakes it when messages arrive, so it can also wait on other things
at once (the work queue waits on its worker processes' pipes too).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import ReceivedMessage

from common.health import HEARTBEAT_INTERVAL_SECONDS
from common.retry import UNAVAILABLE, backoff_delays
from subscriber.unary_pull.leaser import Leaser

log = logging.getLogger(__name__)

# How long one pull waits for messages. It bounds how long a stopping consumer waits for
# its last pull, whose messages it then nacks rather than strand them under a lease.
PULL_TIMEOUT_SECONDS = 3.0
# How soon a paused puller notices it may pull again.
PAUSED_POLL_SECONDS = 0.2


class Puller(threading.Thread):
    """Pulls into ``take()``'s inbox while permits are free, until ``stop`` is set."""

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        path: str,
        leaser: Leaser,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="puller", daemon=True)
        self._subscriber = subscriber
        self._path = path
        self._leaser = leaser
        self._permits = leaser.permits
        self._stopping = stop
        self._inbox: queue.SimpleQueue[ReceivedMessage] = queue.SimpleQueue()
        self.wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        # A final error (the subscription was deleted, permission revoked): the consumer
        # stops.
        self.error: Exception | None = None
        # Set by the consumer: pull nothing more until cleared. Messages in hand keep
        # their leases (the consumer renews them); the rest wait in the subscription.
        self.paused = threading.Event()

    def wait(self, timeout: float) -> None:
        """Block until messages arrive (or a final error) or ``timeout`` seconds pass."""
        self.wake_reader.poll(timeout)

    def take(self) -> list[ReceivedMessage]:
        """Everything pulled since the last call, in order; never blocks."""
        while self.wake_reader.poll():
            self.wake_reader.recv_bytes()
        taken: list[ReceivedMessage] = []
        while True:
            try:
                taken.append(self._inbox.get_nowait())
            except queue.Empty:
                return taken

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
            self._leaser.hold((r.ack_id, r.message.message_id) for r in received)
            if self._stopping.is_set():
                # Pulled while stopping: give them straight back.
                self._leaser.nack([r.ack_id for r in received])
                return
            log.debug("pulled message_id=%s", ",".join(r.message.message_id for r in received))
            for message in received:
                self._inbox.put(message)
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
