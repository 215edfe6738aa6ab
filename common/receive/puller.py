"""Pull threads: take room from flow control, pull, hand the messages over.

What a pull's end means:

- messages: hand them over; Pub/Sub answers.
- DEADLINE_EXCEEDED: an empty answer. Google Cloud holds an idle pull open until the
  caller's deadline (the emulator answers sooner, which once hid this): pull again at
  once, no outage, no backoff. Such an answer proves nothing about reachability, so
  unless something proved it lately (``PROBE_SECONDS``), ``probe`` makes a call that
  must answer, and an outage is counted only when that one fails.
- UNAVAILABLE and the like (``TRANSIENT``): an outage, logged once, retried with backoff.
- NOT_FOUND: the subscription is gone (deleted, an emulator restarted empty): ``on_gone``.
- anything else (permission revoked): final; ``on_error`` and the threads stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from google.api_core import exceptions

from common import tracing
from common.outage import Outage
from common.receive.counts import Counts
from common.receive.flow import Flow
from common.receive.message import Pulled
from common.receive.rpc import Cancelled, PullCall, Rpc

log = logging.getLogger(__name__)

# How long a pull may wait for messages: on Google Cloud, how long an idle pull is held.
PULL_TIMEOUT_SECONDS = 10.0
# After an empty answer by deadline, reachability is probed unless proved this recently:
# as long as one pull, so that an idle consumer cut off from Pub/Sub says so within a
# pull and a probe (on Google Cloud, idle: one GetSubscription a pull).
PROBE_SECONDS = PULL_TIMEOUT_SECONDS
# How long a thread waits for room in flow control before it looks at its stop event.
ROOM_WAIT_SECONDS = 1.0
TRANSIENT = (
    exceptions.ServiceUnavailable,
    exceptions.InternalServerError,
    exceptions.Aborted,
    exceptions.ResourceExhausted,
    exceptions.Unknown,
)


class Puller:
    """``threads`` pull threads on the subscription at ``path`` until ``stopping`` is set.

    ``deliver(messages)`` takes each pull's messages (a non-empty list) on the pulling
    thread. ``on_gone(generation)`` is called on NOT_FOUND with the ``generation`` the
    pull began in, and returns once the subscription exists again; ``on_error(exc)`` on
    a final error. ``probe()`` is a call that must answer (raises ``GoogleAPICallError``).
    Each pull is added to ``counts`` and told to its observer (``common.receive.counts``).
    """

    def __init__(
        self,
        rpc: Rpc,
        path: str,
        flow: Flow,
        stopping: threading.Event,
        *,
        threads: int,
        deliver: Callable[[Sequence[Pulled]], None],
        on_gone: Callable[[int], None],
        on_error: Callable[[Exception], None],
        probe: Callable[[], None],
        counts: Counts | None = None,
    ) -> None:
        self._rpc = rpc
        self.counts = counts or Counts()
        self._path = path
        self._flow = flow
        self._stopping = stopping
        self._deliver = deliver
        self._on_gone = on_gone
        self._on_error = on_error
        self._probe = probe
        self.outage = Outage(f"Pub/Sub (pulling from {path})")
        # Bumped by the consumer each time the subscription is provisioned again.
        self.generation = 0
        self._proved_at = time.monotonic()
        self._calls: set[PullCall] = set()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"puller-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def cancel_pulls(self) -> None:
        """Cancel the pulls in flight (after ``stopping`` is set): they end at once."""
        with self._lock:
            calls = list(self._calls)
        for call in calls:
            call.cancel()

    def join(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds in all for the threads to end; how many still run."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return sum(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        while not self._stopping.is_set():
            wanted = self._flow.reserve(ROOM_WAIT_SECONDS)
            if wanted:
                self._pull_once(wanted)

    def _pull_once(self, wanted: int) -> None:
        generation = self.generation
        pulled: Sequence[Pulled] = ()
        began = time.monotonic()
        try:
            with tracing.step("pull", self._path) as span:
                call = self._rpc.start_pull(self._path, wanted, PULL_TIMEOUT_SECONDS)
                with self._lock:
                    self._calls.add(call)
                if self._stopping.is_set():
                    call.cancel()  # stopped since it started, too late for cancel_pulls
                try:
                    pulled = self._rpc.pulled(call)
                finally:
                    with self._lock:
                        self._calls.discard(call)
                span.set_attribute(tracing.MESSAGE_COUNT, len(pulled))
        except exceptions.DeadlineExceeded:
            self._flow.pulled(wanted, 0, 0)  # an empty answer
            self.counts.observer.operation("pull", time.monotonic() - began, None)
            self._empty_by_deadline()
            return
        except (Cancelled, exceptions.GoogleAPICallError) as exc:
            self._flow.pulled(wanted, 0, 0)
            if not self._stopping.is_set():  # not a pull cut short by the shutdown
                self.counts.pull_failed()
                self.counts.observer.operation("pull", time.monotonic() - began, exc)
            self._failed(exc, generation)
            return
        size = sum(len(pb.message.data) for pb in pulled)
        self._flow.pulled(wanted, len(pulled), size)
        self.counts.pulled(len(pulled))
        self.counts.observer.operation("pull", time.monotonic() - began, None)
        self._proved_at = time.monotonic()
        self.outage.succeeded()
        if pulled:
            self._deliver(pulled)

    def _empty_by_deadline(self) -> None:
        """An idle pull held to its deadline: no news, unless nothing proved Pub/Sub
        reachable for ``PROBE_SECONDS``; then a call that must answer decides."""
        if self.outage.down is False and time.monotonic() - self._proved_at < PROBE_SECONDS:
            return
        try:
            self._probe()
        except exceptions.GoogleAPICallError as exc:
            if not self._stopping.is_set():
                self._stopping.wait(self.outage.failed(f"{type(exc).__name__}: {exc}"))
            return
        self._proved_at = time.monotonic()
        self.outage.succeeded()

    def _failed(self, exc: Exception, generation: int) -> None:
        if self._stopping.is_set():
            return  # a pull cut short by the consumer's shutdown
        if isinstance(exc, exceptions.NotFound):
            self._on_gone(generation)
        elif isinstance(exc, (*TRANSIENT, Cancelled)):
            self._stopping.wait(self.outage.failed(f"{type(exc).__name__}: {exc}"))
        else:
            self._on_error(exc)
