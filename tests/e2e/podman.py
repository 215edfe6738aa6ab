"""The local Kubernetes overlay run for real by `podman kube play`, as far as podman can.

No Kubernetes cluster can run on this machine; Debian's podman (4.3.1) plays Deployments
with the project's own images: replicas, env (envFrom a ConfigMap, the downward API),
securityContext, emptyDir, resources, terminationGracePeriodSeconds, and exec liveness
probes as health checks. What it cannot run is left out of the play input, and is held by
the strict validation in tests/unit/deploy instead:
  - Namespace, ServiceAccount: podman has neither.
  - Service: podman has no cluster DNS. Each pod gets a hostAliases entry naming the
    emulator's pod address instead, which is what the Service's DNS name resolves to.
  - NetworkPolicy, PodDisruptionBudget, autoscalers: nothing in podman enforces them.
  - The Prometheus Deployment: it finds the replicas through the Services' DNS names, and
    its configuration and rules are checked without it (tests/unit/deploy,
    tests/e2e/test_observability.py runs the same in compose).
  - Container ports: podman 4.3.1 publishes each on the host's port of the same number,
    which Kubernetes never does; every pod's metrics port 9464 would clash.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.tools import ToolUnavailable, kustomize

Doc = dict[str, Any]
PLAYABLE = ("Deployment", "ConfigMap")
# Unique to this checkout: podman's pods and images are machine-wide, and other checkouts
# (git worktrees, CI) may play the same manifests at once.
SUFFIX = "k" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]
BUILDS = {
    "pubsub-fanout-publisher": "Dockerfile-Pub",
    "pubsub-fanout-subscriber": "Dockerfile-Sub",
    "pubsub-fanout-dashboard": "Dockerfile-Dashboard",
}
# Only in the containers that kube play starts (CONTAINERS_CONF): in this sandbox,
# containers start only with lower ulimits than podman's defaults (../shared/README.md).
CONTAINERS_CONF = '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
TIMEOUT = 600


def podman(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    # Without DOCKER_CONFIG: a folder set there only for Docker's CLI plugins (as .ci/run
    # does for Compose v2) has no config.json, and podman's docker-daemon transport fails.
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "DOCKER_CONFIG"}
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}\n{result.stderr}")
    return result.stdout + (result.stderr if not check else "")


def require_podman() -> None:
    if shutil.which("podman") is None:
        unavailable("the Kubernetes end-to-end test needs podman (apt-get install podman)")


def render_local() -> list[Doc]:
    try:
        rendered = kustomize(ROOT / "deploy/kubernetes/overlays/local")
    except ToolUnavailable as exc:
        unavailable(str(exc))
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def image_for_test(image: str) -> str:
    """The overlay's image, retagged for this checkout (the emulator's stays as it is)."""
    for name in BUILDS:
        if image.startswith(f"localhost/{name}:"):
            return f"localhost/{name}:{SUFFIX}"
    return image


def copy_from_docker(image: str) -> bool:
    """Podman takes an image from the local Docker Engine, if that has it."""
    if shutil.which("docker") is None:
        return False
    if subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, check=False
    ).returncode:
        return False
    podman("pull", "-q", f"docker-daemon:{image}")
    return True


def prepare_images(docs: list[Doc]) -> None:
    """Build the project's images (Docker when there is one: its cache is shared with the
    compose tests' builds; podman otherwise) and have the others in podman's storage."""
    wanted = {
        image_for_test(c["image"])
        for d in docs
        if d["kind"] == "Deployment" and playable(d)
        for c in containers(d)
    }
    for image in sorted(wanted):
        name = image.split(":")[0].removeprefix("localhost/")
        if name in BUILDS:
            build(image, BUILDS[name])
        elif not podman_has(image) and not copy_from_docker(image):
            unavailable(f"no {image} for podman, and no registry to pull it from")


def build(image: str, dockerfile: str) -> None:
    base = next(
        line.split()[1]
        for line in (ROOT / dockerfile).read_text().splitlines()
        if line.startswith("FROM ")
    )
    docker = (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )
    if docker:
        # The host's network: pip reaches PyPI from the build (containers have no route out).
        subprocess.run(
            ["docker", "build", "-q", "--network", "host", "-f", dockerfile, "-t", image, "."],
            cwd=ROOT, capture_output=True, timeout=TIMEOUT, check=True,
        )  # fmt: skip
        podman("pull", "-q", f"docker-daemon:{image}")
        subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)
        return
    if not podman_has(base) and not copy_from_docker(base):
        unavailable(f"no base image {base} for podman to build {dockerfile} on")
    podman(
        "build",
        "-q",
        "--format",
        "docker",
        "--network",
        "host",
        "-f",
        dockerfile,
        "-t",
        image,
        str(ROOT),
    )


def podman_has(image: str) -> bool:
    return subprocess.run(["podman", "image", "exists", image], check=False).returncode == 0


def containers(doc: Doc) -> list[Doc]:
    found: list[Doc] = doc["spec"]["template"]["spec"]["containers"]
    return found


def playable(doc: Doc) -> bool:
    return doc["kind"] in PLAYABLE and doc["metadata"]["name"] != "prometheus"


def play_input(docs: list[Doc], emulator_ip: str | None) -> list[Doc]:
    """What podman can play: Deployments (renamed for this checkout, images retagged) and
    ConfigMaps, whose settings make the services log JSON for the tests to read their
    events; with ``emulator_ip``, every pod resolves `emulator` to it."""
    played = []
    for original in docs:
        if not playable(original):
            continue
        doc = copy.deepcopy(original)
        if doc["kind"] == "ConfigMap":
            doc.setdefault("data", {})["LOG_FORMAT"] = "json"
        if doc["kind"] == "Deployment":
            doc["metadata"]["name"] = f"{doc['metadata']['name']}-{SUFFIX}"
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                container["image"] = image_for_test(container["image"])
                container.pop("ports", None)
            if emulator_ip is not None:
                pod["hostAliases"] = [{"ip": emulator_ip, "hostnames": ["emulator"]}]
        played.append(doc)
    return played


def write(docs: list[Doc], path: Path) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def pod_containers(deployment: str) -> list[str]:
    """The running containers of one Deployment's pods, by name (<pod>-<container>)."""
    prefix = f"{deployment}-{SUFFIX}-pod-"
    names = podman("ps", "--all", "--format", "{{.Names}}").split()
    return sorted(n for n in names if n.startswith(prefix) and not n.endswith("-infra"))


def pods(deployment: str) -> list[str]:
    """The pods kube play made for one Deployment: <deployment>-pod-<i>."""
    prefix = f"{deployment}-{SUFFIX}-pod-"
    return sorted(
        p for p in podman("pod", "ps", "--format", "{{.Name}}").split() if p.startswith(prefix)
    )


def pod_logs(pod: str) -> str:
    names = podman("ps", "--all", "--format", "{{.Names}}").split()
    return "".join(
        podman("logs", n, check=False)
        for n in names
        if n.startswith(f"{pod}-") and "infra" not in n
    )


def remove_leftovers() -> None:
    """Pods of this checkout that an interrupted run left (kube down misses a pod whose
    play failed half-way)."""
    for pod in podman("pod", "ps", "--format", "{{.Name}}").split():
        if f"-{SUFFIX}-pod-" in pod:
            podman("pod", "rm", "--force", pod, check=False)


def inspect(container: str) -> Doc:
    found: list[Doc] = json.loads(podman("inspect", container))
    return found[0]


def address(container: str) -> str:
    """The pod's address on kube play's network (the infra container holds the network)."""
    networks = inspect(container)["NetworkSettings"]["Networks"]
    found: str = next(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))
    return found


def subscriptions(emulator_ip: str) -> list[str]:
    url = f"http://{emulator_ip}:8085/v1/projects/{EMULATOR_DEFAULT_PROJECT}/subscriptions"
    with urllib.request.urlopen(url, timeout=10) as response:
        listing = json.load(response)
    return sorted(s["name"].rsplit("/", 1)[1] for s in listing.get("subscriptions", []))
