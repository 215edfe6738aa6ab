"""The publisher's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from common.config import ConfigError, PubSubConfig, read_choice, read_float, read_replay_seconds
from common.loading import read_callable
from common.resources import retention_covering
from publisher.sources import SOURCES, Source

DEFAULT_PUBLISH_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class PublisherConfig:
    pubsub: PubSubConfig
    # What to publish (common.seams.Source), and its name for the log: a built-in's
    # PUBLISHER_MODE ("channels", "tasks", "readings") or PUBLISHER_SOURCE's import path.
    source: Source
    source_name: str
    publish_interval_seconds: float
    # How long shutdown waits for publishes still in flight before giving up on them.
    flush_timeout_seconds: float
    # How long the topic retains messages, which the publisher creates: the replicas'
    # REPLAY_SECONDS window, covered (None: REPLAY_SECONDS off, Pub/Sub's default).
    topic_retention: timedelta | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherConfig:
        """Raises ``ConfigError`` naming the first bad variable."""
        pubsub = PubSubConfig.from_env(env)
        source_name, source = read_source(env)
        return cls(
            pubsub=pubsub,
            source=source,
            source_name=source_name,
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
            topic_retention=retention_covering(read_replay_seconds(env)),
        )


def read_source(env: Mapping[str, str]) -> tuple[str, Source]:
    """PUBLISHER_SOURCE (an import path), or PUBLISHER_MODE (a built-in's name, by
    default ``channels``): one or the other, as both set would be ambiguous."""
    if env.get("PUBLISHER_SOURCE", "").strip():
        if env.get("PUBLISHER_MODE", "").strip():
            raise ConfigError(
                "PUBLISHER_MODE and PUBLISHER_SOURCE are both set; set one: PUBLISHER_MODE "
                "names a built-in source, PUBLISHER_SOURCE the import path of yours"
            )
        path, source = read_callable(env, "PUBLISHER_SOURCE", "", arguments=3)
        return path, cast(Source, source)
    mode = read_choice(env, "PUBLISHER_MODE", "channels", SOURCES)
    return mode, SOURCES[mode]
