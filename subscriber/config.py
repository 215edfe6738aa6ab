"""The subscriber's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.config import PubSubConfig, read_int, read_resource_id


@dataclass(frozen=True)
class SubscriberConfig:
    pubsub: PubSubConfig
    # Where Pub/Sub forwards a message that failed max_delivery_attempts times; one
    # durable subscription of the same name keeps those messages for inspection.
    dead_letter_topic_id: str
    max_delivery_attempts: int
    # Flow control: the most messages this replica holds unacknowledged at once.
    max_outstanding_messages: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SubscriberConfig:
        pubsub = PubSubConfig.from_env(env)
        return cls(
            pubsub=pubsub,
            dead_letter_topic_id=read_resource_id(
                env, "DEAD_LETTER_TOPIC", f"{pubsub.topic_id}-dead-letter"
            ),
            # Pub/Sub accepts 5 to 100.
            max_delivery_attempts=read_int(env, "MAX_DELIVERY_ATTEMPTS", 5, minimum=5, maximum=100),
            max_outstanding_messages=read_int(
                env, "SUBSCRIBER_MAX_MESSAGES", 100, minimum=1, maximum=10_000
            ),
        )
