"""What the compose files promise about reach and privilege, read from the files: every
service hardened, every published port on loopback unless HOST_BIND_ADDRESS says
otherwise. tests/e2e checks the same on the running containers."""

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
        assert "/tmp" in service.get("tmpfs", []), f"{name}: a tmpfs for what it writes"
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("cap_drop") == ["ALL"], f"{name}: every capability dropped"
        assert "cap_add" not in service, f"{name}: and none added back"
        assert not service.get("privileged"), name


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_published_ports_bind_to_loopback_unless_widened(compose_file: str) -> None:
    published = [
        (name, port)
        for name, service in services(compose_file).items()
        for port in service.get("ports", [])
    ]
    assert published, "the files publish the emulator's and the live view's ports"
    for name, port in published:
        assert isinstance(port, str), f"{name}: the short syntax, with a host address"
        default = interpolate(port, {})
        host, _, _ = default.rpartition(":")[0].rpartition(":")
        assert host == "127.0.0.1", f"{name}: {port} must bind to loopback by default"
        widened = interpolate(port, {"HOST_BIND_ADDRESS": "0.0.0.0"})
        assert widened.startswith("0.0.0.0:"), f"{name}: HOST_BIND_ADDRESS widens {port}"


def test_the_interpolation_reads_compose_forms() -> None:
    assert interpolate("${A:-x}:${B}:${C:?no}", {"B": "b"}) == "x:b:"
    assert interpolate("${A:-x}", {"A": "a"}) == "a"


def test_the_gcp_key_is_read_by_the_services_user_only() -> None:
    """The key is a secret file mounted read-only; the services run as one fixed user, its
    owner, so the key can be mode 400 (docs/google-cloud.md)."""
    for name, service in services("docker-compose.gcp.yml").items():
        assert service["user"] == "${SERVICE_USER:-10001}", name
        assert service["secrets"] == ["gcp-service-account"], name
    text = (ROOT / "docs" / "google-cloud.md").read_text()
    assert "chmod 644" not in text
    assert "chmod 400 sa.json" in text
    assert Path(ROOT / ".gitignore").read_text().count("sa.json") >= 1
