"""Running totals of one subscription's receiving, added to per batch, from any thread."""

import threading

from common.receive.counts import UNOBSERVED, Counts
from tests.support.fake_pubsub import received


def test_totals_add_up_per_batch_from_several_threads() -> None:
    counts = Counts()

    def pulls() -> None:
        for _ in range(1000):
            counts.pulled(2)

    threads = [threading.Thread(target=pulls) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts.settled(5, 3)
    counts.leases(renewed=7, let_go=1)
    counts.pull_failed()
    counts.send_failed()
    assert counts.received == 8000, "no add lost"
    assert (counts.acked, counts.nacked, counts.renewed, counts.let_go) == (5, 3, 7, 1)
    assert (counts.pull_failures, counts.ack_failures) == (1, 1)


def test_nobody_observing_costs_nothing_and_raises_nothing() -> None:
    counts = Counts()
    assert counts.observer is UNOBSERVED
    counts.observer.operation("pull", 0.01, None)
    counts.observer.acked([received()])
