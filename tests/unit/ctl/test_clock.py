"""The clocks against Pub/Sub's publish times, from receipts heard. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.messages.receipts import Handled, Receipt, Sender, Totals
from ctl.clock import local_skew, replica_skews
from ctl.listening import Heard, latest_by_replica

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def heard(replica: str, sent: timedelta, arrived: timedelta, kind: str = "alive") -> Heard:
    sender = Sender(replica, f"channel-{replica}", "s1")
    at = (T0 + sent).isoformat()
    if kind == "handled":
        receipt = Receipt("handled", sender, Totals(1, 0), messages=(Handled("1", "acked", 1, at),))
    else:
        receipt = Receipt("alive", sender, Totals(1, 0), at=at, every=2.0)
    return Heard(receipt, T0, T0 + arrived)


def test_a_machine_behind_pubsub_shows_and_delivery_time_alone_does_not() -> None:
    assert local_skew([]) is None
    on_time = local_skew([heard("a", timedelta(0), timedelta(seconds=0.3))])
    assert on_time is not None
    assert (on_time.seconds, on_time.off) == (0.0, False)
    behind = local_skew([heard("a", timedelta(0), timedelta(seconds=-5))])
    assert behind is not None
    assert (behind.seconds, behind.off) == (-5.0, True)


def test_each_replicas_clock_from_its_own_times_the_closest_one_counting() -> None:
    skews = replica_skews(
        [
            heard("a", timedelta(seconds=-0.05), timedelta(0)),
            heard("a", timedelta(seconds=-1.5), timedelta(0), "handled"),
            heard("b", timedelta(seconds=12), timedelta(0), "handled"),
        ]
    )
    assert [(s.who, s.seconds, s.off) for s in skews] == [
        ("replica a", -0.05, False),
        ("replica b", 12.0, True),
    ]


def test_the_latest_receipt_of_each_replica_by_publish_time() -> None:
    early, late = heard("a", timedelta(0), timedelta(0)), heard("a", timedelta(0), timedelta(0))
    late = Heard(late.receipt, T0 + timedelta(seconds=1), late.arrived)
    assert latest_by_replica([late, early]) == {"a": late}
