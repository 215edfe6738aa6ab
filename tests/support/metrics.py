"""Reading a service's ``/metrics`` (Prometheus's text format) in tests and benchmarks."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# A sample: its name (with _total, _bucket, ... as served) and its labels.
Key = tuple[str, frozenset[tuple[str, str]]]


def scrape(port: int, host: str = "127.0.0.1") -> dict[Key, float]:
    """Every sample ``/metrics`` serves now."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[Key, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value for (found, have), value in samples.items() if found == name and wanted <= have
    )
