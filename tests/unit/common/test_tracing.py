"""Tracing off makes no span; a bad TRACING fails fast; cloud-trace without credentials
is a configuration error, not a traceback."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.pubsub_v1.types import PubsubMessage, ReceivedMessage

from common import tracing
from common.config import ConfigError, PubSubConfig
from common.service import run_service
from tests.support import ROOT
from tests.support.environment import clean_env

PATH = "projects/p/subscriptions/channel-a"


def test_off_makes_no_span() -> None:
    assert not tracing.enabled()
    message = PubsubMessage(data=b"x", message_id="1", attributes={})
    span = tracing.consuming(PATH, ReceivedMessage(ack_id="a", message=message, delivery_attempt=1))
    assert span is None
    tracing.finish(span, "ack")
    with tracing.within(span), tracing.step("pull", PATH) as step:
        assert not step.is_recording()


EMULATOR = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}


def test_tracing_is_off_unless_asked() -> None:
    assert PubSubConfig.from_env(EMULATOR).tracing == "off"
    assert PubSubConfig.from_env({**EMULATOR, "TRACING": "otlp"}).tracing == "otlp"


def test_an_unknown_tracing_mode_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="TRACING"):
        PubSubConfig.from_env({**EMULATOR, "TRACING": "jaeger"})


def test_cloud_trace_without_credentials_is_a_configuration_error(tmp_path: Path) -> None:
    env = clean_env(
        TRACING="cloud-trace",
        PUBSUB_EMULATOR_HOST="127.0.0.1:9",  # never reached: the exporter fails first
        CLOUDSDK_CONFIG=str(tmp_path),  # no gcloud credentials to fall back on
        HEARTBEAT_FILE=f"{tmp_path}/heartbeat",
        # No metadata server to ask: the check fails at once rather than after retries.
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
    )
    result = subprocess.run(
        [sys.executable, "-m", "publisher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "TRACING=cloud-trace needs Google Cloud credentials" in output
    assert "Traceback" not in output


def test_an_image_without_the_exporter_stops_with_a_line_naming_tracing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in an image built without the tracing extra: the exporter does not import.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    with pytest.raises(ConfigError, match=r"TRACING=otlp: this image has no otlp exporter"):
        tracing.configure("otlp", "publisher", "local-project")
    assert not tracing.enabled()


@dataclass(frozen=True)
class Settings:
    pubsub: PubSubConfig


def test_a_service_that_makes_no_spans_ignores_tracing_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The dashboard's image has no exporter at all: TRACING=otlp crashed it once.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    for name, value in {**EMULATOR, "TRACING": "otlp"}.items():
        monkeypatch.setenv(name, value)
    ran: list[str] = []

    def run(config: Settings, _stop: threading.Event, _host: str) -> int:
        ran.append(config.pubsub.tracing)
        return 0

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        status = run_service(
            "dashboard", lambda env: Settings(PubSubConfig.from_env(env)), run, traces=False
        )
    finally:
        logging.basicConfig(force=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert (status, ran) == (0, ["otlp"])
    assert not tracing.enabled()
    assert "TRACING=otlp does not apply to the dashboard" in capsys.readouterr().out
