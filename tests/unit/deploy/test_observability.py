"""The observability files: the alerting rules pass their own unit tests (promtool), the
Prometheus configuration loads, every service is scraped, and every query of the rules
and of the Grafana dashboard names a metric the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from common.metrics import names
from tests.conftest import unavailable
from tests.support import ROOT
from tests.support.tools import kustomize

FOLDER = ROOT / "deploy/observability"
DASHBOARD = FOLDER / "grafana/dashboards/pubsub-fanout.json"
# What Prometheus and the exporter add to ours: the scrape's own, the resource's, the
# process's (prometheus_client's process collector).
OTHERS = {
    "up",
    "target_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_start_time_seconds",
}
# A name in a query that looks like one of ours, less the labels (our attributes' names).
WORD = re.compile(r"\b((?:messaging|pubsub_fanout|process)_[a-z0-9_]+|up|target_info)\b")
LABELS = {
    key.replace(".", "_")
    for key in (names.SYSTEM, names.SUBSCRIPTION, names.TOPIC, names.OPERATION, names.PEER)
}


def metrics_in(expression: str) -> set[str]:
    return set(WORD.findall(expression)) - LABELS


def exported() -> set[str]:
    found = set(OTHERS)
    for spec in names.ALL:
        found.add(spec.prometheus_name)
        if spec.kind == "histogram":
            found |= {f"{spec.prometheus_name}_{part}" for part in ("bucket", "count", "sum")}
    return found


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """promtool from the host when installed, else from the official image the compose
    file names (run with no network, the folder mounted read-only)."""
    if shutil.which("promtool"):
        command = ["promtool", *args]
        cwd: Path | None = FOLDER
    else:
        image = compose()["services"]["prometheus"]["image"]
        if (
            shutil.which("docker") is None
            or subprocess.run(
                ["docker", "image", "inspect", image], capture_output=True, check=False
            ).returncode
        ):
            unavailable(f"the rules' tests need promtool, or Docker with {image}")
        command = [
            "docker", "run", "--rm", "--network", "none", "--entrypoint", "promtool",
            "-v", f"{FOLDER}:/etc/prometheus:ro", "-w", "/etc/prometheus", image, *args,
        ]  # fmt: skip
        cwd = None
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_the_alerting_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", "rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_and_a_runbook() -> None:
    rules = yaml.safe_load((FOLDER / "rules.yml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((FOLDER / "rules.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    operations = (ROOT / "docs/operations.md").read_text()
    for rule in rules:
        name = rule["alert"]
        assert name in tested, f"{name}: no promtool test"
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert re.search(rf"^#+ {name}$", operations, re.M), f"{name}: no runbook section"


def test_the_prometheus_configuration_loads_with_its_rules() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_of_ours_is_scraped_on_its_metrics_port() -> None:
    config = yaml.safe_load((FOLDER / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # Every long-running service of ours; the operator command runs and leaves.
    built = {name for name, spec in compose()["services"].items() if "build" in spec}
    services = built - {"ctl"}
    assert services <= set(jobs)
    for name in services:
        (discovery,) = jobs[name]["dns_sd_configs"]
        assert discovery["names"] == [name]
        assert discovery["port"] == 9464


def test_metrics_ports_are_not_published_on_the_host() -> None:
    for name, spec in compose()["services"].items():
        assert not any("9464" in str(port) for port in spec.get("ports", [])), name


def queries() -> list[tuple[str, str]]:
    """(where, expression) of every rule and every dashboard panel's target."""
    found = []
    for rule in yaml.safe_load((FOLDER / "rules.yml").read_text())["groups"][0]["rules"]:
        found.append((f"rule {rule['alert']}", rule["expr"]))
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    return found


def test_every_query_names_only_metrics_the_services_export() -> None:
    known = exported()
    assert len(queries()) > 20
    for where, expression in queries():
        used = metrics_in(expression)
        assert used, f"{where}: no metric in {expression!r}"
        assert used <= known, f"{where}: {sorted(used - known)} exported by no service"


def test_the_check_catches_a_metric_nobody_exports() -> None:
    assert metrics_in('rate(pubsub_fanout_consumer_ackd_total{job="x"}[5m])') == {
        "pubsub_fanout_consumer_ackd_total"
    }
    assert "pubsub_fanout_consumer_ackd_total" not in exported()


def test_the_dashboard_reads_the_provisioned_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    source = yaml.safe_load(
        (FOLDER / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    (datasource,) = source["datasources"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
    provider = yaml.safe_load(
        (FOLDER / "grafana/provisioning/dashboards/pubsub-fanout.yml").read_text()
    )
    grafana = compose()["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"], "apart: observability runs without its image"
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
    (path,) = [p["options"]["path"] for p in provider["providers"]]
    assert (ROOT / mounts[path]).resolve() == DASHBOARD.parent.resolve()


def rendered(overlay: str) -> list[dict[str, Any]]:
    # kubectl from the development lock, as every test that renders the overlays has it.
    text = kustomize(ROOT / "deploy/kubernetes/overlays" / overlay)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stack's own Deployments (those of the project's images), by name."""
    return {
        d["metadata"]["name"]: d
        for d in docs
        if d["kind"] == "Deployment"
        and d["spec"]["template"]["spec"]["containers"][0]["image"]
        .split("/")[-1]
        .startswith(("pubsub-fanout-", "publisher", "subscriber", "dashboard"))
    }


def test_gke_scrapes_every_workload_and_evaluates_the_same_rules() -> None:
    docs = rendered("gke")
    monitors = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PodMonitoring"}
    ours = workloads(docs)
    assert set(monitors) == set(ours)
    for name, monitor in monitors.items():
        assert monitor["apiVersion"] == "monitoring.googleapis.com/v1"
        assert set(monitor["spec"]) == {"selector", "endpoints"}
        labels = ours[name]["spec"]["template"]["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == "metrics"
        (container,) = ours[name]["spec"]["template"]["spec"]["containers"]
        assert {"name": "metrics", "containerPort": 9464} in container["ports"], name
    (rules,) = [d for d in docs if d["kind"] == "Rules"]
    repository = yaml.safe_load((FOLDER / "rules.yml").read_text())["groups"]
    assert [g["rules"] for g in rules["spec"]["groups"]] == [g["rules"] for g in repository]


def test_the_local_overlay_runs_prometheus_with_the_same_rules_scraping_every_workload() -> None:
    docs = rendered("local")
    (config,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("prometheus-config")
    ]
    assert config["data"]["rules.yml"] == (FOLDER / "rules.yml").read_text()
    scrape = yaml.safe_load(config["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for name, workload in workloads(docs).items():
        (discovery,) = jobs[name]["dns_sd_configs"]
        (service_name,) = discovery["names"]
        service = services[service_name]["spec"]
        assert service["clusterIP"] == "None", "headless: every pod's address"
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert service["selector"].items() <= labels.items()
        assert service["ports"] == [{"name": "metrics", "port": 9464, "targetPort": "metrics"}]
