"""The publisher's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.config import PubSubConfig, read_choice, read_float
from publisher.sources import SOURCES

DEFAULT_PUBLISH_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class PublisherConfig:
    pubsub: PubSubConfig
    # What to publish: "channels" (the fan-out demo), "tasks" (the work-queue demo) or
    # "readings" (the durable sink demo).
    mode: str
    publish_interval_seconds: float
    # How long shutdown waits for publishes still in flight before giving up on them.
    flush_timeout_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherConfig:
        return cls(
            pubsub=PubSubConfig.from_env(env),
            mode=read_choice(env, "PUBLISHER_MODE", "channels", SOURCES),
            publish_interval_seconds=read_float(
                env,
                "PUBLISH_INTERVAL_SECONDS",
                DEFAULT_PUBLISH_INTERVAL_SECONDS,
                minimum=0.0001,
                maximum=86400,
            ),
            flush_timeout_seconds=read_float(
                env, "PUBLISH_FLUSH_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=600
            ),
        )
