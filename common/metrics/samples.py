"""Histograms fed from hot paths: values gathered for nothing, recorded a few at a time.

A histogram's ``record`` costs about 6.5 µs of CPU with attributes, here (the SDK's
bookkeeping per call), against about 100-130 µs for a whole delivery: two per message
would cost a tenth of a replica's CPU (benchmarks/README.md, "Metrics"). So a hot path
only appends its value to a ``Samples`` (tens of nanoseconds), which keeps at most
``CAP`` values per ``PERIOD_SECONDS``, and the ``Recorder`` thread records them. Up to
``CAP / PERIOD_SECONDS`` values a second (32) every value is recorded; above it, a
sample: the histogram's quantiles stay close to true, its count is then smaller than the
messages', which the counters count.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from opentelemetry.metrics import Histogram

PERIOD_SECONDS = 1.0
CAP = 32


class Samples:
    """Values for one histogram and one set of attributes; ``add`` from any thread."""

    def __init__(self, histogram: Histogram, attributes: Mapping[str, str]) -> None:
        self._histogram = histogram
        self._attributes = dict(attributes)
        self._values: list[float] = []

    def room(self) -> int:
        """How many more values this period takes."""
        return CAP - len(self._values)

    def add(self, value: float) -> None:
        values = self._values
        if len(values) < CAP:
            values.append(value)  # atomic under the GIL: no lock on the hot path

    def record(self) -> None:
        """Record what gathered (the recorder's thread)."""
        values, self._values = self._values, []
        for value in values:
            self._histogram.record(value, self._attributes)


class Recorder:
    """The thread that records every ``Samples`` registered, each ``PERIOD_SECONDS``."""

    def __init__(self) -> None:
        self._samples: list[Samples] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def register(self, samples: Samples) -> Samples:
        self._samples.append(samples)
        return samples

    def record(self) -> None:
        for samples in list(self._samples):
            samples.record()

    def _run(self) -> None:
        while not self._stop.wait(PERIOD_SECONDS):
            self.record()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(PERIOD_SECONDS * 4)
        self.record()  # what the last period gathered
