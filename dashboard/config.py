"""The dashboard's settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from common.config import (
    ConfigError,
    PubSubConfig,
    read_dead_letter_topic,
    read_float,
    read_int,
    read_receipts_topic,
    read_replay_seconds,
    read_str,
)
from common.resources import retention_covering

ANY_ORIGIN = "*"


@dataclass(frozen=True)
class DashboardConfig:
    pubsub: PubSubConfig
    receipts_topic_id: str
    dead_letter_topic_id: str
    # The port uvicorn listens on inside the container; compose maps DASHBOARD_PORT to it.
    listen_port: int
    # Origins (scheme://host[:port]) whose pages may open the WebSocket. Empty: the page's
    # own origin only. ("*",): any.
    allowed_origins: tuple[str, ...]
    max_clients: int
    # Frames per second sent to each client at most, whatever the message rate: each
    # holds everything that changed since the client's previous one.
    frames_per_second: int
    # A client whose socket has taken no frame for this long has stopped reading, and
    # is dropped.
    client_stall_seconds: float
    # Messages the grid keeps (the newest).
    history: int
    # The topic's retention, should the dashboard be the one to create it: the replicas'
    # REPLAY_SECONDS window (None: off), as the publisher declares it.
    topic_retention: timedelta | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardConfig:
        pubsub = PubSubConfig.from_env(env)
        return cls(
            pubsub=pubsub,
            receipts_topic_id=read_receipts_topic(env, pubsub.topic_id),
            dead_letter_topic_id=read_dead_letter_topic(env, pubsub.topic_id),
            listen_port=read_int(env, "DASHBOARD_LISTEN_PORT", 8080, minimum=1, maximum=65535),
            allowed_origins=read_origins(env, "DASHBOARD_ALLOWED_ORIGINS"),
            max_clients=read_int(env, "DASHBOARD_MAX_CLIENTS", 20, minimum=1, maximum=10_000),
            frames_per_second=read_int(
                env, "DASHBOARD_FRAMES_PER_SECOND", 10, minimum=1, maximum=60
            ),
            client_stall_seconds=read_float(
                env, "DASHBOARD_CLIENT_STALL_SECONDS", 10.0, minimum=0.5, maximum=3600
            ),
            history=read_int(env, "DASHBOARD_HISTORY", 50, minimum=1, maximum=1000),
            topic_retention=retention_covering(read_replay_seconds(env)),
        )


def read_origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of origins such as ``http://localhost:8080``, or ``*``."""
    raw = read_str(env, name, "")
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin == ANY_ORIGIN:
            continue
        scheme, sep, rest = origin.partition("://")
        if not sep or scheme not in ("http", "https") or not rest or "/" in rest:
            raise ConfigError(
                f"{name} must be * or comma-separated origins like http://localhost:8080, "
                f"got {origin!r}"
            )
    return origins
