"""Every kustomize overlay renders, validates strictly, and holds every workload to the rules.

`kubectl kustomize` (the development lock's kubectl) renders each overlay under
deploy/kubernetes/overlays (offline); the result is validated against one pinned
Kubernetes version's schemas, in strict mode, by kubernetes-validate. KEDA's resources
have no schema there: they are checked field by field below. Then each workload meets the
rules of tests/unit/deploy/rules.py, so a new manifest cannot silently drop one; the last
test shows each rule failing on a workload that breaks it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.tools import ToolUnavailable, kustomize
from tests.unit.deploy import rules
from tests.unit.deploy.rules import Doc

# The Kubernetes version the manifests must validate against: one GKE's stable channel
# offers. Raise it with the clusters; kubernetes-validate bundles its schemas.
KUBERNETES_VERSION = "1.34.0"
OVERLAYS = sorted(
    p.parent.name for p in (ROOT / "deploy/kubernetes/overlays").glob("*/kustomization.yaml")
)
SCALED_OBJECT_FIELDS = {
    "scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
    "cooldownPeriod", "advanced", "triggers",
}  # fmt: skip
PUBSUB_TRIGGER_FIELDS = {"subscriptionName", "mode", "value", "activationValue"}


@functools.cache
def render(overlay: str) -> tuple[Doc, ...]:
    try:
        rendered = kustomize(ROOT / "deploy/kubernetes/overlays" / overlay)
    except ToolUnavailable as exc:
        unavailable(str(exc))
    return tuple(doc for doc in yaml.safe_load_all(rendered) if doc)


def of_kind(docs: tuple[Doc, ...], *kinds: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in kinds]


def deployment(docs: tuple[Doc, ...], name: str) -> Doc:
    (found,) = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == name]
    return found


def config_maps(docs: tuple[Doc, ...]) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, "ConfigMap")}


def settings(docs: tuple[Doc, ...]) -> dict[str, str]:
    (found,) = [c for n, c in config_maps(docs).items() if n.startswith("pubsub-settings-")]
    data: dict[str, str] = found["data"]
    return data


def scaled_targets(docs: tuple[Doc, ...]) -> dict[str, Doc]:
    """Workload name -> the autoscaler (HPA or KEDA ScaledObject) that scales it."""
    scalers = of_kind(docs, "HorizontalPodAutoscaler", "ScaledObject")
    return {s["spec"]["scaleTargetRef"]["name"]: s for s in scalers}


def selects(selector: dict[str, Any], workload: Doc) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_both_overlays_exist() -> None:
    assert {"local", "gke"} <= set(OVERLAYS)


def test_every_resource_validates_strictly(overlay: str) -> None:
    try:
        import kubernetes_validate  # noqa: PLC0415 - a dev tool, missing in a bare install
    except ImportError:
        unavailable("validating the manifests needs kubernetes-validate (the dev extra)")
    for doc in render(overlay):
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # no schema bundled: see test_keda_resources_use_known_fields
        if doc["apiVersion"].startswith("monitoring.googleapis.com/"):
            continue  # nor for Managed Prometheus's: see tests/unit/deploy/test_observability
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_keda_resources_use_known_fields(overlay: str) -> None:
    for scaled in of_kind(render(overlay), "ScaledObject"):
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        assert set(scaled["spec"]) <= SCALED_OBJECT_FIELDS, scaled["spec"].keys()
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "gcp-pubsub"
            assert set(trigger["metadata"]) <= PUBSUB_TRIGGER_FIELDS, trigger["metadata"]
            assert trigger["metadata"]["mode"] == "SubscriptionSize"
            assert int(trigger["metadata"]["value"]) > 0
    for auth in of_kind(render(overlay), "TriggerAuthentication"):
        # Workload Identity of KEDA's operator: no secret, no key.
        assert auth["spec"] == {"podIdentity": {"provider": "gcp"}}


def test_every_workload_meets_the_pod_rules(overlay: str) -> None:
    grace, docs = rules.compose_grace_seconds(), render(overlay)
    workloads = of_kind(docs, *rules.WORKLOAD_KINDS)
    assert workloads
    violations = [v for w in workloads for v in rules.pod_violations(w, grace, config_maps(docs))]
    assert violations == []


def test_fanout_replicas_are_spread_named_by_their_pod_and_never_autoscaled(overlay: str) -> None:
    docs = render(overlay)
    maps, scaled = config_maps(docs), set(scaled_targets(docs))
    fanout = [
        w
        for w in of_kind(docs, *rules.WORKLOAD_KINDS)
        if rules.subscription_mode(w, maps) == "per-replica"
    ]
    assert [w["metadata"]["name"] for w in fanout] == ["subscriber"]
    assert [v for w in fanout for v in rules.fanout_violations(w, maps, scaled)] == []


def test_shared_consumers_have_a_disruption_budget_and_on_gke_a_backlog_autoscaler(
    overlay: str,
) -> None:
    docs = render(overlay)
    maps, scalers = config_maps(docs), scaled_targets(docs)
    budgets = of_kind(docs, "PodDisruptionBudget")
    shared = [
        w
        for w in of_kind(docs, *rules.WORKLOAD_KINDS)
        if rules.subscription_mode(w, maps) in ("shared", "sink")
    ]
    assert "worker" in {w["metadata"]["name"] for w in shared}
    for workload in shared:
        name = workload["metadata"]["name"]
        assert [b for b in budgets if selects(b["spec"]["selector"], workload)], name
        if overlay != "gke":
            continue
        assert "replicas" not in workload["spec"], f"{name}: the autoscaler owns replicas"
        scaler = scalers[name]["spec"]
        assert 1 <= scaler["minReplicaCount"] < scaler["maxReplicaCount"], name
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        subscription = rules.environment(container, maps)["SUBSCRIPTION_ID"]
        (trigger,) = scaler["triggers"]
        assert trigger["metadata"]["subscriptionName"] == (
            f"projects/{settings(docs)['GCP_PROJECT_ID']}/subscriptions/{subscription}"
        )
    if overlay == "gke":
        assert {w["metadata"]["name"] for w in shared} == {"worker", "sink"}


def test_dashboard_is_private_and_the_namespace_denies_by_default(overlay: str) -> None:
    docs = render(overlay)
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    assert services["dashboard"]["spec"]["type"] == "ClusterIP"
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services.values())
    assert of_kind(docs, "Ingress", "Gateway", "HTTPRoute") == []
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # No policy admits anything to the dashboard but scrapes of /metrics: port-forward
    # needs none.
    labels = deployment(docs, "dashboard")["spec"]["template"]["metadata"]["labels"]
    metrics_only = [{"protocol": "TCP", "port": 9464}]  # /metrics, to Prometheus alone
    for name, spec in policies.items():
        if all(rule.get("ports") == metrics_only for rule in spec.get("ingress", [])):
            continue
        if "Ingress" in spec["policyTypes"] and spec.get("ingress"):
            selector = spec["podSelector"].get("matchLabels", {})
            assert selector, f"{name} admits traffic to every pod"
            assert not all(labels.get(k) == v for k, v in selector.items()), name
    (namespace,) = of_kind(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_gke_uses_workload_identity_and_no_emulator_or_key() -> None:
    docs = render("gke")
    project = settings(docs)["GCP_PROJECT_ID"]
    assert "PUBSUB_EMULATOR_HOST" not in settings(docs)
    accounts = {a["metadata"]["name"]: a for a in of_kind(docs, "ServiceAccount")}
    workloads = of_kind(docs, *rules.WORKLOAD_KINDS)
    names = [w["spec"]["template"]["spec"]["serviceAccountName"] for w in workloads]
    assert len(names) == len(set(names)) == len(workloads), "one ServiceAccount per service"
    for workload, name in zip(workloads, names, strict=True):
        assert "emulator" not in workload["metadata"]["name"]
        email = accounts[name]["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        assert email == f"pubsub-{name}@{project}.iam.gserviceaccount.com"
        for container in workload["spec"]["template"]["spec"]["containers"]:
            env = rules.environment(container, config_maps(docs))
            assert "GOOGLE_APPLICATION_CREDENTIALS" not in env
            assert "PUBSUB_EMULATOR_HOST" not in env
        volumes = workload["spec"]["template"]["spec"].get("volumes", [])
        secrets = [v["secret"]["secretName"] for v in volumes if "secret" in v]
        assert secrets in ([], ["sink-postgres"]), "the database password is the only secret"


def test_local_runs_against_the_emulator_in_the_cluster() -> None:
    docs = render("local")
    assert settings(docs)["PUBSUB_EMULATOR_HOST"] == "emulator:8085"
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    assert services["emulator"]["spec"]["ports"][0]["port"] == 8085
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    assert policies["emulator-from-stack"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8085}
    ]


def _mutations() -> dict[str, tuple[Callable[[Doc], None], str]]:
    def container(doc: Doc) -> Doc:
        found: Doc = doc["spec"]["template"]["spec"]["containers"][0]
        return found

    def pod(doc: Doc) -> Doc:
        found: Doc = doc["spec"]["template"]["spec"]
        return found

    return {
        "writable root": (
            lambda d: container(d)["securityContext"].pop("readOnlyRootFilesystem"),
            "read-only root filesystem",
        ),
        "root user": (lambda d: pod(d)["securityContext"].update(runAsUser=0), "runAsUser"),
        "capability kept": (
            lambda d: container(d)["securityContext"]["capabilities"].update(add=["NET_RAW"]),
            "no capability added",
        ),
        "escalation": (
            lambda d: container(d)["securityContext"].update(allowPrivilegeEscalation=True),
            "no privilege escalation",
        ),
        "no seccomp": (lambda d: pod(d)["securityContext"].pop("seccompProfile"), "seccomp"),
        "no limits": (lambda d: container(d)["resources"].pop("limits"), "request and limit"),
        "no liveness": (lambda d: container(d).pop("livenessProbe"), "liveness probe"),
        "other health command": (
            lambda d: container(d)["livenessProbe"]["exec"].update(command=["true"]),
            "HEALTHCHECK",
        ),
        "short grace": (
            lambda d: pod(d).update(terminationGracePeriodSeconds=2),
            "terminationGracePeriodSeconds",
        ),
        "no /tmp": (lambda d: container(d).pop("volumeMounts"), "emptyDir at /tmp"),
        "env over envFrom": (
            lambda d: container(d)["env"].append({"name": "LOG_LEVEL", "value": "DEBUG"}),
            "in env and envFrom both",
        ),
    }


@pytest.mark.parametrize("mutation", sorted(_mutations()))
def test_the_pod_rules_catch_a_workload_that_breaks_them(mutation: str) -> None:
    docs = render("local")
    broken = copy.deepcopy(deployment(docs, "subscriber"))
    change, rule = _mutations()[mutation]
    change(broken)
    violations = rules.pod_violations(broken, rules.compose_grace_seconds(), config_maps(docs))
    assert any(rule in v for v in violations), violations


def test_the_fanout_rules_catch_a_pod_without_identity_or_spread() -> None:
    docs = render("local")
    broken = copy.deepcopy(deployment(docs, "subscriber"))
    broken["spec"]["template"]["spec"].pop("topologySpreadConstraints")
    broken["spec"]["template"]["spec"]["containers"][0]["env"] = []
    violations = rules.fanout_violations(broken, config_maps(docs), {"subscriber"})
    assert len(violations) == 3, violations


def test_the_health_commands_come_from_the_dockerfiles() -> None:
    assert rules.healthcheck_command("Dockerfile-Sub") == ["python", "-m", "common.health"]
    assert rules.healthcheck_command("Dockerfile-Dashboard") == ["python", "-m", "dashboard.health"]


def test_the_image_names_map_back_to_the_base_names() -> None:
    registry = "europe-west1-docker.pkg.dev/p/pubsub-fanout/subscriber@sha256:" + "0" * 64
    assert rules.image_name(registry) == "pubsub-fanout-subscriber"
    assert rules.image_name("localhost/pubsub-fanout-dashboard:dev") == "pubsub-fanout-dashboard"
    assert Path(rules.DOCKERFILES["pubsub-fanout-publisher"]).name == "Dockerfile-Pub"
