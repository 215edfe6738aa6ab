"""deploy/terraform's grants, rendered from the files (tests/unit/deploy/terraform.py):
under the defaults (terraform.tfvars.example), no service account can consume or delete
a subscription it does not own; a plan that would let one fails, unless the shortcut is
asked for by name."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.support import ROOT
from tests.unit.deploy.terraform import Grant, PlanFails, Terraform

TERRAFORM = ROOT / "deploy" / "terraform"
# Consume or delete: what takes messages from a subscription, or the subscription itself.
TAKING = {"pubsub.subscriptions.consume", "pubsub.subscriptions.delete"}
# The shared subscriptions each is meant to consume; the rest of what an account may
# consume it creates itself, in its own project.
SHARED = {"pubsub-worker": {"tasks-workers"}, "pubsub-sink": {"readings-sink"}}
TOO_WIDE = {"roles/pubsub.editor", "roles/pubsub.admin", "roles/editor", "roles/owner"}


def example() -> dict[str, Any]:
    with (TERRAFORM / "terraform.tfvars.example").open() as file:
        parsed = hcl2.load(file)
    return {name: value.strip('"') for name, value in parsed.items() if not name.startswith("__")}


def render(**variables: Any) -> Terraform:
    return Terraform(TERRAFORM, variables)


def account(member: str) -> str:
    return member.removeprefix("serviceAccount:").split("@")[0]


def reach(tf: Terraform, grants: list[Grant]) -> dict[str, set[tuple[str, str]]]:
    """By service account of ours (not Google's agents): the (scope, target) on which it
    may consume or delete subscriptions."""
    ours = {account(sa.member) for sa in tf.instances("google_service_account", "service").values()}
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for grant in grants:
        if account(grant.member) in ours and tf.permissions(grant.role) & TAKING:
            found[account(grant.member)].add((grant.scope, grant.target))
    return found


def overreach(tf: Terraform) -> list[str]:
    """Every way an account could consume or delete a subscription it does not own."""
    grants = tf.grants()
    durable = {
        instance.attribute("name")
        for _, name, _ in tf.resources()
        for instance in _instances(tf, "google_pubsub_subscription", name)
    }
    owned_projects = tf.local("own_subscriptions_projects")
    problems = []
    for who, places in reach(tf, grants).items():
        service = who.removeprefix("pubsub-")
        for scope, target in places:
            if scope == "subscription" and target not in SHARED.get(who, set()):
                problems.append(f"{who} may consume or delete {target}")
            if scope == "project":
                if target == tf.project and durable:
                    problems.append(f"{who} may take from {sorted(durable)} in {target}")
                others = [s for s, p in owned_projects.items() if p == target and s != service]
                if others:
                    problems.append(f"{who} may take the subscriptions of {others} in {target}")
                if owned_projects.get(service) != target:
                    problems.append(f"{who} may take subscriptions in {target}, not its own")
            if scope == "topic":
                problems.append(f"{who} has a subscription permission on topic {target}")
    problems += [f"{g.member} has {g.role}" for g in grants if g.role in TOO_WIDE]
    return problems


def _instances(tf: Terraform, rtype: str, name: str) -> list[Any]:
    if (rtype, name) not in {(t, n) for t, n, _ in tf.resources()}:
        return []
    found = tf.instances(rtype, name)
    return list(found.values()) if isinstance(found, dict) else [found]


def test_under_the_defaults_no_account_can_consume_or_delete_a_subscription_it_does_not_own() -> (
    None
):
    tf = render(**example())
    assert overreach(tf) == []
    places = reach(tf, tf.grants())
    # What each may take, exactly: the worker and the sink their shared subscription, the
    # replicas and the dashboard the subscriptions they create, each in a project apart.
    assert places == {
        "pubsub-worker": {("subscription", "tasks-workers")},
        "pubsub-sink": {("subscription", "readings-sink")},
        "pubsub-subscriber": {("project", example()["replica_subscriptions_project_id"])},
        "pubsub-dashboard": {("project", example()["dashboard_subscriptions_project_id"])},
    }


def test_the_checker_sees_an_account_that_could_take_what_is_not_its_own() -> None:
    """The shortcut, asked for by name: the plan goes through, and the dashboard's and the
    replicas' project-wide grants then reach the durable subscriptions."""
    tf = render(project_id="my-gcp-project", allow_subscriptions_in_main_project=True)
    problems = overreach(tf)
    assert any(p.startswith("pubsub-dashboard may take from") for p in problems), problems
    assert any(
        "pubsub-subscriber may take the subscriptions of ['dashboard']" in p for p in problems
    )


@pytest.mark.parametrize(
    "variables",
    [
        {},  # neither project given
        {"replica_subscriptions_project_id": "my-replicas"},
        {"dashboard_subscriptions_project_id": "my-dashboard"},
        # One project for both: each account could take the other's subscriptions.
        {
            "replica_subscriptions_project_id": "my-shared",
            "dashboard_subscriptions_project_id": "my-shared",
        },
        {
            "replica_subscriptions_project_id": "my-gcp-project",
            "dashboard_subscriptions_project_id": "my-dashboard",
        },
    ],
)
def test_a_plan_that_would_let_an_account_take_what_is_not_its_own_fails(
    variables: dict[str, str],
) -> None:
    tf = render(project_id="my-gcp-project", **variables)
    with pytest.raises(PlanFails, match="allow_subscriptions_in_main_project"):
        tf.grants()


def test_the_services_are_told_the_same_projects() -> None:
    """docker-compose.gcp.yml and the GKE overlay pass the replicas' and the dashboard's
    projects to the services apart, as Terraform binds them apart."""
    compose = (ROOT / "docker-compose.gcp.yml").read_text()
    assert "REPLICA_SUBSCRIPTIONS_PROJECT_ID: ${REPLICA_SUBSCRIPTIONS_PROJECT_ID:-}" in compose
    assert "REPLICA_SUBSCRIPTIONS_PROJECT_ID: ${DASHBOARD_SUBSCRIPTIONS_PROJECT_ID:-}" in compose
    overlay = Path(ROOT / "deploy/kubernetes/overlays/gke/kustomization.yaml").read_text()
    assert "dashboard_subscriptions_project_id" in overlay
