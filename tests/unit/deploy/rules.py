"""The rules every rendered Kubernetes workload is held to, as functions that list violations.

Kept apart from the tests so that the tests can show each rule fails on a manifest that
breaks it: a rule that cannot fail proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT

Doc = dict[str, Any]
UID = 10001
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
# The project's images, and the Dockerfile whose HEALTHCHECK their probes must run.
DOCKERFILES = {
    "pubsub-fanout-publisher": "Dockerfile-Pub",
    "pubsub-fanout-subscriber": "Dockerfile-Sub",
    "pubsub-fanout-dashboard": "Dockerfile-Dashboard",
}
_QUANTITY = re.compile(r"([0-9.]+)(m|Ki|Mi|Gi)?")
_SCALE = {None: 1.0, "m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(value: str | int | float) -> float:
    match = _QUANTITY.fullmatch(str(value))
    assert match, f"not a quantity this test understands: {value!r}"
    return float(match[1]) * _SCALE[match[2]]


def healthcheck_command(dockerfile: str) -> list[str]:
    """The exec-form CMD of a Dockerfile's HEALTHCHECK."""
    text = (ROOT / dockerfile).read_text().replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*?\])\s*$", text, re.M)
    assert match, f"{dockerfile} has an exec-form HEALTHCHECK"
    command: list[str] = yaml.safe_load(match[1])
    return command


def compose_grace_seconds(compose_file: Path = ROOT / "docker-compose.yml") -> dict[str, float]:
    """Each compose service's stop_grace_period: the drain budgets the compose file documents."""
    services = yaml.safe_load(compose_file.read_text())["services"]
    grace = {}
    for name, service in services.items():
        match = re.fullmatch(r"(\d+)s", str(service.get("stop_grace_period", "10s")))
        assert match, f"{name}: stop_grace_period in seconds"
        grace[name] = float(match[1])
    return grace


def image_name(image: str) -> str:
    """The image's name without registry folder, tag or digest: what the base manifests use."""
    name = image.split("@", maxsplit=1)[0].rsplit("/", 1)[-1].split(":", maxsplit=1)[0]
    return f"pubsub-fanout-{name}" if name in ("publisher", "subscriber", "dashboard") else name


def containers(pod: Doc) -> Iterator[Doc]:
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def environment(container: Doc, config_maps: Mapping[str, Doc]) -> dict[str, Any]:
    """A container's environment as the kubelet builds it: envFrom first, env over it.
    Values from the downward API stay as their ``valueFrom``."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        assert ref, "envFrom only from ConfigMaps (no Secret may land in the environment)"
        env.update(config_maps[ref["name"]].get("data", {}))
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def pod_violations(
    workload: Doc, grace: Mapping[str, float], config_maps: Mapping[str, Doc]
) -> list[str]:
    """Security, resources, probes and grace period of one workload's pod template."""
    name = workload["metadata"]["name"]
    pod = workload["spec"]["template"]["spec"]
    found: list[str] = []

    def check(ok: object, rule: str) -> None:
        if not ok:
            found.append(f"{workload['kind']}/{name}: {rule}")

    context = pod.get("securityContext", {})
    check(context.get("runAsNonRoot") is True, "pod runAsNonRoot: true")
    check(context.get("runAsUser") == UID, f"pod runAsUser: {UID}")
    check(context.get("runAsGroup") == UID, f"pod runAsGroup: {UID}")
    check(
        context.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault"
    )
    check(pod.get("automountServiceAccountToken") is False, "no service-account token mounted")
    check(not pod.get("hostNetwork") and not pod.get("hostPID"), "no host namespaces")
    check(name in grace, "a compose service of the same name documents its drain budget")
    seconds = pod.get("terminationGracePeriodSeconds")
    check(
        seconds is not None and seconds >= grace.get(name, float("inf")),
        f"terminationGracePeriodSeconds set, at least compose's {grace.get(name)}s",
    )
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in containers(pod):
        where = f"container {container['name']}"
        security = container.get("securityContext", {})
        check(
            security.get("allowPrivilegeEscalation") is False, f"{where}: no privilege escalation"
        )
        check(security.get("readOnlyRootFilesystem") is True, f"{where}: read-only root filesystem")
        check(security.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: drop ALL")
        check(not security.get("capabilities", {}).get("add"), f"{where}: no capability added")
        check(not security.get("privileged"), f"{where}: not privileged")
        check(security.get("runAsNonRoot", True) is True, f"{where}: runAsNonRoot not undone")
        check(security.get("runAsUser", UID) == UID, f"{where}: runAsUser not changed")
        # Kubernetes lets env win over envFrom, podman 4.3.1's kube play the other way round:
        # a variable set in both would differ between the cluster and the podman test.
        shared = {
            k
            for s in container.get("envFrom", [])
            for k in config_maps[s["configMapRef"]["name"]].get("data", {})
        }
        twice = shared & {item["name"] for item in container.get("env", [])}
        check(not twice, f"{where}: {sorted(twice)} in env and envFrom both")
        resources = container.get("resources", {})
        for kind in ("cpu", "memory"):
            request = resources.get("requests", {}).get(kind)
            limit = resources.get("limits", {}).get(kind)
            check(request is not None and limit is not None, f"{where}: {kind} request and limit")
            if request is not None and limit is not None:
                check(quantity(request) <= quantity(limit), f"{where}: {kind} request <= limit")
        check("livenessProbe" in container, f"{where}: liveness probe")
        check("readinessProbe" in container, f"{where}: readiness probe")
        dockerfile = DOCKERFILES.get(image_name(container["image"]))
        if dockerfile is not None:
            # Liveness asks only whether the process's loop turns (--live): a restart cannot
            # bring Pub/Sub or the database back. Readiness, or the start-up probe, may ask
            # the HEALTHCHECK's whole question (common.health).
            command = container.get("livenessProbe", {}).get("exec", {}).get("command")
            check(
                command == [*healthcheck_command(dockerfile), "--live"],
                f"{where}: liveness runs {dockerfile}'s HEALTHCHECK with --live",
            )
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        check(
            len(tmp) == 1 and "emptyDir" in volumes.get(tmp[0]["name"], {}),
            f"{where}: an emptyDir at /tmp (the heartbeat file)",
        )
    return found


def fanout_violations(workload: Doc, config_maps: Mapping[str, Doc], scaled: set[str]) -> list[str]:
    """A per-replica subscriber: identity from the pod name, spread over nodes, never scaled."""
    name = workload["metadata"]["name"]
    pod = workload["spec"]["template"]["spec"]
    found = []
    for container in pod["containers"]:
        replica_id = environment(container, config_maps).get("REPLICA_ID")
        if replica_id != {"fieldRef": {"fieldPath": "metadata.name"}}:
            found.append(f"{name}: REPLICA_ID from the downward API's metadata.name")
    keys = {c["topologyKey"] for c in pod.get("topologySpreadConstraints", [])}
    if "kubernetes.io/hostname" not in keys:
        found.append(f"{name}: spread across nodes (topologyKey kubernetes.io/hostname)")
    if name in scaled:
        found.append(f"{name}: a fan-out replica set is never autoscaled")
    return found


def subscription_mode(workload: Doc, config_maps: Mapping[str, Doc]) -> str | None:
    """per-replica, shared or sink for the subscriber image; None for the other images."""
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    if image_name(container["image"]) != "pubsub-fanout-subscriber":
        return None
    mode = environment(container, config_maps).get("SUBSCRIPTION_MODE", "per-replica")
    return str(mode)
