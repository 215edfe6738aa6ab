"""A sink whose login PostgreSQL refuses stops with exit status 2, naming the settings:
a wrong password is a setting to fix, not an outage to wait out."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Services
from tests.integration.sinks import start_sink
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration


def test_a_refused_login_is_a_configuration_error(
    services: Services, created_topic: str, postgres: PostgresServer
) -> None:
    wrong = services.tmp_path / "wrong-password.txt"
    wrong.write_text("not the password\n")
    sink = start_sink(services, created_topic, postgres, POSTGRES_PASSWORD_FILE=str(wrong))
    error = sink.wait_for_event("configuration error", timeout=60)
    assert sink.process.wait(timeout=30) == 2
    assert "POSTGRES_PASSWORD_FILE" in error["message"]
    assert sink.events("unavailable") == [], "not taken for an outage"
