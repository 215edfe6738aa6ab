"""Work-queue mode's settings (SUBSCRIPTION_MODE=shared)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from common.config import (
    ConfigError,
    PubSubConfig,
    read_float,
    read_int,
    read_resource_id,
)
from common.loading import read_callable
from common.receive import FlowControl
from subscriber.dead_letter import DeadLetterConfig
from subscriber.workqueue.work import DEFAULT_TASK_FUNCTION


@dataclass(frozen=True)
class WorkQueueConfig:
    pubsub: PubSubConfig
    dead_letter: DeadLetterConfig
    # The one subscription every worker pulls from; it outlives them.
    subscription_id: str
    worker_processes: int
    # One message in hand per process; MAX_LEASE_SECONDS past the task deadline.
    flow_control: FlowControl
    # A task still running after this long is terminated and its message nacked.
    task_deadline_seconds: float
    # The lease a worker takes on each message, renewed while its task runs.
    ack_deadline_seconds: int
    # On SIGTERM, how long tasks in hand may run on before they are nacked.
    drain_seconds: float
    # The import path of the task function (common.seams.TaskFunction). Only the path:
    # each worker process imports it itself; reading the settings checks that it loads.
    task_function: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkQueueConfig:
        """Raises ``ConfigError`` naming the first bad variable."""
        pubsub = PubSubConfig.from_env(env)
        task_function, _ = read_callable(env, "TASK_FUNCTION", DEFAULT_TASK_FUNCTION, arguments=1)
        # The CPUs this process may run on (a container's cpuset included).
        processes = read_int(
            env, "WORKER_PROCESSES", len(os.sched_getaffinity(0)), minimum=1, maximum=256
        )
        deadline = read_float(env, "TASK_DEADLINE_SECONDS", 60.0, minimum=1, maximum=86_400)
        flow_control = FlowControl.from_env(env, processes)
        if flow_control.max_lease_seconds <= deadline:
            # A task's message would be let go, and given to another worker, while it runs.
            raise ConfigError(
                f"MAX_LEASE_SECONDS ({flow_control.max_lease_seconds:g}) must be longer than "
                f"TASK_DEADLINE_SECONDS ({deadline:g})"
            )
        return cls(
            pubsub=pubsub,
            dead_letter=DeadLetterConfig.from_env(env, pubsub.topic_id),
            subscription_id=read_resource_id(env, "SUBSCRIPTION_ID", f"{pubsub.topic_id}-workers"),
            worker_processes=processes,
            flow_control=flow_control,
            task_deadline_seconds=deadline,
            # Pub/Sub accepts 10 to 600.
            ack_deadline_seconds=read_int(env, "ACK_DEADLINE_SECONDS", 30, minimum=10, maximum=600),
            drain_seconds=read_float(env, "DRAIN_SECONDS", 10.0, minimum=0, maximum=3600),
            task_function=task_function,
        )
