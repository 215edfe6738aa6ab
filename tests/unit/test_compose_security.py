"""What the compose files promise about reach and privilege, read from the files: every
service hardened and bounded (memory, processes, tmpfs, logs), the live view on loopback
unless HOST_BIND_ADDRESS says otherwise, the emulator's port not published unless opted
in, and then on loopback whatever HOST_BIND_ADDRESS says. tests/e2e checks the same on
the running containers."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

COMPOSE_FILES = ("docker-compose.yml", "docker-compose.gcp.yml")
# ${NAME}, ${NAME:-default}, ${NAME:?error}: the forms the compose files use.
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<word>[^}]*))?\}")


def services(name: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    found: dict[str, dict[str, Any]] = data["services"]
    return found


def interpolate(text: str, env: dict[str, str]) -> str:
    """What Compose makes of ``text`` in the environment ``env``."""

    def value(match: re.Match[str]) -> str:
        name, op, word = match["name"], match["op"], match["word"] or ""
        if env.get(name):
            return env[name]
        return word if op == "-" else ""

    return VARIABLE.sub(value, text)


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_every_service_is_hardened(compose_file: str) -> None:
    for name, service in services(compose_file).items():
        assert service.get("read_only") is True, f"{name}: a read-only root filesystem"
        tmpfs = service.get("tmpfs", [])
        assert any(t.startswith("/tmp:size=") for t in tmpfs), f"{name}: a bounded /tmp tmpfs"
        assert all(":size=" in t for t in tmpfs), f"{name}: every tmpfs bounded"
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("cap_drop") == ["ALL"], f"{name}: every capability dropped"
        assert "cap_add" not in service, f"{name}: and none added back"
        assert not service.get("privileged"), name


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_every_service_is_bounded(compose_file: str) -> None:
    """Memory and processes capped; the json-file log rotated, so a flood of rejected
    messages cannot fill the host's disk."""
    for name, service in services(compose_file).items():
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit"))), f"{name}: mem_limit"
        assert isinstance(service.get("pids_limit"), int), f"{name}: pids_limit"
        assert 64 <= service["pids_limit"] <= 1024, name
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert logging["options"] == {"max-size": "10m", "max-file": "3"}, name


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_published_ports_bind_to_loopback_unless_widened(compose_file: str) -> None:
    published = [
        (name, port)
        for name, service in services(compose_file).items()
        for port in service.get("ports", [])
    ]
    # The live view's port, and the observability profiles' UIs: no Pub/Sub, no database.
    assert {name for name, _ in published} <= {"dashboard", "prometheus", "grafana"}
    for name, port in published:
        assert isinstance(port, str), f"{name}: the short syntax, with a host address"
        default = interpolate(port, {})
        host, _, _ = default.rpartition(":")[0].rpartition(":")
        assert host == "127.0.0.1", f"{name}: {port} must bind to loopback by default"
        widened = interpolate(port, {"HOST_BIND_ADDRESS": "0.0.0.0"})
        assert widened.startswith("0.0.0.0:"), f"{name}: HOST_BIND_ADDRESS widens {port}"


def test_the_emulator_port_is_opt_in_on_loopback_and_never_widened() -> None:
    """Whoever reaches the emulator may do anything, and a web page reaches a loopback
    port by DNS rebinding: no port by default, and the opt-in file's stays on loopback
    whatever HOST_BIND_ADDRESS (the live view's setting) says."""
    assert "ports" not in services("docker-compose.yml")["emulator"]
    (port,) = services("docker-compose.emulator-port.yml")["emulator"]["ports"]
    for env in ({}, {"HOST_BIND_ADDRESS": "0.0.0.0"}):
        assert interpolate(port, env) == "127.0.0.1:8085:8085"
    assert interpolate(port, {"PUBSUB_EMULATOR_PORT": "9999"}) == "127.0.0.1:9999:8085"
    text = (ROOT / "docker-compose.emulator-port.yml").read_text()
    assert "DNS rebinding" in text, "the risk is said where the setting is"


def test_the_interpolation_reads_compose_forms() -> None:
    assert interpolate("${A:-x}:${B}:${C:?no}", {"B": "b"}) == "x:b:"
    assert interpolate("${A:-x}", {"A": "a"}) == "a"


def test_each_gcp_service_has_a_key_of_its_own_read_by_the_services_user_only() -> None:
    """One service account and key per service, each a secret file mounted read-only at
    the same path; the services run as one fixed user, the keys' owner, so each key can be
    mode 400 (docs/google-cloud.md)."""
    files = yaml.safe_load((ROOT / "docker-compose.gcp.yml").read_text())["secrets"]
    for name, service in services("docker-compose.gcp.yml").items():
        assert service["user"] == "${SERVICE_USER:-10001}", name
        assert service["secrets"] == [{"source": f"gcp-{name}-key", "target": "gcp-key"}], name
        assert files[f"gcp-{name}-key"] == {"file": f"./sa-{name}.json"}, name
    text = (ROOT / "docs" / "google-cloud.md").read_text()
    assert "chmod 644" not in text
    assert "chmod 400 sa-*.json" in text
    assert "sa-*.json" in Path(ROOT / ".gitignore").read_text().splitlines()
