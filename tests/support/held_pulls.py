"""A gRPC proxy before the Pub/Sub emulator that holds idle unary Pulls, as Google Cloud does.

Google Cloud keeps a unary ``Pull`` on a subscription without messages open until messages
arrive or the caller's deadline passes, so an idle caller sees DEADLINE_EXCEEDED
(python-pubsub#343, google-cloud-python#9822). The emulator never does: it answers an idle
pull empty shortly before the deadline (tests/README.md, "Support"), which hides code that
takes a pull's DEADLINE_EXCEEDED for an outage. Between a service and the emulator
(``PUBSUB_EMULATOR_HOST=proxy.host``), this proxy makes idle pulls end as on Google Cloud.
Every other RPC, unary or streaming (StreamingPull too), is forwarded as raw bytes with
its metadata both ways, its deadline, and its status code, details and trailing metadata
(``tests.support.forwarding``).

    with HeldPullProxy(emulator_host) as proxy:
        services = Services(proxy.host, tmp_path)   # or PUBSUB_EMULATOR_HOST=proxy.host
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, Self, TypeAlias

import grpc
from google.pubsub_v1.types import PullRequest

from tests.support.forwarding import UNLIMITED, end_as, forward, forwardable

PULL_METHOD = "/google.pubsub.v1.Subscriber/Pull"
# After an early empty answer from upstream, a held pull asks again this much later.
REPULL_INTERVAL_SECONDS = 0.075
# The longest hold: a pull without a deadline (or a longer one) is answered empty then.
HOLD_CAP_SECONDS = 90.0
# An upstream pull's deadline is this much later than the proxy waits for it (``_Caller``).
UPSTREAM_SLACK_SECONDS = 2.0
# A held pull ends this long before its caller's deadline as the proxy knows it (which is
# later than the caller's own by the request's transit): the caller sees DEADLINE_EXCEEDED
# from the proxy, as from Google Cloud, rather than from its own timer (the same error).
DEADLINE_MARGIN_SECONDS = 0.1
# A caller gone this close to the end of its hold counts as having reached its deadline.
DEADLINE_TOLERANCE_SECONDS = 0.5
# A held pull or a forwarded call takes a handler thread while it lasts: enough for
# several services with a few pull threads and streams each. Threads are made when needed.
MAX_WORKERS = 128

_Pull: TypeAlias = "grpc.UnaryUnaryMultiCallable[bytes, bytes]"  # generic in the stubs only


class HeldPullProxy:
    """A proxy on a free loopback port before the Pub/Sub emulator at ``upstream``.

    ``upstream`` is the emulator's ``host:port``. ``start()`` (or ``with``) serves and
    returns ``host`` (``127.0.0.1:PORT``), the value for PUBSUB_EMULATOR_HOST. ``stop()``
    cancels every call in flight (their callers see UNAVAILABLE) and returns once their
    handlers have finished.

    A unary Pull is sent upstream as the caller sent it (so its ``max_messages`` holds)
    and held: the emulator holds it too, and an early empty answer is asked again
    REPULL_INTERVAL_SECONDS later. It is answered as soon as messages come; else it ends
    with DEADLINE_EXCEEDED just before the caller's deadline, or is answered empty after
    ``hold_cap`` seconds (a pull without a deadline, or with a longer one; ValueError
    unless > 0). ``return_immediately`` is honoured. ``pulls_open``, ``upstream_open``
    and ``deadlines_reached`` let a test wait on the proxy's state.
    """

    def __init__(self, upstream: str, *, hold_cap: float = HOLD_CAP_SECONDS) -> None:
        if hold_cap <= 0:
            raise ValueError(f"hold_cap must be over 0 seconds, not {hold_cap}")
        self._hold_cap = hold_cap
        self._executor = futures.ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="held-pulls")
        self._server = grpc.server(self._executor, handlers=[_Router(self)], options=UNLIMITED)
        self.channel = grpc.insecure_channel(upstream, options=UNLIMITED)  # to the emulator
        self._pull: _Pull = self.channel.unary_unary(PULL_METHOD)
        self._lock = threading.Lock()
        self._pulls_open = 0
        self._upstream_open = 0
        self._deadlines_reached = 0
        self._host: str | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``; RuntimeError before ``start()``."""
        if self._host is None:
            raise RuntimeError("the proxy is not started")
        return self._host

    @property
    def pulls_open(self) -> int:
        """How many unary pulls the proxy has open now (not answered yet)."""
        with self._lock:
            return self._pulls_open

    @property
    def upstream_open(self) -> int:
        """How many pulls the proxy has open upstream now, for its callers."""
        with self._lock:
            return self._upstream_open

    def _upstream(self, change: int) -> None:
        with self._lock:
            self._upstream_open += change

    @property
    def deadlines_reached(self) -> int:
        """How many held pulls have lasted to their caller's deadline since the start: ended
        by the proxy with DEADLINE_EXCEEDED or, under load, by the caller's own timer a
        moment before (the caller sees DEADLINE_EXCEEDED either way)."""
        with self._lock:
            return self._deadlines_reached

    def start(self) -> str:
        """Serve on a free loopback port, once; returns ``host``."""
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self._host = f"127.0.0.1:{port}"
        return self._host

    def stop(self) -> None:
        """Cancel every call in flight, wait for their handlers, close the upstream channel."""
        self._server.stop(grace=None).wait()
        self._executor.shutdown(wait=True)
        self.channel.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def held_pull(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """One caller's Pull (``request``: a serialized PullRequest), answered or held."""
        caller = _Caller(context, self._pull, request, self._upstream)
        remaining = context.time_remaining() - DEADLINE_MARGIN_SECONDS
        to_deadline = remaining <= self._hold_cap
        hold_until = time.monotonic() + min(remaining, self._hold_cap)
        with self._open(), contextlib.suppress(_Ended):
            if PullRequest.pb().FromString(request).return_immediately:
                return caller.answer(caller.pull(max(remaining, 0)))
            while (left := hold_until - time.monotonic()) > 0:
                # An empty PullResponse is zero bytes: any received message makes it longer.
                if response := caller.pull(left):
                    return caller.answer(response)
                # Answered empty before the hold's end: ask again a little later.
                caller.wait(min(REPULL_INTERVAL_SECONDS, hold_until - time.monotonic()))
            if not to_deadline:
                return caller.answer(b"")
            self._reached_deadline()
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        # The caller has ended. This close to its deadline, its own timer fired first.
        if to_deadline and hold_until - time.monotonic() < DEADLINE_TOLERANCE_SECONDS:
            self._reached_deadline()
        return b""  # nobody reads it

    def _reached_deadline(self) -> None:
        with self._lock:
            self._deadlines_reached += 1

    @contextlib.contextmanager
    def _open(self) -> Iterator[None]:
        with self._lock:
            self._pulls_open += 1
        try:
            yield
        finally:
            with self._lock:
                self._pulls_open -= 1


class _Router(grpc.GenericRpcHandler):
    """Pull to the proxy's hold; every other method forwarded, whatever its service."""

    def __init__(self, proxy: HeldPullProxy) -> None:
        self._proxy = proxy

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any]:
        proxy, method = self._proxy, details.method
        if method == PULL_METHOD:
            return grpc.unary_unary_rpc_method_handler(proxy.held_pull)
        return grpc.stream_stream_rpc_method_handler(
            lambda requests, context: forward(proxy.channel, method, requests, context)
        )


class _Ended(Exception):
    """A held pull's caller has ended: cancelled, gone, or the proxy stopping."""


class _Caller:
    """A held pull's caller and its request; the upstream pull in flight is cancelled as
    soon as the caller ends."""

    def __init__(
        self,
        context: grpc.ServicerContext,
        pull: _Pull,
        request: bytes,
        upstream: Callable[[int], None],
    ) -> None:
        self.context = context
        self.request = request
        self.metadata = forwardable(context.invocation_metadata())
        self._pull = pull
        self._count_upstream = upstream
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: grpc.Future[bytes] | None = None
        self.upstream: grpc.Call | None = None  # the latest upstream pull, for its metadata
        if not context.add_callback(self._end):
            self._ended.set()

    def _end(self) -> None:
        with self._lock:
            self._ended.set()
            if self._in_flight is not None:
                self._in_flight.cancel()

    def answer(self, response: bytes) -> bytes:
        """``response`` (a serialized PullResponse) with the upstream's metadata. A caller
        gone by now never gets it: as on Google Cloud, its messages come back to the
        subscription when their ack deadline passes."""
        if self.upstream is not None and self.context.is_active():
            self.context.send_initial_metadata(self.upstream.initial_metadata() or ())
            self.context.set_trailing_metadata(self.upstream.trailing_metadata() or ())
        return response

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``; _Ended as soon as the caller ends."""
        if self._ended.wait(seconds):
            raise _Ended

    def pull(self, wait: float) -> bytes:
        """The upstream's answer to the caller's request (a serialized PullResponse), or
        b"" if it has none within ``wait`` seconds. _Ended if the caller ends first; any
        other upstream error ends the caller's call with its status."""
        with self._lock:
            if self._ended.is_set():
                raise _Ended
            # The emulator answers an idle pull empty shortly before its deadline: given
            # more, it holds the pull as long as the proxy does, and nothing polls.
            future = self._pull.future(
                self.request, timeout=wait + UPSTREAM_SLACK_SECONDS, metadata=self.metadata
            )
            self._in_flight = self.upstream = future
            self._count_upstream(1)
        done = threading.Event()

        def finished(_: grpc.Future[bytes]) -> None:
            self._count_upstream(-1)
            done.set()

        future.add_done_callback(finished)
        if not done.wait(wait):
            future.cancel()  # no-op if its answer came meanwhile: then it is kept
        with self._lock:
            self._in_flight = None
        try:
            return future.result()
        except grpc.FutureCancelledError:
            if self._ended.is_set():
                raise _Ended from None
            return b""
        except grpc.RpcError:
            if future.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return b""
            end_as(self.context, future)
