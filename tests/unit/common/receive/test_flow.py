"""Flow control by messages and by bytes."""

import threading

import pytest

from common.receive.flow import FIRST_ESTIMATE_BYTES, Flow, FlowControl


def test_a_pull_asks_for_the_room_left_in_messages() -> None:
    flow = Flow(FlowControl(max_messages=10, max_bytes=10**9))
    assert flow.reserve(0) == 10
    flow.pulled(10, 4, 400)
    assert (flow.messages, flow.bytes) == (4, 400)
    assert flow.reserve(0) == 6, "what the first pull did not use is free again"


def test_no_room_in_messages_means_no_pull_until_one_is_released() -> None:
    flow = Flow(FlowControl(max_messages=2, max_bytes=10**9))
    flow.pulled(flow.reserve(0), 2, 20)
    assert flow.reserve(0.01) == 0
    threading.Timer(0.05, flow.release, (1, 10)).start()
    assert flow.reserve(5) == 1, "a release wakes a waiting pull"


def test_bytes_in_hand_stop_pulling_whatever_the_count() -> None:
    flow = Flow(FlowControl(max_messages=1000, max_bytes=4 * 1024 * 1024))
    wanted = flow.reserve(0)
    assert wanted == 4, "before any message is seen, one is assumed to be 1 MiB"
    flow.pulled(wanted, 4, 4 * 1024 * 1024)
    assert flow.reserve(0.01) == 0, "4 MiB in hand: the limit"
    flow.release(4, 4 * 1024 * 1024)
    assert flow.reserve(0) == 4


def test_the_size_estimate_follows_what_pulls_bring() -> None:
    flow = Flow(FlowControl(max_messages=1000, max_bytes=100 * 1024 * 1024))
    assert flow.reserve(0) == 100  # 100 MiB / the first estimate of 1 MiB
    flow.pulled(100, 100, 100 * 1024)  # 1 KiB each
    flow.release(100, 100 * 1024)
    wanted = flow.reserve(0)
    assert wanted == 199, "the estimate moves halfway to 1 KiB with each pull"
    for _ in range(10):
        flow.pulled(wanted, wanted, wanted * 1024)
        flow.release(wanted, wanted * 1024)
        wanted = flow.reserve(0)
    assert wanted == 1000, "small messages: the count is the limit"


def test_a_pull_always_asks_for_at_least_one() -> None:
    flow = Flow(FlowControl(max_messages=10, max_bytes=1024 * 1024))
    flow.pulled(flow.reserve(0), 1, 1024 * 1024 - 1)
    assert flow.reserve(0) == 1, "room for one byte: one message"
    assert FIRST_ESTIMATE_BYTES == 1024 * 1024


@pytest.mark.parametrize(
    "limits", [{"max_messages": 0}, {"max_bytes": 0}, {"max_lease_seconds": 0}]
)
def test_limits_must_be_positive(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        FlowControl(**limits)
