"""The publisher's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.config import ConfigError, PubSubConfig, read_float, read_str
from publisher.messages import MODES

DEFAULT_PUBLISH_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class PublisherConfig:
    pubsub: PubSubConfig
    # What to publish: "channels" (the fan-out demo) or "tasks" (the work-queue demo).
    mode: str
    publish_interval_seconds: float
    # How long shutdown waits for publishes still in flight before giving up on them.
    flush_timeout_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherConfig:
        mode = read_str(env, "PUBLISHER_MODE", "channels").lower()
        if mode not in MODES:
            raise ConfigError(f"PUBLISHER_MODE must be one of {', '.join(MODES)}, got {mode!r}")
        return cls(
            pubsub=PubSubConfig.from_env(env),
            mode=mode,
            publish_interval_seconds=read_float(
                env,
                "PUBLISH_INTERVAL_SECONDS",
                DEFAULT_PUBLISH_INTERVAL_SECONDS,
                minimum=0.001,
                maximum=86400,
            ),
            flush_timeout_seconds=read_float(
                env, "PUBLISH_FLUSH_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=600
            ),
        )
