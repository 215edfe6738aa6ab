"""The operator command's settings, read as the services read theirs: the same variables
(``PUBSUB_TOPIC``, ``GCP_PROJECT_ID``, ``PUBSUB_EMULATOR_HOST``, ...), so it finds what
they made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.config import PubSubConfig, read_receipts_topic, read_replay_seconds
from subscriber.dead_letter import DeadLetterConfig


@dataclass(frozen=True)
class CtlConfig:
    pubsub: PubSubConfig
    # The dead-letter topic and its durable subscription of the same name.
    dead_letter: DeadLetterConfig
    # Where the replicas report what they handle, and announce themselves.
    receipts_topic_id: str
    # The replicas' REPLAY_SECONDS: the retention the topic must have.
    replay_seconds: int

    @property
    def dead_letter_subscription(self) -> str:
        return self.pubsub.subscription_path(self.dead_letter.topic_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CtlConfig:
        """Raises ``ConfigError`` naming the first bad variable."""
        pubsub = PubSubConfig.from_env(env)
        return cls(
            pubsub=pubsub,
            dead_letter=DeadLetterConfig.from_env(env, pubsub.topic_id),
            receipts_topic_id=read_receipts_topic(env, pubsub.topic_id),
            replay_seconds=read_replay_seconds(env),
        )
