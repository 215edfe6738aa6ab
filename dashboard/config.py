"""The dashboard's settings, read once from the environment."""

from __future__ import annotations

import re
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
ANY_HOST = "*"
# The names this machine calls itself: a page served from anywhere else (a DNS-rebinding
# attacker's name pointed at 127.0.0.1) is refused.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# A host name (Compose v1's container names hold "_"), an IPv4 address, a bracketed IPv6
# address, or "*.example.com".
_LABEL = r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?"
_HOST = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*|\[[0-9a-f:.]+\]")


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
    # Host names (Host header, without the port) the dashboard answers to; anything else
    # gets 400, the WebSocket included. ("*",): any.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    # Replica columns at most; past it, the least recently heard goes first.
    max_replicas: int = 32
    # Open connections (HTTP and WebSocket) from one client address at most; one more is
    # closed at once.
    max_connections_per_address: int = 16
    # An HTTP connection with no request in progress for this long is closed: idle
    # keep-alives, and sockets that never finish a request.
    idle_timeout_seconds: int = 10
    # The topic's retention, should the dashboard be the one to create it: the replicas'
    # REPLAY_SECONDS window (None: off), as the publisher declares it.
    topic_retention: timedelta | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardConfig:
        pubsub = PubSubConfig.from_env(env)
        port = read_int(env, "DASHBOARD_LISTEN_PORT", 8080, minimum=1, maximum=65535)
        if pubsub.metrics == "prometheus" and pubsub.metrics_port == port:
            raise ConfigError(f"METRICS_PORT and DASHBOARD_LISTEN_PORT are both {port}")
        return cls(
            pubsub=pubsub,
            receipts_topic_id=read_receipts_topic(env, pubsub.topic_id),
            dead_letter_topic_id=read_dead_letter_topic(env, pubsub.topic_id),
            listen_port=port,
            allowed_origins=read_origins(env, "DASHBOARD_ALLOWED_ORIGINS"),
            max_clients=read_int(env, "DASHBOARD_MAX_CLIENTS", 20, minimum=1, maximum=10_000),
            frames_per_second=read_int(
                env, "DASHBOARD_FRAMES_PER_SECOND", 10, minimum=1, maximum=60
            ),
            client_stall_seconds=read_float(
                env, "DASHBOARD_CLIENT_STALL_SECONDS", 10.0, minimum=0.5, maximum=3600
            ),
            history=read_int(env, "DASHBOARD_HISTORY", 50, minimum=1, maximum=1000),
            allowed_hosts=read_hosts(env, "DASHBOARD_ALLOWED_HOSTS"),
            max_replicas=read_int(env, "DASHBOARD_MAX_REPLICAS", 32, minimum=1, maximum=1000),
            max_connections_per_address=read_int(
                env, "DASHBOARD_MAX_CONNECTIONS_PER_ADDRESS", 16, minimum=1, maximum=10_000
            ),
            idle_timeout_seconds=read_int(
                env, "DASHBOARD_IDLE_TIMEOUT_SECONDS", 10, minimum=1, maximum=600
            ),
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


def read_hosts(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of host names (``dashboard.example.com``, ``*.example.com``,
    ``10.0.0.5``, ``[::1]``), no scheme and no port, or ``*``; unset: the loopback names."""
    raw = read_str(env, name, ",".join(LOOPBACK_HOSTS))
    hosts = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for host in hosts:
        if host != ANY_HOST and not _HOST.fullmatch(host):
            raise ConfigError(
                f"{name} must be * or comma-separated host names like dashboard.example.com "
                f"or *.example.com (no scheme, no port), got {host!r}"
            )
    return hosts
