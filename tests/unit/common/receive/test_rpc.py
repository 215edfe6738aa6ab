"""The calls to Pub/Sub: raw requests out, the library's exceptions back."""

import grpc
import pytest
from google.api_core import exceptions

from common.receive.rpc import Cancelled, Rpc
from tests.support.fake_pubsub import FakeSubscriber

PATH = "projects/p/subscriptions/s"


def test_a_pull_returns_the_raw_messages() -> None:
    server = FakeSubscriber()
    server.publish(b"a")
    rpc = Rpc(server)
    (pb,) = rpc.pulled(rpc.start_pull(PATH, 10, 1.0))
    assert (pb.ack_id, pb.message.data) == ("ack-1", b"a")
    assert server.calls.pulls == [10]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, exceptions.DeadlineExceeded),
        (grpc.StatusCode.UNAVAILABLE, exceptions.ServiceUnavailable),
        (grpc.StatusCode.NOT_FOUND, exceptions.NotFound),
        (grpc.StatusCode.CANCELLED, Cancelled),
    ],
)
def test_errors_come_back_as_the_library_names_them(
    code: grpc.StatusCode, error: type[Exception]
) -> None:
    server = FakeSubscriber()
    server.fail("pull", code)
    rpc = Rpc(server)
    with pytest.raises(error):
        rpc.pulled(rpc.start_pull(PATH, 1, 1.0))


def test_a_cancelled_pull_raises_cancelled() -> None:
    rpc = Rpc(FakeSubscriber())
    call = rpc.start_pull(PATH, 1, 60.0)
    call.cancel()
    with pytest.raises(Cancelled):
        rpc.pulled(call)


def test_acks_and_lease_changes() -> None:
    server = FakeSubscriber()
    rpc = Rpc(server)
    rpc.acknowledge(PATH, ["a", "b"], 1.0)
    rpc.modify_ack_deadline(PATH, ["c"], 0, 1.0)
    rpc.get_subscription(PATH, 1.0)
    assert server.calls.acks == [["a", "b"]]
    assert server.calls.leases == [(["c"], 0)]
    server.fail("ack", grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(exceptions.ServiceUnavailable):
        rpc.acknowledge(PATH, ["d"], 1.0)
