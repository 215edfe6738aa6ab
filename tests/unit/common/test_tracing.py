"""Tracing off makes no span; a bad TRACING fails fast; cloud-trace without credentials
is a configuration error, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.pubsub_v1.types import PubsubMessage, ReceivedMessage

from common import tracing
from common.config import ConfigError, PubSubConfig
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
