"""`docker compose --profile observability up --scale subscriber=3`: the real Prometheus
(the official image's stand-in here) scraping the stack, read through its HTTP API.

In order, on one stack: every service's target is up and every rule loaded; each
replica's counters equal what its log says it handled; a replica killed with SIGKILL
makes ReplicaSilent fire within its ``for:`` plus one scrape interval, its scrape
timeout and one evaluation interval: its next scrape fails, or is overdue if discovery
dropped it first, and the next evaluation sees it.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import ARTIFACTS, stack_for_test
from tests.support import ROOT
from tests.support.compose import Stack, docker, inspect, logs, running_stack
from tests.support.emulator import free_port
from tests.support.logs import records
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
REPLICAS = 3
SERVICES = ("publisher", "subscriber", "dashboard", "prometheus")
CONFIG = yaml.safe_load((ROOT / "deploy/observability/prometheus.yml").read_text())
RULES = yaml.safe_load((ROOT / "deploy/observability/rules.yml").read_text())


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/api/v1"

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/{path}{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def value(self, expression: str) -> float | None:
        """An instant query's one value; None without a result."""
        result = self.get("query", query=expression)["result"]
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def observed(project_copy: Path) -> Iterator[tuple[Stack, Prometheus]]:
    port = free_port()
    settings = {
        "PROMETHEUS_PORT": str(port),
        "LOG_FORMAT": "json",
        "PUBLISH_INTERVAL_SECONDS": "0.5",
    }
    new = stack_for_test(project_copy, "pubsub-observability-e2e", settings, ("observability",))
    with running_stack(
        new,
        "--scale",
        f"subscriber={REPLICAS}",
        ready=("subscriber", REPLICAS),
        artifacts=ARTIFACTS,
    ) as running:
        yield running, Prometheus(port)


def address(container: str) -> str:
    """The container's address on the stack's network: its target's instance, port aside."""
    networks = json.loads(inspect(container, "{{json .NetworkSettings.Networks}}"))
    (network,) = networks.values()
    return f"{network['IPAddress']}:9464"


def test_every_service_is_scraped_and_every_rule_loaded(
    observed: tuple[Stack, Prometheus],
) -> None:
    stack, prometheus = observed
    expected = {
        service: {address(c) for c in stack.containers(service)} for service in SERVICES[:-1]
    }
    expected["prometheus"] = {"localhost:9090"}

    def all_up() -> bool:
        targets = prometheus.get("targets", state="active")["activeTargets"]
        up: dict[str, set[str]] = {}
        for target in targets:
            if target["health"] == "up":
                up.setdefault(target["labels"]["job"], set()).add(target["labels"]["instance"])
        return all(expected[job] <= up.get(job, set()) for job in expected)

    wait_for(
        all_up,
        timeout=60,
        interval=1,
        what=f"every target up: {expected}",
        details=lambda: json.dumps(prometheus.get("targets"), indent=1)[:5000],
    )
    assert len(expected["subscriber"]) == REPLICAS
    groups = prometheus.get("rules")["groups"]
    loaded = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
    assert loaded == {rule["alert"]: "ok" for rule in RULES["groups"][0]["rules"]}


def handled(container: str) -> tuple[str, int, int]:
    """A replica's subscription ID, and what its log says it received and rejected."""
    lines = records(logs(container))
    (subscription,) = {r["subscription"] for r in lines if r.get("event") == "listening"}
    received = sum(1 for r in lines if r.get("event") == "received")
    rejected = sum(1 for r in lines if r.get("event") == "rejected")
    return subscription.rsplit("/", 1)[-1], received, rejected


def describe(prometheus: Prometheus, replica: str, selector: str) -> str:
    consumed = prometheus.value(f"messaging_client_consumed_messages_total{{{selector}}}")
    acked = prometheus.value(f"pubsub_fanout_consumer_acked_total{{{selector}}}")
    return f"log (subscription, received, rejected): {handled(replica)}; {consumed=} {acked=}"


def test_each_replicas_consumed_total_equals_what_its_log_says_it_handled(
    observed: tuple[Stack, Prometheus],
) -> None:
    stack, prometheus = observed
    (publisher,) = stack.containers("publisher")
    docker("stop", publisher)  # the counts settle: nothing more to handle
    replicas = stack.containers("subscriber")
    for replica in replicas:
        subscription, received, rejected = handled(replica)
        assert received > 10, "the replica handled the publisher's messages"
        selector = (
            f'job="subscriber", instance="{address(replica)}", '
            f'messaging_destination_subscription_name="{subscription}"'
        )

        def counted(selector: str = selector, replica: str = replica) -> bool:
            _, received, rejected = handled(replica)
            consumed = prometheus.value(f"messaging_client_consumed_messages_total{{{selector}}}")
            acked = prometheus.value(f"pubsub_fanout_consumer_acked_total{{{selector}}}")
            return consumed == received + rejected and acked == received

        wait_for(
            counted,
            timeout=30,
            interval=1,
            what=f"{replica[:12]}'s totals equal to its log's",
            details=partial(describe, prometheus, replica, selector),
        )
        print(f"{replica[:12]}: {received} received, {rejected} rejected, counted alike")


def test_a_replica_killed_with_sigkill_is_reported_silent_in_time(
    observed: tuple[Stack, Prometheus],
) -> None:
    stack, prometheus = observed
    (rule,) = [r for r in RULES["groups"][0]["rules"] if r["alert"] == "ReplicaSilent"]
    hold = float(rule["for"].removesuffix("s"))
    scrape = float(CONFIG["global"]["scrape_interval"].removesuffix("s"))
    evaluation = float(CONFIG["global"]["evaluation_interval"].removesuffix("s"))
    (job,) = [job for job in CONFIG["scrape_configs"] if job["job_name"] == "subscriber"]
    timeout = float(job["scrape_timeout"].removesuffix("s"))
    victim, *others = stack.containers("subscriber")
    instance = address(victim)
    killed = time.monotonic()
    docker("kill", "--signal", "KILL", victim)

    def firing() -> list[dict[str, Any]] | None:
        alerts = prometheus.get("alerts")["alerts"]
        found = [
            a
            for a in alerts
            if a["labels"]["alertname"] == "ReplicaSilent" and a["state"] == "firing"
        ]
        return found or None

    alerts = wait_for(
        firing,
        timeout=hold + 4 * scrape,
        interval=0.25,
        what="ReplicaSilent firing",
        details=lambda: json.dumps(prometheus.get("alerts"), indent=1),
    )
    seconds = time.monotonic() - killed
    print(
        f"ReplicaSilent fired {seconds:.1f}s after the SIGKILL "
        f"(for: {hold:g}s, scrape every {scrape:g}s with a {timeout:g}s timeout, "
        f"rules every {evaluation:g}s)"
    )
    assert [a["labels"]["instance"] for a in alerts] == [instance]
    # Timed from before `docker kill`, which takes its own moment on a busy machine; the
    # alerts are polled every 0.25 s.
    assert seconds <= hold + scrape + timeout + evaluation + 1.0
    assert all(address(other) != instance for other in others)
