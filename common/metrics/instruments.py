"""The instruments of the process's meter, each made once, whoever asks for it first.

Counters and gauges that read totals kept elsewhere are observable: ``observe`` adds a
reading (a function returning values and their attributes) to the instrument, and the
meter calls them all at collection time, never on a hot path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation

from common.metrics import names, setup
from common.metrics.names import Instrument

# A reading: the values to report now, with their attributes.
Reading = Callable[[], Iterable[tuple[float, Mapping[str, str]]]]


class _Instruments:
    """The instruments made on one meter, and the readings of its observable ones."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.made: dict[str, object] = {}
        self.readings: dict[str, list[Reading]] = {}
        self.lock = threading.Lock()


_current = [_Instruments(setup.meter())]


def _instruments() -> _Instruments:
    meter = setup.meter()
    if _current[0].meter is not meter:  # metrics set up (again) since: start afresh
        _current[0] = _Instruments(meter)
    return _current[0]


def counter(spec: Instrument) -> Counter:
    made = _instruments()
    with made.lock:
        if spec.name not in made.made:
            made.made[spec.name] = made.meter.create_counter(
                spec.name, unit=spec.unit, description=spec.description
            )
        found = made.made[spec.name]
    assert isinstance(found, Counter)
    return found


def histogram(spec: Instrument, buckets: Sequence[float] = names.SECONDS_BUCKETS) -> Histogram:
    made = _instruments()
    with made.lock:
        if spec.name not in made.made:
            made.made[spec.name] = made.meter.create_histogram(
                spec.name,
                unit=spec.unit,
                description=spec.description,
                explicit_bucket_boundaries_advisory=buckets,
            )
        found = made.made[spec.name]
    assert isinstance(found, Histogram)
    return found


def observe(spec: Instrument, reading: Reading) -> None:
    """Report what ``reading`` returns under ``spec`` (a counter's running total, or a
    gauge's value) at every collection, from now on."""
    made = _instruments()
    with made.lock:
        readings = made.readings.setdefault(spec.name, [])
        readings.append(reading)
        if spec.name in made.made:
            return

        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(value, dict(attributes))
                for read in list(readings)
                for value, attributes in read()
            ]

        create = (
            made.meter.create_observable_counter
            if spec.kind == "counter"
            else made.meter.create_observable_gauge
        )
        made.made[spec.name] = create(
            spec.name, [callback], unit=spec.unit, description=spec.description
        )
