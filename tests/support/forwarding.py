"""Forwarding any gRPC call as raw bytes, for the held-pull proxy (``held_pulls``): its
metadata both ways, its deadline, and its status code, details and trailing metadata.

Apart from the proxy's one concern, holding idle pulls: this is plain gRPC plumbing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import grpc

# The client's and the emulator's own limits apply: the proxy adds none.
UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
# gRPC gives a call without a deadline about 9.2e18 s remaining.
_NO_DEADLINE_SECONDS = 1e9
# The proxy's channel sends its own user agent: gRPC ignores one given as metadata.
_NOT_FORWARDED = {"user-agent"}

Metadata = tuple[tuple[str, str | bytes], ...]


def forward(
    channel: grpc.Channel, method: str, requests: Iterator[bytes], context: grpc.ServicerContext
) -> Iterator[bytes]:
    """Any RPC on ``channel`` as a stream both ways (a unary one is a stream of one), in
    raw bytes; cancelled upstream when the caller goes away."""
    multicallable: grpc.StreamStreamMultiCallable[bytes, bytes]
    multicallable = channel.stream_stream(method)
    call = multicallable(
        _until_ended(requests),
        timeout=_timeout(context),
        metadata=forwardable(context.invocation_metadata()),
    )

    def cancel() -> None:
        call.cancel()

    context.add_callback(cancel)
    try:
        # Upstream's headers come with its first answer, or with its status.
        context.send_initial_metadata(call.initial_metadata() or ())
        yield from call
    except grpc.RpcError:
        if context.is_active():  # else the caller has gone: nobody reads a status
            end_as(context, call)
        return
    context.set_trailing_metadata(call.trailing_metadata() or ())


def end_as(context: grpc.ServicerContext, upstream: grpc.Call) -> NoReturn:
    """End the caller's call with the upstream call's status (raises, as ``abort`` does)."""
    context.set_trailing_metadata(upstream.trailing_metadata() or ())
    context.abort(upstream.code(), upstream.details() or "")


def forwardable(metadata: Metadata) -> Metadata:
    """The caller's metadata, less what the proxy's own channel sends."""
    return tuple((key, value) for key, value in metadata if key not in _NOT_FORWARDED)


def _until_ended(requests: Iterator[bytes]) -> Iterator[bytes]:
    """The caller's requests until it half-closes or goes away. Going away cancels the
    upstream call (``forward``), so gRPC's request thread has no error to log."""
    try:
        yield from requests
    except grpc.RpcError:
        return


def _timeout(context: grpc.RpcContext) -> float | None:
    """The caller's time left in seconds, for the upstream call; None without a deadline."""
    remaining = context.time_remaining()
    return None if remaining > _NO_DEADLINE_SECONDS else remaining
