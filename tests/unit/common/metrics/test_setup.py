"""Metrics set up from the settings: /metrics in Prometheus's format on a port of its own,
named as ``names`` says; a port that cannot be had is a settings error (exit 2)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from common import metrics
from common.config import ConfigError, PubSubConfig
from common.metrics import names, setup
from common.service import EXIT_CONFIG_ERROR
from tests.support import ROOT
from tests.support.environment import clean_env


@pytest.fixture
def served() -> Iterator[int]:
    port = metrics.configure("prometheus", "subscriber", 0, "replica-1")
    assert port is not None
    try:
        yield port
    finally:
        metrics.shutdown()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def test_metrics_are_served_in_prometheus_format_under_their_documented_names(
    served: int,
) -> None:
    observer = metrics.consumer("projects/p/subscriptions/channel-replica-1")
    observer.rejected("InvalidMessage", 5, 5)
    observer.processed(0.01)
    observer.operation("pull", 0.2, None)
    setup_recorder = setup.recorder()
    assert setup_recorder is not None
    setup_recorder.record()
    text = scrape(served)
    for spec in (names.REJECTED, names.DEAD_LETTERED):
        assert f'{spec.prometheus_name}{{error_type="InvalidMessage"' in text, spec.name
    for spec in (names.PROCESS_DURATION, names.OPERATION_DURATION):
        assert f"{spec.prometheus_name}_bucket{{" in text, spec.name
    assert 'messaging_destination_subscription_name="channel-replica-1"' in text
    assert 'service_instance_id="replica-1"' in text
    assert "process_cpu_seconds_total" in text  # the process's own


def test_a_port_in_use_is_a_settings_error(served: int) -> None:
    with pytest.raises(metrics.MetricsPortError, match=f"METRICS_PORT={served}"):
        metrics.configure("prometheus", "subscriber", served, "replica-2")


def test_a_service_whose_metrics_port_is_taken_exits_2_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = clean_env(PUBSUB_EMULATOR_HOST="localhost:1", METRICS_PORT=port)
        result = subprocess.run(
            [sys.executable, "-m", "publisher"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == EXIT_CONFIG_ERROR, result.stdout + result.stderr
    assert f"configuration error: METRICS_PORT={port} cannot be listened on" in result.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [({"METRICS": "statsd"}, "METRICS"), ({"METRICS_PORT": "70000"}, "METRICS_PORT")],
)
def test_a_bad_metrics_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "localhost:8085", **env})


def test_metrics_default_to_prometheus_on_9464() -> None:
    config = PubSubConfig.from_env({"PUBSUB_EMULATOR_HOST": "localhost:8085"})
    assert (config.metrics, config.metrics_port) == ("prometheus", 9464)


def test_an_exporter_missing_from_the_image_leaves_metrics_off_and_the_service_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.metric_exporter", None)
    with caplog.at_level(logging.ERROR):
        assert metrics.configure("otlp", "dashboard", 0, "host") is None
    assert not metrics.enabled()
    assert "METRICS=otlp needs" in caplog.text


def test_off_sets_up_nothing() -> None:
    assert metrics.configure("off", "publisher", 0, "host") is None
    assert not metrics.enabled()
    assert setup.recorder() is None
