"""What each service needs on each topic and subscription it uses, for ``doctor`` to
test with ``testIamPermissions`` on Google Cloud. Pure.

The lists follow deploy/terraform/iam.tf. Permissions on a project (creating the
replicas' own subscriptions, ``pubsub.subscriptions.create``) are not Pub/Sub resources'
and are not tested here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctl.config import CtlConfig
from subscriber.fanout.identity import registry_topic

GET, PUBLISH, ATTACH = (
    "pubsub.topics.get",
    "pubsub.topics.publish",
    "pubsub.topics.attachSubscription",
)


@dataclass(frozen=True)
class Need:
    """``service`` needs ``permissions`` on the topic or subscription at ``resource``."""

    service: str
    resource: str
    permissions: tuple[str, ...]

    @property
    def on_topic(self) -> bool:
        return "/topics/" in self.resource


def needs(config: CtlConfig) -> list[Need]:
    pubsub = config.pubsub
    topic, dead, receipts = (
        pubsub.topic_path,
        pubsub.topic_path_of(config.dead_letter.topic_id),
        pubsub.topic_path_of(config.receipts_topic_id),
    )
    registry = pubsub.topic_path_of(registry_topic(pubsub.topic_id))
    dead_subscription = config.dead_letter_subscription
    return [
        Need("publisher", topic, (GET, PUBLISH)),
        Need("subscriber", topic, (ATTACH,)),
        Need("subscriber", receipts, (GET, PUBLISH)),
        Need("subscriber", registry, (GET, ATTACH)),
        Need("subscriber", dead, (GET,)),
        Need("subscriber", dead_subscription, ("pubsub.subscriptions.get",)),
        Need("dashboard", topic, (GET, ATTACH)),
        Need("dashboard", receipts, (GET, ATTACH)),
        Need("dashboard", dead, (GET, ATTACH)),
        Need("ctl", receipts, (ATTACH,)),
        Need("ctl", dead_subscription, ("pubsub.subscriptions.consume",)),
    ]
