"""Pure figures for the fan-out benchmark: what was sent, what each subscription got."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0 < fraction <= 1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True)
class TrialResult:
    """One trial: an implementation, N subscriptions, a target publish rate."""

    implementation: str  # "ours", "raw" or "node"
    subscriptions: int
    target_rate: float  # msgs/s asked of the publisher
    published: int
    publish_rate: float  # msgs/s the publisher achieved
    delivered: int  # deliveries over all subscriptions, duplicates included
    deliveries_per_second: float
    lost: int  # (message, subscription) pairs never delivered
    duplicates: int  # deliveries beyond the first of a message to a subscription
    p50_ms: float
    p99_ms: float
    max_ms: float
    # CPU time the subscriber processes spent per delivery, from listening to drained:
    # the cost of the hot path, steadier than latency on a busy machine.
    cpu_us_per_delivery: float
    # Resident memory of the largest subscriber process (MiB): listening, and at the end
    # of the publishing window.
    rss_idle_mib: float = math.nan
    rss_busy_mib: float = math.nan

    @property
    def shortfalls(self) -> list[str]:
        """Why the rate was not held: the publisher fell short, messages were lost, or a
        subscriber fell behind (its latency grows without bound). Empty: it was held."""
        reasons = []
        if self.publish_rate < 0.95 * self.target_rate:
            reasons.append(f"published {self.publish_rate:.0f}/s")
        if self.lost:
            reasons.append(f"{self.lost} lost")
        if not self.p99_ms < SUSTAINED_P99_MS:  # NaN too: nothing was delivered
            reasons.append(f"p99 {self.p99_ms / 1000:.1f}s")
        return reasons

    @property
    def sustained(self) -> bool:
        return not self.shortfalls

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sustained": self.sustained, "shortfalls": self.shortfalls}


SUSTAINED_P99_MS = 1000.0


def summarize(
    implementation: str,
    target_rate: float,
    sent: Mapping[int, float],
    received: Sequence[Sequence[tuple[int, float]]],
    *,
    publish_seconds: float,
    subscriber_cpu_seconds: float,
) -> TrialResult:
    """``sent`` maps each published sequence number to its publish time; ``received``
    holds, per subscription, (sequence, handled time) for every delivery. Times are
    seconds on one clock; deliveries/s spans the first publish to the last delivery."""
    latencies: list[float] = []
    lost = duplicates = delivered = 0
    last = max(sent.values(), default=0.0)
    for deliveries in received:
        counts = Counter(sequence for sequence, _ in deliveries)
        lost += sum(1 for sequence in sent if sequence not in counts)
        duplicates += sum(count - 1 for count in counts.values())
        delivered += len(deliveries)
        seen: set[int] = set()
        for sequence, handled in deliveries:
            if sequence in sent and sequence not in seen:
                seen.add(sequence)
                latencies.append((handled - sent[sequence]) * 1000)
                last = max(last, handled)
    first = min(sent.values(), default=0.0)
    span = last - first
    return TrialResult(
        implementation=implementation,
        subscriptions=len(received),
        target_rate=target_rate,
        published=len(sent),
        publish_rate=len(sent) / publish_seconds if publish_seconds > 0 else 0.0,
        delivered=delivered,
        deliveries_per_second=delivered / span if span > 0 else 0.0,
        lost=lost,
        duplicates=duplicates,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies, default=math.nan),
        cpu_us_per_delivery=subscriber_cpu_seconds * 1e6 / delivered if delivered else math.nan,
    )


def overhead(ours: TrialResult, raw: TrialResult) -> dict[str, float]:
    """Ours against the raw client loop: latency and CPU ratios (1.0 = the same; above 1,
    slower or costlier) and the delivery-rate ratio (below 1, fewer per second)."""

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 and not math.isnan(a) and not math.isnan(b) else math.nan

    return {
        "p50": ratio(ours.p50_ms, raw.p50_ms),
        "p99": ratio(ours.p99_ms, raw.p99_ms),
        "deliveries_per_second": ratio(ours.deliveries_per_second, raw.deliveries_per_second),
        "cpu_per_delivery": ratio(ours.cpu_us_per_delivery, raw.cpu_us_per_delivery),
    }
