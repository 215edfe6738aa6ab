"""The held-pull proxy passes metadata both ways, the deadline, and status codes, details
and trailing metadata, for Pull and for any other method.

The emulator shows none of them, so the peer behind the proxy here is a gRPC server of the
test's own that answers with what reached it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.pubsub_v1.types import PullRequest

from tests.support.held_pulls import PULL_METHOD, UPSTREAM_SLACK_SECONDS, HeldPullProxy

pytestmark = pytest.mark.integration


class Echo(grpc.GenericRpcHandler):
    """A gRPC peer that shows what reached it: any method answers its request back, with
    the metadata it was given under ``x-test`` and ``x-test-bin`` and its time remaining
    returned as initial and trailing metadata; ``x-code`` makes it fail with that code."""

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[bytes, bytes]:
        return grpc.unary_unary_rpc_method_handler(self.echo)

    def echo(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        given = dict(context.invocation_metadata())
        context.send_initial_metadata((("echo", given["x-test"]),))
        context.set_trailing_metadata(
            (("echo-bin", given["x-test-bin"]), ("remaining", f"{context.time_remaining():.3f}"))
        )
        code = given.get("x-code")
        if isinstance(code, str):
            context.abort(grpc.StatusCode[code], f"as asked: {code}")
        return request


@pytest.fixture
def echo_through_proxy() -> Iterator[grpc.Channel]:
    """A channel to a proxy before an ``Echo`` peer."""
    executor = ThreadPoolExecutor(4)
    server = grpc.server(executor, handlers=[Echo()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with (
            HeldPullProxy(f"127.0.0.1:{port}") as proxy,
            grpc.insecure_channel(proxy.host) as channel,
        ):
            yield channel
    finally:
        server.stop(grace=None).wait()
        executor.shutdown()


@pytest.mark.parametrize("method", [PULL_METHOD, "/google.pubsub.v1.Publisher/GetTopic"])
@pytest.mark.parametrize("code", [None, "NOT_FOUND", "UNAVAILABLE"])
def test_metadata_deadline_and_status_pass_both_ways(
    echo_through_proxy: grpc.Channel, method: str, code: str | None
) -> None:
    # A request that is not empty: an empty Pull answer would be held.
    request = PullRequest.serialize(PullRequest(subscription="projects/p/subscriptions/s"))
    metadata: tuple[tuple[str, str | bytes], ...] = (
        ("x-test", "given"),
        ("x-test-bin", b"\x00\xff"),
    )
    if code is not None:
        metadata += (("x-code", code),)
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = echo_through_proxy.unary_unary(method)
    if code is None:
        response, outcome = call.with_call(request, timeout=20, metadata=metadata)
        assert response == request
        assert ("echo", "given") in outcome.initial_metadata()
        trailing = dict(outcome.trailing_metadata())
    else:
        with pytest.raises(grpc.RpcError) as raised:
            call(request, timeout=20, metadata=metadata)
        error = raised.value
        assert isinstance(error, grpc.Call)  # as every failed call is
        assert (error.code(), error.details()) == (grpc.StatusCode[code], f"as asked: {code}")
        trailing = dict(error.trailing_metadata())
    assert trailing["echo-bin"] == b"\x00\xff"
    # The caller's 20 s, give or take gRPC's clocks under load; a pull's is later: the
    # emulator must not answer before the proxy ends its hold.
    slack = UPSTREAM_SLACK_SECONDS if method == PULL_METHOD else 0
    assert 15 < float(trailing["remaining"]) <= 21 + slack
