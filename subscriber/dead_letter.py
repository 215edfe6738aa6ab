"""The dead-letter topic: where Pub/Sub parks a message that failed every delivery attempt.

The fan-out replicas and the work queue share one (``<topic>-dead-letter``) and one
durable subscription of the same name that keeps those messages for inspection. The sink
has none: it never nacks (docs/durable-sink.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.cloud import pubsub_v1

from common.config import PubSubConfig, read_dead_letter_topic, read_int
from common.logs import fields
from common.pubsub import ensure_subscription, ensure_topic
from common.subscriptions import durable_request


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


def policy(pubsub: PubSubConfig, config: DeadLetterConfig) -> dict[str, Any]:
    """The ``dead_letter_policy`` of a subscription request."""
    return {
        "dead_letter_topic": pubsub.topic_path_of(config.topic_id),
        "max_delivery_attempts": config.max_delivery_attempts,
    }


def subscription_request(pubsub: PubSubConfig, config: DeadLetterConfig) -> dict[str, Any]:
    """The durable subscription on the dead-letter topic: shared by all replicas, it holds
    rejected messages until someone looks at them, so it never expires and no replica
    deletes it."""
    return durable_request(pubsub, config.topic_id, config.topic_id, role="dead-letter")


def ensure(
    pubsub: PubSubConfig,
    config: DeadLetterConfig,
    *,
    topics: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    stop: threading.Event,
    logger: logging.Logger,
    beat: Callable[[str], None] | None = None,
) -> None:
    """Create the dead-letter topic and its subscription unless they exist; raises
    ``ShutdownRequested`` if ``stop`` is set while Pub/Sub is unreachable."""
    topic = pubsub.topic_path_of(config.topic_id)
    request = subscription_request(pubsub, config)
    ensure_topic(topics, topic, stop=stop, logger=logger, beat=beat)
    ensure_subscription(subscriber, request, stop=stop, logger=logger, beat=beat)


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
        extra=fields(event="rejected", message_id=message_id),
    )


def rejection_fate(delivery_attempt: int | None, max_delivery_attempts: int) -> str:
    """What happens to a nacked message next, for the log line."""
    if delivery_attempt is None:  # the subscription has no dead-letter policy
        return "nacked"
    fate = f"nacked on attempt {delivery_attempt} of {max_delivery_attempts}"
    if delivery_attempt >= max_delivery_attempts:
        return f"{fate}: Pub/Sub now dead-letters it"
    return fate
