"""``doctor``: is everything the stack needs there, as it should be?

Pub/Sub reachable; every topic and subscription the project owns present, with the
settings its service declares (``common.resources`` declarations and ``drift``: the
same comparison the services make when they start); the key file's permissions; on
Google Cloud, the permissions each service needs (``testIamPermissions``, with the
credentials at hand: the services' own key in docker-compose.gcp.yml); the clocks
against Pub/Sub's publish times (``ctl.clock``).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.pubsub_v1 import types

from common.outage import ADMIN_CALL_TIMEOUT_SECONDS, UNAVAILABLE
from common.resources import drift, retention_covering, topic, topic_drift
from ctl import clock, listening, permissions
from ctl.config import CtlConfig
from ctl.output import FAILED, OK, Result, table
from ctl.replicas import owned_subscriptions
from subscriber import dead_letter
from subscriber.fanout.identity import registry_topic
from subscriber.fanout.replica import ROLE as REPLICA_ROLE
from subscriber.fanout.replica import declared_subscription

PASS, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str = ""


def doctor(
    subscriber: pubsub_v1.SubscriberClient,
    publisher: pubsub_v1.PublisherClient,
    config: CtlConfig,
    listen_seconds: float,
) -> Result:
    checks = [reachable(publisher, config)]
    if checks[0].status == PASS:
        checks += topics(publisher, config)
        checks += subscriptions(subscriber, config)
        checks.append(key_file(config))
        checks += iam(subscriber, publisher, config)
        checks += clocks(listening.listen(subscriber, config, listen_seconds))
    failed = any(check.status == FAIL for check in checks)
    rows = [(check.status, check.name, check.detail) for check in checks]
    summary = "problems found" if failed else "all good"
    data = {"ok": not failed, "checks": [vars(check) for check in checks]}
    return Result(
        data, table(("STATUS", "CHECK", "DETAIL"), rows) + f"\n{summary}", FAILED if failed else OK
    )


def reachable(publisher: pubsub_v1.PublisherClient, config: CtlConfig) -> Check:
    started = time.monotonic()
    try:
        publisher.get_topic(
            topic=config.pubsub.topic_path, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
        )
    except exceptions.NotFound:
        pass
    except UNAVAILABLE as exc:
        return Check("Pub/Sub reachable", FAIL, f"{config.pubsub.target}: {exc}")
    elapsed = (time.monotonic() - started) * 1000
    return Check("Pub/Sub reachable", PASS, f"{config.pubsub.target}, {elapsed:.0f} ms")


def topics(publisher: pubsub_v1.PublisherClient, config: CtlConfig) -> list[Check]:
    pubsub = config.pubsub
    declared = [
        topic(pubsub.topic_path, retention_covering(config.replay_seconds)),
        topic(pubsub.topic_path_of(config.dead_letter.topic_id)),
        topic(pubsub.topic_path_of(config.receipts_topic_id)),
        topic(pubsub.topic_path_of(registry_topic(pubsub.topic_id))),
    ]
    checks = []
    for wanted in declared:
        name = f"topic {wanted.name.rsplit('/', 1)[-1]}"
        try:
            found = publisher.get_topic(
                topic=wanted.name, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
        except exceptions.NotFound:
            checks.append(Check(name, FAIL, "missing: its service creates it when it starts"))
            continue
        if topic_drift(wanted, found):
            detail = (
                f"retains messages for {found.message_retention_duration}, less than "
                f"REPLAY_SECONDS={config.replay_seconds}: late joiners miss the rest"
            )
            checks.append(Check(name, FAIL, detail))
        else:
            checks.append(Check(name, PASS, "present"))
    return checks


def subscriptions(subscriber: pubsub_v1.SubscriberClient, config: CtlConfig) -> list[Check]:
    pubsub = config.pubsub
    declared = list(dead_letter.plan(pubsub, config.dead_letter).subscriptions)
    for sub in owned_subscriptions(subscriber, config):
        if sub.labels.get("role") == REPLICA_ROLE and sub.topic == pubsub.topic_path:
            replica = sub.name.rsplit("/", 1)[-1].removeprefix(f"{pubsub.topic_id}-")
            declared.append(declared_subscription(pubsub, config.dead_letter, replica))
    return [_subscription(subscriber, wanted) for wanted in declared]


def _subscription(subscriber: pubsub_v1.SubscriberClient, wanted: types.Subscription) -> Check:
    name = f"subscription {wanted.name.rsplit('/', 1)[-1]}"
    try:
        found = subscriber.get_subscription(
            subscription=wanted.name, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
        )
    except exceptions.NotFound:
        return Check(name, FAIL, "missing: the replicas create it when they start")
    updatable, conflicting = drift(wanted, found)
    if conflicting:
        return Check(name, FAIL, f"differs in {', '.join(conflicting)}, which cannot be updated")
    if updatable:
        return Check(name, WARN, f"differs in {', '.join(updatable)}; a replica updates it")
    return Check(name, PASS, "as declared")


def key_file(config: CtlConfig) -> Check:
    path = config.pubsub.key_file
    if config.pubsub.emulator_host is not None:
        return Check("key file", SKIP, "the emulator needs no credentials")
    if path is None:
        return Check("key file", SKIP, "none: application default credentials")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Check("key file", FAIL, f"{path} is mode {mode:o}: others may read it; chmod 400")
    return Check("key file", PASS, f"{path} is mode {mode:o}")


def iam(
    subscriber: pubsub_v1.SubscriberClient,
    publisher: pubsub_v1.PublisherClient,
    config: CtlConfig,
) -> list[Check]:
    if config.pubsub.emulator_host is not None:
        return [Check("permissions", SKIP, "the emulator has no IAM")]
    missing: dict[str, list[str]] = {}
    for need in permissions.needs(config):
        client = publisher if need.on_topic else subscriber
        request = {"resource": need.resource, "permissions": list(need.permissions)}
        try:
            answer = client.test_iam_permissions(
                request=request, retry=None, timeout=ADMIN_CALL_TIMEOUT_SECONDS
            )
        except exceptions.NotFound:
            continue  # said by the presence checks
        granted = set(answer.permissions)
        lacking = [p for p in need.permissions if p not in granted]
        if lacking:
            short = need.resource.rsplit("/", 1)[-1]
            missing.setdefault(need.service, []).append(f"{', '.join(lacking)} on {short}")
    services = sorted({need.service for need in permissions.needs(config)})
    return [
        Check(f"permissions: {service}", FAIL, "; ".join(missing[service]))
        if service in missing
        else Check(f"permissions: {service}", PASS, "all granted to these credentials")
        for service in services
    ]


def clocks(heard: list[listening.Heard]) -> list[Check]:
    local = clock.local_skew(heard)
    if local is None:
        return [Check("clocks", SKIP, "no receipt heard: no replica runs, or RECEIPTS=off")]
    checks = []
    for skew in [local, *clock.replica_skews(heard)]:
        status = WARN if skew.off else PASS
        checks.append(Check(f"clock of {skew.who}", status, f"{skew.seconds:+.1f}s from Pub/Sub"))
    return checks
