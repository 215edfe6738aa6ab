"""Leases of the messages in hand: renewed before they lapse, with jitter; let go at the cap."""

import logging
import random

import pytest

from common.receive.acker import Acker
from common.receive.leaser import RENEW_MARGIN_SECONDS, WAKE_SHARE, Leaser
from common.receive.message import Received
from common.receive.rpc import Rpc
from tests.support.fake_pubsub import FakeSubscriber, received

PATH = "projects/p/subscriptions/s"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> FakeSubscriber:
    return FakeSubscriber()


def leaser_for(
    server: FakeSubscriber, clock: Clock, let_go: list[Received] | None = None
) -> tuple[Leaser, Acker]:
    acker = Acker(Rpc(server), PATH, lambda settled: settled)
    leaser = Leaser(
        acker,
        lease_seconds=10,
        max_lease_seconds=60,
        on_let_go=(let_go if let_go is not None else []).append,
        clock=clock,
        rng=random.Random(7),
    )
    return leaser, acker


def test_a_round_renews_only_the_leases_that_would_lapse_before_the_next(
    server: FakeSubscriber,
) -> None:
    clock = Clock()
    leaser, acker = leaser_for(server, clock)
    leaser.hold([received(message_id="old", pulled_at=0.0)])
    clock.now = 4.0
    leaser.hold([received(message_id="new", pulled_at=4.0)])
    # The old lease lapses at 10, within the next wait (at most 5 s) and the margin.
    leaser.renew()
    assert acker.close(5)
    assert server.calls.leases == [(["ack-old"], 10)]


def test_renewed_leases_run_from_their_renewal(server: FakeSubscriber) -> None:
    clock = Clock()
    leaser, acker = leaser_for(server, clock)
    leaser.hold([received(pulled_at=0.0)])
    for now in (2.0, 4.0, 6.0, 8.0):
        clock.now = now
        leaser.renew()
    assert acker.close(5)
    # A round renews what lapses within the longest wait plus the margin (7 s): at 4
    # (lapsing at 10, then at 14) and at 8 (then at 18); not at 2 or 6.
    assert server.calls.renewed() == ["ack-1", "ack-1"]


def test_the_wait_between_rounds_is_a_random_share_of_the_lease(
    server: FakeSubscriber,
) -> None:
    leaser, _ = leaser_for(server, Clock())
    waits = [leaser.next_wake() for _ in range(200)]
    low, high = (share * 10 for share in WAKE_SHARE)
    assert low <= min(waits)
    assert max(waits) <= high
    assert len({round(wait, 3) for wait in waits}) > 150, "jittered, not fixed"
    # The longest wait still renews every lease before it lapses.
    assert high + RENEW_MARGIN_SECONDS < 10


def test_a_message_held_past_the_cap_is_let_go_once_with_a_warning(
    server: FakeSubscriber, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    let_go: list[Received] = []
    leaser, acker = leaser_for(server, clock, let_go)
    hung = received(message_id="hung", pulled_at=0.0)
    leaser.hold([hung, received(message_id="fresh", pulled_at=59.0)])
    clock.now = 60.0
    leaser.renew()
    leaser.renew()
    assert acker.close(5)
    assert let_go == [hung]
    assert server.calls.nacked() == ["ack-hung"], "handed back for Pub/Sub to redeliver"
    assert leaser.count == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [getattr(r, "fields", None) for r in warnings] == [
        {"event": "let go", "message_id": "hung", "attempt": None}
    ]
    assert leaser.release([hung]) == [], "settling it later does nothing"


def test_release_and_wait_empty(server: FakeSubscriber) -> None:
    leaser, _ = leaser_for(server, Clock())
    one, two = received(message_id="1"), received(message_id="2")
    leaser.hold([one, two])
    assert leaser.release([one, one]) == [one], "settled twice: released once"
    assert not leaser.wait_empty(0.01)
    assert leaser.take_all() == [two]
    assert leaser.wait_empty(0)
