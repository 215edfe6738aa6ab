"""Fan-out mode's settings (SUBSCRIPTION_MODE=per-replica, the default)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.config import PubSubConfig, read_choice, read_int, read_receipts_topic
from subscriber.dead_letter import DeadLetterConfig


@dataclass(frozen=True)
class FanoutConfig:
    pubsub: PubSubConfig
    dead_letter: DeadLetterConfig
    # Flow control: the most messages a replica holds unacknowledged at once.
    max_outstanding_messages: int
    # Where the replica reports what it handled (for the live view); None: RECEIPTS=off.
    receipts_topic_id: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FanoutConfig:
        """Raises ``ConfigError`` naming the first bad variable."""
        pubsub = PubSubConfig.from_env(env)
        receipts = read_choice(env, "RECEIPTS", "on", ("on", "off")) == "on"
        return cls(
            pubsub=pubsub,
            dead_letter=DeadLetterConfig.from_env(env, pubsub.topic_id),
            max_outstanding_messages=read_int(
                env, "SUBSCRIBER_MAX_MESSAGES", 100, minimum=1, maximum=10_000
            ),
            receipts_topic_id=read_receipts_topic(env, pubsub.topic_id) if receipts else None,
        )
