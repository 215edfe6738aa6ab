"""The receive path's calls to Pub/Sub: Pull, Acknowledge, ModifyAckDeadline.

The only module that speaks to the client library here. It calls the transport's own
gRPC methods with raw protobuf requests, as the library's generated client does minus its
wrappers: these calls run for every message, and the wrappers (proto-plus conversion,
retry and timeout layers) cost more CPU than the calls themselves (benchmarks/README.md,
"Where the CPU goes"). A pull is started as a future, so that a consumer stopping can
cancel the pulls it has in flight instead of waiting out their deadline. Errors come out
as the library's own ``google.api_core.exceptions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import grpc
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1.types import (
    AcknowledgeRequest,
    GetSubscriptionRequest,
    ModifyAckDeadlineRequest,
    PullRequest,
)

from common.receive.message import Pulled

_PULL = PullRequest.pb()
_ACK = AcknowledgeRequest.pb()
_MODIFY = ModifyAckDeadlineRequest.pb()
_GET = GetSubscriptionRequest.pb()


class Cancelled(Exception):
    """A pull cancelled by its consumer (``PullCall.cancel``)."""


class PullCall(Protocol):
    """A pull in flight: a ``grpc.Future``'s surface."""

    def result(self, timeout: float | None = None) -> Any: ...
    def cancel(self) -> bool: ...


class Rpc:
    """The calls of one subscriber client; thread-safe, as the client's channel is."""

    def __init__(self, client: pubsub_v1.SubscriberClient) -> None:
        transport = client.transport
        self._pull = transport.pull
        self._acknowledge = transport.acknowledge
        self._modify = transport.modify_ack_deadline
        self._get = transport.get_subscription

    def start_pull(self, path: str, max_messages: int, timeout: float) -> PullCall:
        """Start a pull of up to ``max_messages`` from the subscription at ``path``,
        with a deadline of ``timeout`` seconds; ``pulled`` reads its answer."""
        request = _PULL(subscription=path, max_messages=max_messages)
        call: PullCall = self._pull.future(request, timeout=timeout, metadata=_routing(path))
        return call

    @staticmethod
    def pulled(call: PullCall) -> Sequence[Pulled]:
        """The messages of a pull started by ``start_pull``, waiting for them. Raises the
        call's error as a ``GoogleAPICallError``, or ``Cancelled``."""
        try:
            response = call.result()
        except grpc.FutureCancelledError:
            raise Cancelled from None
        except grpc.RpcError as exc:
            if isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.CANCELLED:
                raise Cancelled from None
            raise exceptions.from_grpc_error(exc) from exc  # type: ignore[no-untyped-call]
        received: Sequence[Pulled] = type(response).pb(response).received_messages
        return received

    def acknowledge(self, path: str, ack_ids: list[str], timeout: float) -> None:
        """Ack ``ack_ids``; raises ``GoogleAPICallError``."""
        self._call(self._acknowledge, _ACK(subscription=path, ack_ids=ack_ids), path, timeout)

    def modify_ack_deadline(
        self, path: str, ack_ids: list[str], seconds: int, timeout: float
    ) -> None:
        """Set the lease of ``ack_ids`` to ``seconds`` from now (0: nack them)."""
        request = _MODIFY(subscription=path, ack_ids=ack_ids, ack_deadline_seconds=seconds)
        self._call(self._modify, request, path, timeout)

    def get_subscription(self, path: str, timeout: float) -> None:
        """Read the subscription: a call that must answer (its result is not needed)."""
        self._call(self._get, _GET(subscription=path), path, timeout)

    @staticmethod
    def _call(method: Any, request: Any, path: str, timeout: float) -> None:
        try:
            method(request, timeout=timeout, metadata=_routing(path))
        except grpc.RpcError as exc:
            raise exceptions.from_grpc_error(exc) from exc  # type: ignore[no-untyped-call]


def _routing(path: str) -> tuple[tuple[str, str], ...]:
    # The header the generated client sends with every call on a subscription.
    return (("x-goog-request-params", f"subscription={path}"),)
