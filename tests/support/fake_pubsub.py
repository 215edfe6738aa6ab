"""A fake Pub/Sub at the RPC boundary, for unit tests of the receive path's concurrency.

``FakeSubscriber`` stands where ``pubsub_v1.SubscriberClient`` does for
``common.receive``: its ``transport`` has the four gRPC methods the receive path calls
(Pull as a future, Acknowledge, ModifyAckDeadline, GetSubscription), served from memory.
Messages are ``publish``ed into it; acks and lease changes are recorded in order; errors
are queued per method as gRPC status codes. An idle pull answers as Google Cloud does
(held to its deadline, then DEADLINE_EXCEEDED) or, with ``idle="early"``, empty after
``early_seconds`` as the emulator does. Integration tests use the real emulator instead.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import grpc
from google.pubsub_v1.types import PubsubMessage, PullResponse, ReceivedMessage, Subscription

from common.receive import Received


class FakeRpcError(grpc.RpcError, grpc.Call):
    """What a gRPC call raises: a status code and details."""

    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        super().__init__(f"{code.name}: {details}")
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> tuple[()]:
        return ()

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


@dataclass
class Calls:
    """What the fake was asked, in order."""

    pulls: list[int] = field(default_factory=list)  # max_messages of each
    acks: list[list[str]] = field(default_factory=list)
    leases: list[tuple[list[str], int]] = field(default_factory=list)  # (ack IDs, seconds)
    gets: int = 0

    def acked(self) -> list[str]:
        return [ack_id for call in self.acks for ack_id in call]

    def nacked(self) -> list[str]:
        return [ack_id for ids, seconds in self.leases if seconds == 0 for ack_id in ids]

    def renewed(self) -> list[str]:
        return [ack_id for ids, seconds in self.leases if seconds > 0 for ack_id in ids]


class FakePull:
    """A pull in flight, as ``grpc.UnaryUnaryMultiCallable.future`` returns it."""

    def __init__(self, server: FakeSubscriber, max_messages: int, timeout: float) -> None:
        self._server = server
        self._max = max_messages
        self._deadline = time.monotonic() + timeout
        self._cancelled = False

    def cancel(self) -> bool:
        with self._server.changed:
            self._cancelled = True
            self._server.changed.notify_all()
        return True

    def result(self, timeout: float | None = None) -> PullResponse:
        server = self._server
        with server.changed:
            early = time.monotonic() + server.early_seconds
            while True:
                if self._cancelled:
                    raise grpc.FutureCancelledError()
                if server.errors["pull"]:
                    raise FakeRpcError(server.errors["pull"].popleft())
                if server.queue:
                    count = min(self._max, len(server.queue))
                    taken = [server.queue.popleft() for _ in range(count)]
                    return PullResponse(received_messages=taken)
                now = time.monotonic()
                if server.idle == "early" and now >= early:
                    return PullResponse()
                if now >= self._deadline:
                    raise FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
                end = early if server.idle == "early" else self._deadline
                server.changed.wait(min(end, self._deadline) - now)


class _Method:
    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def __call__(self, request: Any, timeout: float, metadata: Any = ()) -> Any:
        return self._call(request, timeout)

    def future(self, request: Any, timeout: float, metadata: Any = ()) -> Any:
        return self._call(request, timeout)


class FakeSubscriber:
    """In-memory Pub/Sub for one subscription; thread-safe."""

    def __init__(
        self,
        *,
        idle: Literal["deadline", "early"] = "deadline",
        early_seconds: float = 0.05,
    ) -> None:
        self.idle = idle
        self.early_seconds = early_seconds
        self.queue: collections.deque[ReceivedMessage] = collections.deque()
        self.errors: dict[str, collections.deque[grpc.StatusCode]] = collections.defaultdict(
            collections.deque
        )
        self.calls = Calls()
        self.changed = threading.Condition()
        self._ids = itertools.count(1)
        self.transport = self
        self.pull = _Method(self._pull)
        self.acknowledge = _Method(self._acknowledge)
        self.modify_ack_deadline = _Method(self._modify)
        self.get_subscription = _Method(self._get)

    def publish(
        self, data: bytes = b"x", attempt: int = 0, attributes: dict[str, str] | None = None
    ) -> str:
        """Queue a message for the next pull; returns its ack ID (``ack-N``, ID ``N``)."""
        number = next(self._ids)
        with self.changed:
            self.queue.append(received_message(data, str(number), attempt, attributes))
            self.changed.notify_all()
        return f"ack-{number}"

    def fail(self, method: str, *codes: grpc.StatusCode) -> None:
        """The next calls of ``method`` ("pull", "ack", "modify", "get") fail with ``codes``."""
        with self.changed:
            self.errors[method].extend(codes)
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[Calls], bool], timeout: float = 5.0) -> None:
        """Until ``predicate(calls)`` holds; ``AssertionError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.calls):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls: {self.calls}")
            time.sleep(0.005)

    def _pull(self, request: Any, timeout: float) -> FakePull:
        self.calls.pulls.append(request.max_messages)
        return FakePull(self, request.max_messages, timeout)

    def _raise_queued(self, method: str) -> None:
        with self.changed:
            if self.errors[method]:
                raise FakeRpcError(self.errors[method].popleft())

    def _acknowledge(self, request: Any, timeout: float) -> None:
        self._raise_queued("ack")
        self.calls.acks.append(list(request.ack_ids))

    def _modify(self, request: Any, timeout: float) -> None:
        self._raise_queued("modify")
        self.calls.leases.append((list(request.ack_ids), request.ack_deadline_seconds))

    def _get(self, request: Any, timeout: float) -> Subscription:
        self._raise_queued("get")
        self.calls.gets += 1
        return Subscription(name=request.subscription)


def received_message(
    data: bytes = b"x",
    message_id: str = "1",
    attempt: int = 0,
    attributes: dict[str, str] | None = None,
) -> ReceivedMessage:
    message = PubsubMessage(
        data=data,
        message_id=message_id,
        attributes=attributes or {},
        publish_time=datetime(2026, 11, 22, 13, 45, tzinfo=UTC),
    )
    return ReceivedMessage(ack_id=f"ack-{message_id}", message=message, delivery_attempt=attempt)


def received(  # noqa: PLR0917 - a test's shorthand for a message
    data: bytes = b"x",
    message_id: str = "1",
    attempt: int = 0,
    attributes: dict[str, str] | None = None,
    settle: Callable[[Received, bool], None] = lambda message, ack: None,
    pulled_at: float = 0.0,
) -> Received:
    """A ``Received`` outside any subscription; ``settle`` is told of its ack or nack."""
    pb = ReceivedMessage.pb(received_message(data, message_id, attempt, attributes))
    return Received(pb, settle, pulled_at)
