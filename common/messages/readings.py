"""Sensor readings: their wire format, validation and the demo's random readings. Pure.

A reading is UTF-8 JSON, for example::

    {"device": "kitchen", "metric": "temperature", "value": 21.4, "unit": "°C",
     "measured_at": "2026-11-25T17:30:00.123+00:00"}

``measured_at`` is when the sensor measured, an ISO 8601 time with its offset; the
sink stores it beside Pub/Sub's publish time, which says when the reading was sent.
Each metric has one unit and a range a real sensor can report; a value outside it is a
broken sensor or a broken message, and is rejected rather than stored as data.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from common.messages import CONTENT_TYPE
from common.messages._json import decode_object, is_number, number_text

SCHEMA_VERSION = "1"
MAX_DEVICE_LENGTH = 64
# Lowercase names such as "living-room" or "sensor_7.b": no spaces, no control characters.
_DEVICE = re.compile(r"[a-z0-9][a-z0-9_.\-]*")


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    # What a sensor of this kind can report at all; outside this, the reading is rejected.
    minimum: float
    maximum: float
    # The demo publisher's indoor values.
    typical: tuple[float, float]
    decimals: int


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("temperature", "°C", -50.0, 100.0, (17.0, 26.0), 1),
        Metric("humidity", "%", 0.0, 100.0, (30.0, 65.0), 1),
        Metric("co2", "ppm", 0.0, 40_000.0, (420.0, 1_600.0), 0),
    )
}
DEMO_DEVICES = ("living-room", "kitchen", "bedroom")


class InvalidReading(ValueError):
    """The payload is not a reading; storing or retrying it cannot make it one."""


@dataclass(frozen=True)
class Reading:
    device: str
    metric: str
    value: float
    unit: str
    measured_at: datetime

    def describe(self) -> str:
        """For log lines: ``kitchen temperature=21.4°C``."""
        return f"{self.device} {self.metric}={self.value:g}{self.unit}"

    def encode(self) -> tuple[bytes, dict[str, str]]:
        """The message body and its attributes, ready for ``PublisherClient.publish``."""
        body = {
            "device": self.device,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "measured_at": self.measured_at.isoformat(timespec="milliseconds"),
        }
        attributes = {
            "content_type": CONTENT_TYPE,
            "schema_version": SCHEMA_VERSION,
            # For subscription filters ("attributes.metric = \"co2\"") without parsing.
            "device": self.device,
            "metric": self.metric,
        }
        return json.dumps(body, ensure_ascii=False).encode(), attributes


def random_reading(rng: random.Random, *, now: datetime | None = None) -> Reading:
    metric = METRICS[rng.choice(tuple(METRICS))]
    low, high = metric.typical
    return Reading(
        device=rng.choice(DEMO_DEVICES),
        metric=metric.name,
        value=round(rng.uniform(low, high), metric.decimals),
        unit=metric.unit,
        measured_at=now or datetime.now(UTC),
    )


def decode(data: bytes) -> Reading:
    """Parse a reading, or raise ``InvalidReading`` saying what is wrong with it."""
    body = decode_object(data, InvalidReading)
    missing = [
        key for key in ("device", "metric", "value", "unit", "measured_at") if key not in body
    ]
    if missing:
        raise InvalidReading(f"not a reading: missing {', '.join(missing)}")
    device, name, value, unit = body["device"], body["metric"], body["value"], body["unit"]
    if (
        not isinstance(device, str)
        or len(device) > MAX_DEVICE_LENGTH
        or not _DEVICE.fullmatch(device)
    ):
        raise InvalidReading(
            f"device must be 1 to {MAX_DEVICE_LENGTH} lowercase letters, digits and - _ . "
            f"starting with a letter or digit; got {device!r:.80}"
        )
    if not isinstance(name, str) or name not in METRICS:
        raise InvalidReading(f"metric must be one of {', '.join(METRICS)}; got {name!r:.40}")
    metric = METRICS[name]
    if unit != metric.unit:
        raise InvalidReading(f"unit of {name} must be {metric.unit!r}; got {unit!r:.20}")
    if not is_number(value):
        raise InvalidReading(f"value must be a number; got {value!r:.40}")
    # Compared as is: Python compares an int of any size with a float exactly, where
    # float() of one past 1e308 raises OverflowError.
    if not metric.minimum <= value <= metric.maximum:
        raise InvalidReading(
            f"value {number_text(value)}{metric.unit} is out of range for {name} "
            f"({metric.minimum:g} to {metric.maximum:g})"
        )
    return Reading(device, name, float(value), unit, _timestamp(body["measured_at"]))


def _timestamp(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise InvalidReading(f"measured_at must be an ISO 8601 string; got {raw!r:.40}")
    try:
        measured_at = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidReading(f"measured_at is not an ISO 8601 time: {raw!r:.40}") from None
    if measured_at.tzinfo is None:
        raise InvalidReading(f"measured_at needs a UTC offset (e.g. +00:00 or Z): {raw!r:.40}")
    return measured_at
