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

from common.logs import fields
from common.outage import ADMIN_CALL_TIMEOUT_SECONDS, ShutdownRequested
from common.receive.acker import Acker
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
# Provision the subscription again after Pub/Sub lost it, waiting while Pub/Sub is away;
# given the stop event (raises ShutdownRequested once it is set); returns it as granted.
Recover = Callable[[threading.Event], types.Subscription]


class ReceiveFuture:
    """A subscription being received from; ``cancel()`` stops it, ``result()`` waits.

    As the client library's ``StreamingPullFuture``: ``result(timeout)`` returns once the
    shutdown is complete, raises what ended it if it failed (a permission revoked, a
    subscription lost that could not be provisioned again), or ``TimeoutError``.
    Health reads ``not_ready`` and the counts below.
    """

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subscription = path = subscription.name
        self._callback = callback
        self._drain_seconds = drain_seconds
        self._recover = recover
        self._clock = clock
        self._rpc = rpc = Rpc(client)
        self._flow = Flow(flow_control)
        self._stopping = threading.Event()
        self._acker = Acker(rpc, path, self._release)
        self._leaser = Leaser(
            self._acker,
            lease_seconds=_lease_seconds(subscription),
            max_lease_seconds=flow_control.max_lease_seconds,
            on_let_go=lambda received: self._flow.release(1, received.size),
            clock=clock,
        )
        self._puller = Puller(
            rpc,
            path,
            self._flow,
            self._stopping,
            threads=pull_threads,
            deliver=self._deliver,
            on_gone=self._gone,
            on_error=self._fail,
            probe=lambda: rpc.get_subscription(path, ADMIN_CALL_TIMEOUT_SECONDS),
            clock=clock,
        )
        self._recovering = threading.Lock()
        self._lost = False
        self._error: Exception | None = None
        self._cancelled = False
        self._cancel_lock = threading.Lock()
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
        if self._lost:
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
        with self._cancel_lock:
            if self._cancelled:
                return
            self._cancelled = True
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
        now = self._clock()
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
                log.error(
                    "callback failed on message_id=%s (%s: %s); nacked",
                    message.message_id,
                    type(exc).__name__,
                    exc,
                    extra=fields(event="callback failed", message_id=message.message_id),
                )
                message.nack()

    def _release(self, settled: list[Received]) -> list[Received]:
        held = self._leaser.release(settled)
        self._flow.release(len(held), sum(message.size for message in held))
        return held

    def _gone(self, generation: int) -> None:
        with self._recovering:
            if generation != self._puller.generation or self._stopping.is_set():
                return  # another pull thread recovered it meanwhile
            if self._recover is None:
                gone = exceptions.NotFound(f"subscription {self.subscription} is gone")  # type: ignore[no-untyped-call]
                self._fail(gone)
                return
            self._lost = True
            log.warning(
                "subscription %s is gone; provisioning it again",
                self.subscription,
                extra=fields(event="subscription gone", subscription=self.subscription),
            )
            try:
                granted = self._recover(self._stopping)
            except ShutdownRequested:
                return
            except Exception as exc:  # a conflict with what exists, a permission: final
                self._fail(exc)
                return
            self._leaser.lease_seconds = _lease_seconds(granted)
            self._puller.generation += 1
            self._lost = False
            log.info(
                "pulling from %s again",
                self.subscription,
                extra=fields(event="subscription restored", subscription=self.subscription),
            )

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
            log.error(
                "receiving from %s failed: %s: %s", self.subscription, type(exc).__name__, exc
            )
        self.cancel()

    def _shutdown(self) -> None:
        path = self.subscription
        _step(path, "stopped pulling")
        if self._leaser.wait_empty(self._drain_seconds):
            _step(path, "settled")  # every message held
        _step(path, "pull threads stopped", running=self._puller.join(CANCELLED_PULLS_SECONDS))
        self._leaser.stop()
        if held := self._leaser.take_all():
            self._acker.modify([message.ack_id for message in held], 0)
            self._flow.release(len(held), sum(message.size for message in held))
            log.info(
                "handing back %d message(s) still held at shutdown",
                len(held),
                extra=fields(event="handed back", count=len(held)),
            )
        if self._acker.close(ACK_FLUSH_SECONDS):
            _step(path, "flushed")  # acks, nacks and lease changes sent
        else:
            log.warning("acks and leases still unsent after %gs; leaving them", ACK_FLUSH_SECONDS)
        self._done.set()


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
) -> ReceiveFuture:
    """Receive from ``subscription`` (as provisioned: its ``name`` and the ack deadline
    Pub/Sub granted, which is the lease), calling ``callback`` with each message.

    The callback runs on a pull thread, several at once with ``pull_threads`` > 1: it
    should hand the message on quickly and settle it later, from any thread, with
    ``ack()`` or ``nack()``. A callback that raises nacks its message. ``recover``
    provisions the subscription again after Pub/Sub lost it; without it, a lost
    subscription ends receiving with ``NotFound``. On ``cancel()``, the callbacks' held
    messages get ``drain_seconds`` to be settled; the rest are handed back.
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
    future.start()
    return future
