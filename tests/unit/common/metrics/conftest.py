"""Metrics recorded into the SDK's in-memory reader, read back by name and attributes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from common.metrics import names, setup
from common.metrics.names import Instrument


class Collected:
    """What the meter holds now, collected through a real reader."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.reader = reader

    def points(self, spec: Instrument) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) of each of ``spec``'s points; a histogram's value is its
        data point (``count``, ``sum``, ``bucket_counts``)."""
        recorder = setup.recorder()
        if recorder is not None:
            recorder.record()  # what the sampled histograms gathered so far
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != spec.name:
                        continue
                    assert metric.unit == spec.unit, spec.name
                    for point in metric.data.data_points:
                        value = point if isinstance(point, HistogramDataPoint) else point.value  # type: ignore[union-attr]
                        found.append((dict(point.attributes or {}), value))
        return found

    def value(self, spec: Instrument, **attributes: str) -> Any:
        """The one point of ``spec`` whose attributes include ``attributes`` (by their
        Prometheus-style names: ``subscription``, ``error_type``, ``operation``)."""
        wanted = {ALIASES.get(key, key): value for key, value in attributes.items()}
        matching = [
            value
            for found, value in self.points(spec)
            if all(found.get(k) == v for k, v in wanted.items())
        ]
        assert len(matching) == 1, f"{spec.name} {wanted}: {self.points(spec)}"
        return matching[0]


ALIASES = {
    "subscription": names.SUBSCRIPTION,
    "error_type": names.ERROR_TYPE,
    "operation": names.OPERATION,
    "peer": names.PEER,
    "topic": names.TOPIC,
}


@pytest.fixture
def collected() -> Iterator[Collected]:
    reader = InMemoryMetricReader()
    setup.use(MeterProvider(metric_readers=[reader]))
    try:
        yield Collected(reader)
    finally:
        setup.shutdown()
