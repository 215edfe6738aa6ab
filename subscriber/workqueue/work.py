"""The demo's task function: runs inside a worker process (``subscriber.workqueue.pool``).

``run_task`` is TASK_FUNCTION's default (``common.seams.TaskFunction``): it decodes the
demo's task (``common.messages.tasks``) and does it. Pure: nothing here touches Pub/Sub.
"""

from __future__ import annotations

import time

from common.messages.tasks import Task, decode
from common.seams import Delivery

# TASK_FUNCTION's default: the demo.
DEFAULT_TASK_FUNCTION = "subscriber.workqueue.work:run_task"


def run_task(message: Delivery) -> str:
    """Decode the demo's task and run it: ``"task=... primes below 1000: 168 primes"``.
    Raises ``InvalidTask`` for a body that is neither a task nor a channel message,
    ``RuntimeError`` for a task of kind ``fail``: both nack the message."""
    task = decode(message.data)
    return f"{task.describe()}: {execute(task)}"


def execute(task: Task) -> str:
    """Do the work; runs in a worker process. Returns a one-line result."""
    if task.kind == "primes":
        return f"{count_primes(int(task.size))} primes"
    if task.kind == "spin":
        end = time.monotonic() + task.size
        spins = 0
        while time.monotonic() < end:
            spins += 1
        return f"spun {spins} times"
    if task.kind == "channel":
        return f"channel {task.note}"
    raise RuntimeError(f"task {task.task_id} asked to fail")


def count_primes(limit: int) -> int:
    """Deliberately plain trial division: the point is to keep a CPU busy."""
    count = 0
    for candidate in range(2, limit):
        if candidate % 2 == 0 and candidate != 2:
            continue
        divisor = 3
        while divisor * divisor <= candidate:
            if candidate % divisor == 0:
                break
            divisor += 2
        else:
            count += 1
    return count
