"""The subscriber's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from common.config import (
    PubSubConfig,
    read_choice,
    read_float,
    read_int,
    read_receipts_topic,
    read_resource_id,
)

PER_REPLICA = "per-replica"
SHARED = "shared"


@dataclass(frozen=True)
class WorkQueueConfig:
    """Settings of shared mode, where replicas are competing workers."""

    # The one subscription every replica pulls from; it outlives them.
    subscription_id: str
    worker_processes: int
    # A task still running after this long is terminated and its message nacked.
    task_deadline_seconds: float
    # The lease a worker takes on each message, renewed while its task runs.
    ack_deadline_seconds: int
    # On SIGTERM, how long tasks in hand may run on before they are nacked.
    drain_seconds: float


@dataclass(frozen=True)
class SubscriberConfig:
    pubsub: PubSubConfig
    # Where Pub/Sub forwards a message that failed max_delivery_attempts times; one
    # durable subscription of the same name keeps those messages for inspection.
    dead_letter_topic_id: str
    max_delivery_attempts: int
    # Flow control in per-replica mode: the most messages held unacknowledged at once.
    max_outstanding_messages: int
    # None: per-replica mode (fan-out). Set: shared mode (work queue).
    work_queue: WorkQueueConfig | None
    # Where a per-replica subscriber reports what it handled (for the live view); None
    # when RECEIPTS=off, and always in shared mode.
    receipts_topic_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SubscriberConfig:
        pubsub = PubSubConfig.from_env(env)
        mode = read_choice(env, "SUBSCRIPTION_MODE", PER_REPLICA, (PER_REPLICA, SHARED))
        return cls(
            pubsub=pubsub,
            dead_letter_topic_id=read_resource_id(
                env, "DEAD_LETTER_TOPIC", f"{pubsub.topic_id}-dead-letter"
            ),
            # Pub/Sub accepts 5 to 100.
            max_delivery_attempts=read_int(env, "MAX_DELIVERY_ATTEMPTS", 5, minimum=5, maximum=100),
            max_outstanding_messages=read_int(
                env, "SUBSCRIBER_MAX_MESSAGES", 100, minimum=1, maximum=10_000
            ),
            work_queue=_work_queue(env, pubsub) if mode == SHARED else None,
            receipts_topic_id=(
                read_receipts_topic(env, pubsub.topic_id)
                if mode == PER_REPLICA and read_choice(env, "RECEIPTS", "on", ("on", "off")) == "on"
                else None
            ),
        )


def _work_queue(env: Mapping[str, str], pubsub: PubSubConfig) -> WorkQueueConfig:
    return WorkQueueConfig(
        subscription_id=read_resource_id(env, "SUBSCRIPTION_ID", f"{pubsub.topic_id}-workers"),
        # The CPUs this process may run on (a container's cpuset included).
        worker_processes=read_int(
            env, "WORKER_PROCESSES", len(os.sched_getaffinity(0)), minimum=1, maximum=256
        ),
        task_deadline_seconds=read_float(
            env, "TASK_DEADLINE_SECONDS", 60.0, minimum=1, maximum=86_400
        ),
        # Pub/Sub accepts 10 to 600.
        ack_deadline_seconds=read_int(env, "ACK_DEADLINE_SECONDS", 30, minimum=10, maximum=600),
        drain_seconds=read_float(env, "DRAIN_SECONDS", 10.0, minimum=0, maximum=3600),
    )
