"""``replicas`` and ``leftovers``: the fan-out replicas as Pub/Sub knows them.

Three records, joined by replica ID: its identity claim (a subscription on
``<topic>-replicas``, labelled with the claiming process's boot ID: it never expires and a
clean stop deletes it; ``subscriber.fanout.identity``), its own subscription
(``<topic>-<replica>``) and its last receipt heard (``ctl.listening``). A replica heard
within the listening window is live; one with a claim or a subscription but not heard is
gone (killed, its node lost) or cannot reach Pub/Sub: a leftover.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.outage import ADMIN_CALL_TIMEOUT_SECONDS
from common.resources import APP_LABEL
from ctl.config import CtlConfig
from ctl.listening import ROLE as CTL_ROLE
from ctl.listening import Heard, latest_by_replica, listen
from ctl.output import FAILED, OK, Result, table
from subscriber.fanout.identity import BOOT_LABEL, CLAIM_ROLE, registry_topic
from subscriber.fanout.replica import ROLE as REPLICA_ROLE

# Pub/Sub's API has no backlog figure; Google Cloud's is in Cloud Monitoring.
BACKLOG_NOTE = (
    "backlog: Pub/Sub's API does not expose it (Cloud Monitoring does: "
    "subscription/num_undelivered_messages; the emulator has none)"
)


@dataclass(frozen=True)
class Replica:
    replica: str
    claim: str | None
    boot: str | None
    subscription: str | None
    last: Heard | None

    @property
    def status(self) -> str:
        if self.last is None:
            return "silent"
        return "left" if self.last.receipt.kind == "left" else "live"

    def to_json(self) -> dict[str, Any]:
        last = self.last
        receipt = None
        if last is not None:
            totals = last.receipt.totals
            receipt = {
                "kind": last.receipt.kind,
                "published": last.published.isoformat(),
                "session": last.receipt.sender.session,
                "acked": totals.acked if totals else None,
                "rejected": totals.rejected if totals else None,
            }
        return {
            "replica": self.replica,
            "status": self.status,
            "subscription": self.subscription,
            "claim": self.claim,
            "boot": self.boot,
            "last_receipt": receipt,
            "backlog": None,
        }


@dataclass(frozen=True)
class Inventory:
    replicas: list[Replica]
    # Whether any receipt at all was heard: none means RECEIPTS=off, or no replica runs.
    heard_any: bool
    # The command's own temporary subscriptions that an interrupted run left.
    temporaries: list[str]


def owned_subscriptions(
    subscriber: pubsub_v1.SubscriberClient, config: CtlConfig
) -> list[types.Subscription]:
    """Every subscription labelled as the project's, in the replicas' project."""
    project = config.pubsub.owned_subscription_path("x").rsplit("/subscriptions/", 1)[0]
    return [
        sub
        for sub in subscriber.list_subscriptions(
            request={"project": project}, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
        )
        if sub.labels.get("app") == APP_LABEL
    ]


def take_inventory(
    subscriber: pubsub_v1.SubscriberClient, config: CtlConfig, listen_seconds: float
) -> Inventory:
    """Listen first (the command's own subscription is gone when the listing is made),
    then join claims, subscriptions and receipts by replica ID."""
    heard = listen(subscriber, config, listen_seconds)
    latest = latest_by_replica(heard)
    pubsub = config.pubsub
    registry = registry_topic(pubsub.topic_id)
    claims: dict[str, types.Subscription] = {}
    own: dict[str, str] = {}
    temporaries = []
    for sub in owned_subscriptions(subscriber, config):
        sub_id = sub.name.rsplit("/", 1)[-1]
        role = sub.labels.get("role")
        if role == CLAIM_ROLE and sub.topic == pubsub.topic_path_of(registry):
            claims[sub_id.removeprefix(f"{registry}-")] = sub
        elif role == REPLICA_ROLE and sub.topic == pubsub.topic_path:
            own[sub_id.removeprefix(f"{pubsub.topic_id}-")] = sub.name
        elif role == CTL_ROLE and sub.topic == pubsub.topic_path_of(config.receipts_topic_id):
            temporaries.append(sub.name)
    found = []
    for replica in sorted(set(claims) | set(own) | set(latest)):
        claim = claims.get(replica)
        boot = claim.labels.get(BOOT_LABEL) if claim is not None else None
        found.append(
            Replica(
                replica, claim.name if claim else None, boot, own.get(replica), latest.get(replica)
            )
        )
    return Inventory(found, bool(heard), sorted(temporaries))


def replicas(subscriber: pubsub_v1.SubscriberClient, config: CtlConfig, listen: float) -> Result:
    inventory = take_inventory(subscriber, config, listen)
    rows = [
        (
            r.replica,
            r.status,
            r.last.receipt.kind if r.last else None,
            r.last.published.strftime("%H:%M:%S") if r.last else None,
            _totals(r),
            r.subscription.rsplit("/", 1)[-1] if r.subscription else None,
            r.boot,
        )
        for r in inventory.replicas
    ]
    headers = ("REPLICA", "STATUS", "LAST", "AT (UTC)", "ACKED/REJECTED", "SUBSCRIPTION", "BOOT")
    lines = [table(headers, rows) if rows else "no replicas: no claim, subscription or receipt"]
    if not inventory.heard_any and rows:
        lines.append(
            f"no receipt heard in {listen:g}s: replicas run with RECEIPTS=off, or none runs"
        )
    lines.append(BACKLOG_NOTE)
    data = {"replicas": [r.to_json() for r in inventory.replicas], "heard_any": inventory.heard_any}
    return Result(data, "\n".join(lines))


def _totals(replica: Replica) -> str | None:
    totals = replica.last.receipt.totals if replica.last else None
    return f"{totals.acked}/{totals.rejected}" if totals else None


def leftovers(
    subscriber: pubsub_v1.SubscriberClient,
    config: CtlConfig,
    listen: float,
    *,
    delete: bool,
    force: bool,
) -> Result:
    """The claims and subscriptions of replicas not heard, and the command's own left
    temporary subscriptions; deleted with ``delete``. Without any receipt heard, nothing
    tells a gone replica from a live one: ``delete`` then needs ``force``."""
    inventory = take_inventory(subscriber, config, listen)
    gone = [r for r in inventory.replicas if r.status != "live"]
    paths = [p for r in gone for p in (r.subscription, r.claim) if p] + inventory.temporaries
    blind = not inventory.heard_any and bool(paths)
    if delete and blind and not force:
        text = (
            f"refusing to delete: no receipt heard in {listen:g}s, so live replicas (RECEIPTS=off) "
            "cannot be told from gone ones; stop them first or pass --force"
        )
        return Result({"leftovers": paths, "deleted": [], "refused": text}, text, FAILED)
    deleted = []
    if delete:
        for path in paths:
            with contextlib.suppress(exceptions.NotFound):  # gone meanwhile: as good
                subscriber.delete_subscription(
                    subscription=path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
                )
            deleted.append(path)
    verb = "deleted" if delete else "left over"
    lines = [f"{verb}: {path}" for path in paths] or ["no leftovers"]
    if paths and not delete:
        lines.append("delete them with: python -m ctl leftovers --delete")
    data = {"leftovers": paths, "deleted": deleted, "replicas": [r.replica for r in gone]}
    return Result(data, "\n".join(lines), OK)
