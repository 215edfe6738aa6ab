"""The rate badge's figures: messages/s and deliveries/s over the last few seconds. Pure.

Fed the running counts at each tick, with the tick's time; no clock of its own.
"""

from __future__ import annotations

from collections import deque

# Long enough to smooth the receipts' 0.1 s batches and a publisher's jitter, short
# enough that the badge follows a change of rate within a few seconds.
WINDOW_SECONDS = 5.0


class RateMeter:
    """Per-second rates of running counts, over the last ``window`` seconds."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self._window = window
        # (seconds, messages, deliveries): the samples within the window, oldest first.
        self._samples: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float, messages: int, deliveries: int) -> None:
        """The running counts at ``now`` (seconds, any monotonic clock)."""
        self._samples.append((now, messages, deliveries))
        # Keep one sample at or before the window's start, so the span covers it whole.
        while len(self._samples) > 2 and self._samples[1][0] <= now - self._window:
            self._samples.popleft()

    def rates(self) -> tuple[float, float]:
        """(messages/s, deliveries/s) over the window; zeros before two samples."""
        if len(self._samples) < 2:
            return 0.0, 0.0
        (t0, m0, d0), (t1, m1, d1) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span <= 0:
            return 0.0, 0.0
        return (m1 - m0) / span, (d1 - d0) / span
