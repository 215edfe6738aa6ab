import math

import pytest

from benchmarks.drain import summarize as summarize_drain
from benchmarks.stats import overhead, percentile, summarize


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]  # 1 .. 100
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_summarize_counts_lost_and_duplicated_deliveries_per_subscription() -> None:
    sent = {1: 10.000, 2: 10.010, 3: 10.020}
    received = [
        [(1, 10.050), (2, 10.060), (3, 10.070)],  # all three, 50 ms each
        [(1, 10.040), (1, 10.500), (3, 10.120)],  # 1 twice, 2 lost
    ]
    result = summarize(
        "ours", 100, sent, received, publish_seconds=0.03, subscriber_cpu_seconds=0.006
    )
    assert (result.published, result.delivered) == (3, 6)
    assert (result.lost, result.duplicates) == (1, 1)
    # Latency counts a message's first delivery to each subscription only.
    assert result.p50_ms == pytest.approx(50.0)
    assert result.max_ms == pytest.approx(100.0)
    assert result.cpu_us_per_delivery == pytest.approx(1000.0)
    assert result.publish_rate == pytest.approx(100.0)
    assert result.shortfalls == ["1 lost"]


def test_a_rate_is_sustained_only_on_time_complete_and_without_a_growing_backlog() -> None:
    sent = {n: n * 0.01 for n in range(100)}

    def trial(delay: float, publish_seconds: float = 1.0) -> list[str]:
        received = [[(n, when + delay) for n, when in sent.items()]]
        return summarize(
            "raw",
            100,
            sent,
            received,
            publish_seconds=publish_seconds,
            subscriber_cpu_seconds=0.0,
        ).shortfalls

    assert trial(0.05) == []
    assert trial(2.0) == ["p99 2.0s"]  # every message 2 s late: the subscriber fell behind
    assert trial(0.05, publish_seconds=2.0) == ["published 50/s"]  # of 100 asked


def test_overhead_is_ours_over_raw() -> None:
    sent = {1: 0.0}
    ours = summarize(
        "ours", 1, sent, [[(1, 0.020)]], publish_seconds=1, subscriber_cpu_seconds=0.0003
    )
    raw = summarize(
        "raw", 1, sent, [[(1, 0.010)]], publish_seconds=1, subscriber_cpu_seconds=0.0002
    )
    ratios = overhead(ours, raw)
    assert ratios["p50"] == pytest.approx(2.0)
    assert ratios["cpu_per_delivery"] == pytest.approx(1.5)


def test_a_drain_counts_lost_and_duplicates_and_rates_first_to_last() -> None:
    deliveries = [(1, 100.0), (2, 100.5), (2, 100.6), (4, 101.0)]
    drained = summarize_drain("raw", {1, 2, 3, 4}, deliveries, cpu=0.004, memory=70.04)
    assert (drained.lost, drained.duplicates) == (1, 1)
    assert drained.seconds == pytest.approx(1.0)
    assert drained.rate == 3, "distinct messages over first to last delivery"
    assert drained.cpu_us_per_message == pytest.approx(1000.0)
    assert drained.rss_mib == 70.0
