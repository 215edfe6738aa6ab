"""Fan-out mode's settings (SUBSCRIPTION_MODE=per-replica, the default)."""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from common.config import (
    ConfigError,
    PubSubConfig,
    read_choice,
    read_int,
    read_receipts_topic,
    read_replay_seconds,
    read_str,
)
from common.loading import read_callable
from common.receive import FlowControl
from subscriber.dead_letter import DeadLetterConfig
from subscriber.fanout.handler import DEFAULT_HANDLER, Handler

_REPLICA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# Pull calls in flight at once: two keep a pull in flight while the other's answer is
# handed over; more do not help, the CPU is the limit (benchmarks/README.md, "Backlog
# drain").
PULL_THREADS = 2
# Messages in hand at once. Acks go out every 50 ms (``common.receive.acker``), so this
# caps a replica near 20 times it per second; the client library's own default, 1,000,
# lets it drain as fast as its CPU allows (benchmarks/README.md, "Backlog drain").
MAX_OUTSTANDING_MESSAGES = 1000
RANDOM = "random"


@dataclass(frozen=True)
class FanoutConfig:
    pubsub: PubSubConfig
    dead_letter: DeadLetterConfig
    # Flow control: the most messages and bytes a replica holds unacknowledged at once,
    # and how long it holds one at most (MAX_LEASE_SECONDS).
    flow_control: FlowControl
    # Where the replica reports what it handled (for the live view); None: RECEIPTS=off.
    receipts_topic_id: str | None
    # The replica's identity: its subscription is <topic>-<replica_id>, the same across
    # restarts in place (subscriber.fanout.identity).
    replica_id: str
    # Threads the handler runs on, at most this many messages at once.
    handler_threads: int
    # What the replica does with each message (common.seams.Handler), and its import path.
    handler: Handler
    handler_path: str
    # Threads pulling from the replica's subscription at once (benchmarks/README.md).
    pull_threads: int
    # REPLAY_SECONDS: a new subscription is sought back this far when the replica creates
    # it, so a late joiner receives what was published before it (0: off; docs/
    # operations.md, "Late joiners"). A resumed subscription is left alone.
    replay_seconds: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FanoutConfig:
        """Raises ``ConfigError`` naming the first bad variable."""
        pubsub = PubSubConfig.from_env(env)
        receipts = read_choice(env, "RECEIPTS", "on", ("on", "off")) == "on"
        handler_path, handler = read_callable(env, "HANDLER", DEFAULT_HANDLER, arguments=1)
        return cls(
            pubsub=pubsub,
            dead_letter=DeadLetterConfig.from_env(env, pubsub.topic_id),
            flow_control=FlowControl.from_env(
                env,
                read_int(
                    env,
                    "SUBSCRIBER_MAX_MESSAGES",
                    MAX_OUTSTANDING_MESSAGES,
                    minimum=1,
                    maximum=10_000,
                ),
            ),
            receipts_topic_id=read_receipts_topic(env, pubsub.topic_id) if receipts else None,
            replica_id=read_replica_id(env),
            handler_threads=read_int(env, "HANDLER_THREADS", 4, minimum=1, maximum=256),
            handler=cast(Handler, handler),
            handler_path=handler_path,
            pull_threads=read_int(env, "PULL_THREADS", PULL_THREADS, minimum=1, maximum=32),
            replay_seconds=read_replay_seconds(env),
        )


def read_replica_id(env: Mapping[str, str]) -> str:
    """REPLICA_ID, by default the host name: a container's ID in compose, the pod's name
    in Kubernetes, both unique among live replicas and kept across restarts in place.
    ``random``: a new identity for every process, for platforms that never restart a
    process in place and give no unique host name (Cloud Run; docs/operations.md)."""
    value = read_str(env, "REPLICA_ID", socket.gethostname())
    if value == RANDOM:
        return f"replica-{secrets.token_hex(6)}"
    if not _REPLICA_ID.fullmatch(value):
        raise ConfigError(
            "REPLICA_ID must be 1 to 100 letters, digits and - _ . (a host or pod name), "
            f"got {value!r:.120}"
        )
    return value
