"""The dead-letter topic: where Pub/Sub parks a message that failed every delivery attempt.

The fan-out replicas and the work queue share one (``<topic>-dead-letter``) and one
durable subscription of the same name that keeps those messages for inspection. The sink
has none: it never nacks (docs/durable-sink.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from google.pubsub_v1 import types

from common.config import PubSubConfig, read_dead_letter_topic, read_int
from common.logs import fields
from common.resources import Plan, dead_letter_policy, durable, topic


@dataclass(frozen=True)
class DeadLetterConfig:
    topic_id: str
    # Deliveries before Pub/Sub moves a message to the dead-letter topic (5 to 100).
    max_delivery_attempts: int

    @classmethod
    def from_env(cls, env: Mapping[str, str], topic_id: str) -> DeadLetterConfig:
        """Reads DEAD_LETTER_TOPIC and MAX_DELIVERY_ATTEMPTS; raises ``ConfigError``."""
        return cls(
            topic_id=read_dead_letter_topic(env, topic_id),
            # Pub/Sub accepts 5 to 100.
            max_delivery_attempts=read_int(env, "MAX_DELIVERY_ATTEMPTS", 5, minimum=5, maximum=100),
        )


def policy(pubsub: PubSubConfig, config: DeadLetterConfig) -> types.DeadLetterPolicy:
    """The dead-letter policy of a subscription whose rejects go to the dead-letter topic."""
    return dead_letter_policy(pubsub.topic_path_of(config.topic_id), config.max_delivery_attempts)


def plan(pubsub: PubSubConfig, config: DeadLetterConfig) -> Plan:
    """The dead-letter topic, and the durable subscription of the same name that keeps
    rejected messages until someone looks at them: shared by all replicas, it never
    expires and no replica deletes it."""
    parked = durable(pubsub, config.topic_id, config.topic_id, role="dead-letter")
    # No retry backoff, as Terraform makes it: nothing nacks a dead letter but a look at
    # it (python -m ctl), which hands it back, to be seen again at once.
    del parked.retry_policy
    return Plan(topics=(topic(pubsub.topic_path_of(config.topic_id)),), subscriptions=(parked,))


def log_rejected(
    logger: logging.Logger,
    message_id: str,
    reason: str,
    delivery_attempt: int | None,
    max_delivery_attempts: int,
) -> None:
    """The one line a consumer logs for a message it nacks because it cannot use it."""
    logger.warning(
        "rejected message_id=%s: %s; %s",
        message_id,
        reason,
        rejection_fate(delivery_attempt, max_delivery_attempts),
        extra=fields(
            event="rejected", message_id=message_id, reason=reason, attempt=delivery_attempt
        ),
    )


def rejection_fate(delivery_attempt: int | None, max_delivery_attempts: int) -> str:
    """What happens to a nacked message next, for the log line."""
    if delivery_attempt is None:  # the subscription has no dead-letter policy
        return "nacked"
    fate = f"nacked on attempt {delivery_attempt} of {max_delivery_attempts}"
    if delivery_attempt >= max_delivery_attempts:
        return f"{fate}: Pub/Sub now dead-letters it"
    return fate
