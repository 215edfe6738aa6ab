"""What a task does: runs inside a worker process (``subscriber.workqueue.pool``). Pure.

Kept apart from the task's wire format (``common.messages.tasks``): only a worker
process runs this, and nothing here touches Pub/Sub.
"""

from __future__ import annotations

import time

from common.messages.tasks import Task


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
