"""One running subscription: starts the threads of ``puller``, ``leaser`` and ``acker``,
recovers a subscription Pub/Sub lost, and stops them all in a fixed order.

The shutdown order, as the client library's streaming pull manager keeps it, each step
one debug line, run once however often ``cancel`` is called:

1. stop pulling: no pull starts, and the pulls in flight are cancelled, as the library
   closes its stream (what Pub/Sub had put in a cancelled pull comes back when its lease
   lapses: the subscription's ack deadline);
2. let the callbacks settle what they hold, within ``drain_seconds``;
3. end the pull threads;
4. hand back (nack) whatever is still held, and stop renewing leases;
5. send the queued acks, nacks and lease changes (``ACK_FLUSH_SECONDS``), then stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.logs import error_text, fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS, ShutdownRequested
from common.receive.acker import Acker
from common.receive.counts import UNOBSERVED, Counts, Observer
from common.receive.flow import Flow, FlowControl
from common.receive.leaser import Leaser
from common.receive.message import Pulled, Received
from common.receive.puller import Puller
from common.receive.rpc import Rpc

log = logging.getLogger(__name__)

# On the way out, how long the last acks and nacks may take to go out.
ACK_FLUSH_SECONDS = 2.0
# How long cancelled pulls take to end.
CANCELLED_PULLS_SECONDS = 1.0
# The lease when a subscription reports no ack deadline: Pub/Sub's own default.
DEFAULT_ACK_DEADLINE_SECONDS = 10

DEFAULT_FLOW_CONTROL = FlowControl()
Callback = Callable[[Received], None]
# Provision the subscription again after Pub/Sub lost it, waiting while Pub/Sub is away
# (raises ShutdownRequested once the service stops); returns it as granted.
Recover = Callable[[], types.Subscription]


class ReceiveFuture:
    """A subscription being received from, as the library's ``StreamingPullFuture``:
    ``cancel()`` stops it; ``result()`` waits for that. Health reads ``not_ready``."""

    def __init__(
        self,
        client: pubsub_v1.SubscriberClient,
        subscription: types.Subscription,
        callback: Callback,
        *,
        flow_control: FlowControl,
        pull_threads: int,
        drain_seconds: float,
        recover: Recover | None,
    ) -> None:
        self.subscription = path = subscription.name
        self.counts = counts = Counts()  # and its observer: metrics (common.receive.counts)
        self._callback = callback
        self._drain_seconds = drain_seconds
        self._rpc = rpc = Rpc(client)
        self._flow = Flow(flow_control)
        self._stopping = threading.Event()
        self._recovery = _Recovery(self, recover)
        self._acker = Acker(rpc, path, self._release, counts=counts)
        self._leaser = Leaser(
            self._acker,
            lease_seconds=_lease_seconds(subscription),
            max_lease_seconds=flow_control.max_lease_seconds,
            on_let_go=lambda received: self._flow.release(1, received.size),
        )
        self._puller = Puller(
            rpc,
            path,
            self._flow,
            self._stopping,
            threads=pull_threads,
            deliver=self._deliver,
            on_gone=self._recovery.recover,
            on_error=self._fail,
            probe=lambda: rpc.get_subscription(path, ADMIN_CALL_TIMEOUT_SECONDS),
            counts=counts,
        )
        self.pull_outage = self._puller.outage  # read by metrics
        self._error: Exception | None = None
        self._cancelled = threading.Lock()  # taken by the first cancel
        self._done = threading.Event()

    def start(self) -> None:
        self._leaser.start()
        self._puller.start()
        log.info(
            "listening on %s (lease %ds)",
            self.subscription,
            self._leaser.lease_seconds,
            extra=fields(event="listening", subscription=self.subscription),
        )

    @property
    def not_ready(self) -> str:
        """Why messages are not being received now, for a health check; "" while they are."""
        if self._error is not None:
            return f"stopped receiving from {self.subscription}: {self._error}"
        if self._recovery.lost:
            return f"subscription {self.subscription} is gone; provisioning it again"
        if self._puller.outage.down:
            return f"cannot pull from {self.subscription}"
        return ""

    @property
    def held_messages(self) -> int:
        """Messages in hand: pulled, neither acked nor nacked nor let go."""
        return self._leaser.count

    @property
    def held_bytes(self) -> int:
        return self._flow.bytes

    @property
    def lease_seconds(self) -> int:
        return self._leaser.lease_seconds

    def cancel(self) -> None:
        """Begin the ordered shutdown (module docstring), in the background; idempotent."""
        if not self._cancelled.acquire(blocking=False):
            return
        self._stopping.set()
        self._puller.cancel_pulls()
        threading.Thread(target=self._shutdown, name="receive-shutdown", daemon=True).start()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the shutdown to complete; raises the error
        that ended receiving, if one did, or ``TimeoutError``."""
        if not self._done.wait(timeout):
            raise futures.TimeoutError(f"{self.subscription} still shutting down")
        if self._error is not None:
            raise self._error

    def _deliver(self, pulled: Sequence[Pulled]) -> None:
        now = time.monotonic()
        settle = self._acker.settle
        received = [Received(pb, settle, now) for pb in pulled]
        self._leaser.hold(received)
        if self._stopping.is_set():
            for message in received:
                message.nack()
            return
        for message in received:
            try:
                self._callback(message)
            except Exception as exc:  # the callback's own fault: that message's, not ours
                message_id = message.message_id
                log.error(
                    "callback failed on message_id=%s (%s); nacked",
                    message_id,
                    error_text(exc),
                    extra=fields(event="callback failed", message_id=message_id),
                )
                message.nack()

    def _release(self, settled: list[Received]) -> list[Received]:
        held = self._leaser.release(settled)
        self._flow.release(len(held), sum(message.size for message in held))
        return held

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
            log.error("receiving from %s failed: %s", self.subscription, error_text(exc))
        self.cancel()

    def _shutdown(self) -> None:
        path = self.subscription
        _step(path, "stopped pulling")
        if self._leaser.wait_empty(self._drain_seconds):
            _step(path, "settled")  # every message held
        _step(path, "pull threads stopped", running=self._puller.join(CANCELLED_PULLS_SECONDS))
        self._leaser.stop()
        if held := [message.ack_id for message in self._leaser.take_all()]:
            self._acker.modify(held, 0)
            extra = fields(event="handed back", count=len(held))
            log.info("handing back %d message(s) still held at shutdown", len(held), extra=extra)
        if self._acker.close(ACK_FLUSH_SECONDS):
            _step(path, "flushed")  # acks, nacks and lease changes sent
        else:
            log.warning("acks and leases still unsent after %gs; leaving them", ACK_FLUSH_SECONDS)
        self._done.set()


class _Recovery:
    """A subscription Pub/Sub lost (NOT_FOUND on a pull), provisioned again through
    ``recover`` by the first pull thread to see it, while the others wait."""

    def __init__(self, future: ReceiveFuture, recover: Recover | None) -> None:
        self._future = future
        self._recover = recover
        self._lock = threading.Lock()
        self.lost = False

    def recover(self, generation: int) -> None:
        future, path = self._future, self._future.subscription
        with self._lock:
            if generation != future._puller.generation or future._stopping.is_set():
                return  # another pull thread recovered it meanwhile
            if self._recover is None:
                gone = exceptions.NotFound(f"subscription {path} is gone")  # type: ignore[no-untyped-call]
                future._fail(gone)
                return
            self.lost = True
            log.warning(
                "subscription %s is gone; provisioning it again",
                path,
                extra=fields(event="subscription gone", subscription=path),
            )
            try:
                granted = self._recover()
            except ShutdownRequested:
                return
            except Exception as exc:  # a conflict with what exists, a permission: final
                future._fail(exc)
                return
            future._leaser.lease_seconds = _lease_seconds(granted)
            future._puller.generation += 1
            self.lost = False
            log.info(
                "pulling from %s again",
                path,
                extra=fields(event="subscription restored", subscription=path),
            )


def _step(path: str, event: str, **values: object) -> None:
    """The shutdown's one debug line for a step."""
    shown = "".join(f" {key}={value}" for key, value in values.items())
    log.debug(
        "%s: %s%s", path, event, shown, extra=fields(event=event, subscription=path, **values)
    )


def _lease_seconds(subscription: types.Subscription) -> int:
    return subscription.ack_deadline_seconds or DEFAULT_ACK_DEADLINE_SECONDS


def subscribe(
    client: pubsub_v1.SubscriberClient,
    subscription: types.Subscription,
    callback: Callback,
    *,
    flow_control: FlowControl = DEFAULT_FLOW_CONTROL,
    pull_threads: int = 1,
    drain_seconds: float = 0.0,
    recover: Recover | None = None,
    observer: Observer = UNOBSERVED,
) -> ReceiveFuture:
    """Receive from ``subscription`` (as provisioned: its ``name`` and the ack deadline
    Pub/Sub granted, which is the lease), calling ``callback`` with each message.

    The callback runs on a pull thread, several at once with ``pull_threads`` > 1: it
    should hand the message on quickly and settle it later, from any thread, with
    ``ack()`` or ``nack()``. A callback that raises nacks its message. ``recover``
    provisions the subscription again after Pub/Sub lost it; without it, a lost
    subscription ends receiving with ``NotFound``. On ``cancel()``, the callbacks' held
    messages get ``drain_seconds`` to be settled; the rest are handed back. ``observer``
    (``common.receive.counts``; ``common.metrics.consumer``) is told what happens.
    """
    future = ReceiveFuture(
        client,
        subscription,
        callback,
        flow_control=flow_control,
        pull_threads=pull_threads,
        drain_seconds=drain_seconds,
        recover=recover,
    )
    future.counts.observer = observer
    observer.watch(future)
    future.start()
    return future
