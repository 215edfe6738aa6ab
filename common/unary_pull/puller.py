"""The pull threads: pull as many messages as the consumer has permits for, hand them over.

They only pull. The consumer's main thread does the work, acks, nacks and renews leases
(``leaser``); a pipe wakes it when messages arrive, so it can also wait on other things
at once (the work queue waits on its worker processes' pipes too).

What a pull's failure means, by its status:
- unavailable, deadline exceeded, internal, aborted, resource exhausted: Pub/Sub cannot
  be reached for now (a restart, a partition, a stopped emulator). Logged once, retried
  with capped backoff; ``not_ready`` says so to the health check meanwhile. An idle pull
  returns an empty response before its deadline (measured on the emulator: after 2 s of
  a 3 s deadline), so a deadline exceeded is a peer not answering, not an idle queue.
- not found: the subscription is gone (deleted by someone, or an emulator restarted
  empty). ``gone`` is set and pulling pauses until the consumer has created it again.
- anything else (permission denied, ...): final; ``error`` is set and the consumer stops.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import PullResponse, ReceivedMessage

from common import tracing
from common.health import HEARTBEAT_INTERVAL_SECONDS
from common.outage import Outage
from common.unary_pull.leaser import Leaser
from common.unary_pull.pulled import raw

log = logging.getLogger(__name__)

# How long one pull waits for messages. It bounds how long a stopping consumer waits for
# its last pull, whose messages it then nacks rather than strand them under a lease.
PULL_TIMEOUT_SECONDS = 3.0
# How soon a paused puller notices it may pull again.
PAUSED_POLL_SECONDS = 0.2
TRANSIENT = (
    exceptions.ServiceUnavailable,
    exceptions.DeadlineExceeded,
    exceptions.InternalServerError,
    exceptions.Aborted,
    exceptions.ResourceExhausted,
)


class Puller:
    """``threads`` pull threads on one subscription, until ``stop`` is set.

    Pulled messages go to ``take()``; ``wait()`` blocks until some arrive. The threads
    share the leaser's permits, so together they never hold more than its capacity.
    """

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        path: str,
        leaser: Leaser,
        stop: threading.Event,
        *,
        threads: int = 1,
    ) -> None:
        self._subscriber = subscriber
        self._path = path
        self.leaser = leaser
        self._permits = leaser.permits  # taken by the pull threads, released by ``leaser``
        self._stopping = stop
        self._inbox: queue.SimpleQueue[ReceivedMessage] = queue.SimpleQueue()
        self.wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self._lock = threading.Lock()
        self._outage = Outage(f"Pub/Sub (pulling from {path})", log)
        # Set by the consumer: pull nothing more until cleared. Messages in hand keep
        # their leases (the consumer renews them); the rest wait in the subscription.
        self.paused = threading.Event()
        # Set on NOT_FOUND: the subscription is gone; cleared once it exists again.
        self.gone = threading.Event()
        # A final error (permission revoked, ...): the consumer stops.
        self.error: Exception | None = None
        self.started = False

    def start(self) -> None:
        self.started = True
        for thread in self._threads:
            thread.start()
        # Whoever sets the stop event (SIGTERM), a consumer waiting in ``wait`` wakes.
        threading.Thread(target=self._wake_on_stop, name="puller-stop", daemon=True).start()

    def _wake_on_stop(self) -> None:
        self._stopping.wait()
        self.wake()

    def join(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds in all for the threads to end (after ``stop``);
        how many still run."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return sum(thread.is_alive() for thread in self._threads)

    def wake(self) -> None:
        """Wake the consumer waiting in ``wait``, from any thread."""
        self._wake_writer.send_bytes(b"")

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

    def not_ready(self) -> str:
        """Why pulling does not work now, for the health check; "" while it does."""
        if self.gone.is_set():
            return f"subscription {self._path} is gone"
        with self._lock:
            if self._outage.down:
                return f"cannot pull from {self._path}"
        return ""

    def _run(self) -> None:
        while not self._stopping.is_set() and self.error is None:
            if self.paused.is_set() or self.gone.is_set():
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
                self._failed(exc)
                continue
            with self._lock:
                self._outage.succeeded()
            self._release(wanted - len(received))
            if received:
                self._hand_over(received)

    def _pull(self, wanted: int) -> list[ReceivedMessage]:
        with tracing.step("pull", self._path) as span:
            response = self._subscriber.pull(
                subscription=self._path,
                max_messages=wanted,
                timeout=PULL_TIMEOUT_SECONDS,
                retry=None,
            )
            # Iterating the library's list wraps each message through its marshal: 21 µs
            # a message, more than the RPC (``pulled``). Wrapping the raw ones: 0.5 µs.
            pulled = PullResponse.pb(response).received_messages
            span.set_attribute(tracing.MESSAGE_COUNT, len(pulled))
        return [ReceivedMessage.wrap(pb) for pb in pulled]

    def _failed(self, exc: exceptions.GoogleAPICallError) -> None:
        if self._stopping.is_set():
            return  # a pull cut short by the consumer's shutdown (its channel closed)
        if isinstance(exc, exceptions.NotFound):
            if not self.gone.is_set():
                self.gone.set()
                self._wake_writer.send_bytes(b"")
            return
        if not isinstance(exc, TRANSIENT):
            self.error = exc
            self._wake_writer.send_bytes(b"")
            return
        with self._lock:
            delay = self._outage.failed(f"{type(exc).__name__}: {exc}")
        self._stopping.wait(delay)

    def _hand_over(self, received: list[ReceivedMessage]) -> None:
        pbs = [raw(r) for r in received]
        self.leaser.hold([pb.ack_id for pb in pbs])
        if self._stopping.is_set():
            # Pulled while stopping: give them straight back.
            self.leaser.nack([pb.ack_id for pb in pbs])
            return
        if log.isEnabledFor(logging.DEBUG):  # the join costs, even with the line off
            log.debug("pulled message_id=%s", ",".join(pb.message.message_id for pb in pbs))
        for message in received:
            self._inbox.put(message)
        self._wake_writer.send_bytes(b"")

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._permits.release()
