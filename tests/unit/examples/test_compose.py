"""The examples' compose override, read from the file: what it adds is hardened like the
stack, and every setting naming code names code that loads, with the settings it needs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from common.loading import load_callable
from publisher.config import read_source
from subscriber.sink.schema import user_migrations
from tests.support import ROOT

# Setting -> the positional arguments its seam passes.
SEAMS = {"HANDLER": 1, "TASK_FUNCTION": 1, "SINK_ROW_MAPPER": 1, "PUBLISHER_SOURCE": 3}


def services(name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / name).read_text())["services"]
    return found


def environment(base: dict[str, Any], override: dict[str, Any]) -> dict[str, str]:
    """A service's environment after the override, as Compose merges the two maps."""
    merged = {**base.get("environment", {}), **override.get("environment", {})}
    return {name: str(value) for name, value in merged.items() if isinstance(value, str | int)}


def test_the_services_it_adds_are_hardened_and_the_rest_keep_the_stacks() -> None:
    base, override = services("docker-compose.yml"), services("examples/compose.yml")
    added = set(override) - set(base)
    assert added == {"webhook-receiver"}
    for name in added:
        service = override[name]
        assert service.get("read_only") is True, name
        assert "/tmp" in service.get("tmpfs", []), name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("cap_drop") == ["ALL"], name
        assert "ports" not in service, f"{name}: reached on the compose network only"
    for name in set(override) & set(base):
        assert not {"read_only", "cap_drop", "security_opt", "user"} & set(override[name])


def test_every_service_it_changes_builds_from_the_projects_image() -> None:
    dockerfile = (ROOT / "examples/Dockerfile").read_text()
    assert "FROM ${BASE_IMAGE}" in dockerfile
    assert "COPY examples/ examples/" in dockerfile
    for name, service in services("examples/compose.yml").items():
        if "build" not in service:
            continue
        build = service["build"]
        assert build["dockerfile"] == "examples/Dockerfile", name
        assert build["args"]["BASE_IMAGE"].startswith(
            ("pubsub-fanout-publisher:", "pubsub-fanout-subscriber:")
        )


@pytest.mark.parametrize("name", sorted(services("examples/compose.yml")))
def test_the_code_each_service_names_loads_with_its_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(
        services("docker-compose.yml").get(name, {}), services("examples/compose.yml")[name]
    )
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)  # the code reads its own settings at import
    for setting, arguments in SEAMS.items():
        if env.get(setting):
            assert callable(load_callable(env[setting], arguments)), f"{name}: {setting}"
    if "PUBLISHER_SOURCE" in env:
        source_name, _ = read_source(env)  # PUBLISHER_MODE blanked, not left ambiguous
        assert source_name == env["PUBLISHER_SOURCE"]
    if "SINK_MIGRATIONS" in env:
        assert user_migrations(str(ROOT / env["SINK_MIGRATIONS"])).migrations
