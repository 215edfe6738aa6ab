"""What this machine lacks, run from images instead: the emulator, PostgreSQL, a browser.

A machine with Docker (and nothing else the tests need) gets each peer as a container,
through testcontainers-python, the ecosystem's library for it. The images are the ones the
project already names: the emulator's and postgres' from docker-compose.yml (one pin for
the stack and the tests), and a browser image of the project's own
(tests/support/browser/Dockerfile). Ports are published on 127.0.0.1 only, as the stack
publishes its own.

testcontainers' reaper (Ryuk) is off unless TESTCONTAINERS_RYUK_DISABLED says otherwise:
it is an image of its own, pulled from a registry a machine may not reach, and every
fixture here removes its containers itself (a run killed outright leaves them, labelled
``pubsub-fanout.tests``: ``docker rm -f $(docker ps -aq --filter label=pubsub-fanout.tests)``).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import yaml
from testcontainers.core.container import DockerContainer
from testcontainers.core.image import DockerImage

from tests.support import ROOT

# Read by testcontainers when it first starts a container.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

LABEL = "pubsub-fanout.tests"
# Unique to this checkout: the engine is shared by every checkout on the machine.
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]


class ContainersUnavailable(RuntimeError):
    """No Docker Engine to run a container in."""


@functools.cache
def compose_image(service: str) -> str:
    """The image docker-compose.yml runs ``service`` from: the tests run the same pin."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    image: str = compose["services"][service]["image"]
    return image


@functools.cache
def docker_client() -> Any:
    """The Docker SDK's client (testcontainers' own); ``ContainersUnavailable`` without an
    engine that answers."""
    import docker  # noqa: PLC0415 - the SDK comes with testcontainers
    from docker.errors import DockerException  # noqa: PLC0415

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        raise ContainersUnavailable(f"no Docker Engine answers ({exc})") from None
    return client


def loopback_container(
    image: str, purpose: str, ports: dict[int, int], **settings: Any
) -> DockerContainer:
    """A container of ``image`` (not started) with each container port of ``ports``
    published on 127.0.0.1 at its host port, labelled and named for this checkout;
    ``settings``: the Docker SDK's ``containers.create`` arguments."""
    docker_client()
    container = DockerContainer(image)
    for inside, outside in ports.items():
        container.ports[f"{inside}/tcp"] = ("127.0.0.1", outside)  # type: ignore[assignment]
    name = f"pubsub-fanout-test-{purpose}-{CHECKOUT}-{os.urandom(3).hex()}"
    # A network named: testcontainers, run inside a container, would otherwise put this
    # one on that container's network (the host's, on the fresh machine: no port
    # publishing there).
    settings.setdefault("network", "bridge")
    return container.with_name(name).with_kwargs(labels={LABEL: CHECKOUT}, **settings)


def project_image(folder: Path) -> str:
    """The image built from ``folder``'s Dockerfile, tagged by its content (built once per
    change); package downloads go through the host's network, as on a machine whose
    containers have no route out."""
    dockerfile = (folder / "Dockerfile").read_bytes()
    tag = f"pubsub-fanout-test/{folder.name}:{hashlib.sha256(dockerfile).hexdigest()[:12]}"
    client = docker_client()
    if not client.images.list(name=tag):
        print(f"building {tag} from {folder.relative_to(ROOT)}/Dockerfile (once)")
        DockerImage(path=folder, tag=tag, clean_up=False, network_mode="host").build()
    return tag
