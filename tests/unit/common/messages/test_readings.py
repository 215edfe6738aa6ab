import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from common.messages.readings import (
    DEMO_DEVICES,
    METRICS,
    InvalidReading,
    Reading,
    decode,
    random_reading,
)
from publisher.sources import SOURCES

NOW = datetime(2026, 11, 25, 17, 30, 0, 123000, tzinfo=UTC)


def body(**changes: object) -> bytes:
    reading = {
        "device": "kitchen",
        "metric": "temperature",
        "value": 21.4,
        "unit": "°C",
        "measured_at": "2026-11-25T17:30:00.123Z",
    }
    reading.update(changes)
    return json.dumps({k: v for k, v in reading.items() if v is not None}).encode()


def test_round_trip_and_attributes() -> None:
    reading = Reading("living-room", "co2", 812.0, "ppm", NOW)
    data, attributes = reading.encode()
    assert decode(data) == reading
    assert attributes["device"] == "living-room"
    assert attributes["metric"] == "co2"
    assert attributes["content_type"] == "application/json"
    assert reading.describe() == "living-room co2=812ppm"


def test_offsets_are_kept_and_z_means_utc() -> None:
    assert decode(body()).measured_at == NOW
    local = decode(body(measured_at="2026-11-25T18:30:00.123+01:00")).measured_at
    assert local == NOW
    assert local.utcoffset() == timedelta(hours=1)


def test_integers_are_numbers() -> None:
    assert decode(body(metric="co2", value=800, unit="ppm")).value == 800.0


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not UTF-8"),
        (b"[1, 2]", "body is a JSON list, not an object"),
        (body(device=None, unit=None), "missing device, unit"),
        (body(device="Living Room"), "device must be"),
        (body(device="kitchen\u0000"), "device must be"),
        (body(device="k" * 65), "device must be"),
        (body(device=7), "device must be"),
        (body(metric="pressure"), "metric must be one of temperature, humidity, co2"),
        (body(unit="F"), "unit of temperature must be '°C'"),
        (body(value="21.4"), "value must be a number"),
        (body(value=True), "value must be a number"),
        (body(value=250.0), r"value 250°C is out of range for temperature \(-50 to 100\)"),
        (body(metric="humidity", unit="%", value=-1), "out of range for humidity"),
        (
            b'{"device": "kitchen", "metric": "co2", "value": NaN, "unit": "ppm", '
            b'"measured_at": "2026-11-25T17:30:00Z"}',
            "NaN is not a JSON number",
        ),
        (body(measured_at="yesterday"), "measured_at is not an ISO 8601 time"),
        (body(measured_at="2026-11-25T17:30:00"), "measured_at needs a UTC offset"),
        (body(measured_at=1764091800), "measured_at must be an ISO 8601 string"),
    ],
)
def test_invalid_readings_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidReading, match=reason):
        decode(data)


def test_demo_readings_are_plausible_and_valid() -> None:
    rng = random.Random(7)
    readings = [random_reading(rng, now=NOW) for _ in range(300)]
    assert {r.device for r in readings} == set(DEMO_DEVICES)
    assert {r.metric for r in readings} == set(METRICS)
    for reading in readings:
        low, high = METRICS[reading.metric].typical
        assert low <= reading.value <= high
        assert decode(reading.encode()[0]) == reading


def test_readings_publisher_mode() -> None:
    message = SOURCES["readings"](random.Random(1), 5, "pub-1")
    assert message is not None
    reading = decode(message.data)
    assert message.attributes["publisher"] == "pub-1"
    assert message.description == f"reading={reading.describe()}"
    assert message.sequence == 5
    assert reading.measured_at.tzinfo is not None
    assert reading.measured_at.utcoffset() == timedelta(0)
