"""`docker compose --profile workqueue up task-publisher worker`: the work-queue demo.

The demo's task mix puts a 20 s task first (task-000001) and a task that never finishes
third (task-000003); with the leases (10 s) and deadline (25 s) the fixture sets, the
logs must show the first extended past its lease and the third terminated and retried.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.support.compose import Stack, docker, inspect, logs
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def worker_logs(stack: Stack) -> dict[str, str]:
    return {container: logs(container) for container in stack.containers("worker")}


def published_id(stack: Stack, task_id: str) -> str:
    """The message ID the task publisher logged for the demo's task ``task_id``."""
    (publisher,) = stack.containers("task-publisher")
    pattern = rf"published message_id=(\S+) task={task_id} "
    found = wait_for(lambda: re.search(pattern, logs(publisher)), timeout=60, what=pattern)
    return found[1]


def test_tasks_spread_leases_extend_and_a_stuck_task_is_retried(workqueue_stack: Stack) -> None:
    # The worker names messages by ID; the publisher's log says which task each one is.
    slow, stuck = (published_id(workqueue_stack, t) for t in ("task-000001", "task-000003"))
    slow_lease = re.compile(rf"lease extended by \d+s: message_id={slow} running (\d+)s")
    stuck_timed_out = re.compile(rf"timed out message_id={stuck}: .* nacked on attempt 1 of 5")
    stuck_retried = re.compile(rf"retrying message_id={stuck}: delivery attempt 2 of 5")

    def demo_seen() -> bool:
        by_worker = worker_logs(workqueue_stack)
        text = "".join(by_worker.values())
        extended = [int(seconds) for seconds in slow_lease.findall(text)]
        return (
            all("completed message_id=" in log for log in by_worker.values())
            and max(extended, default=0) >= 10  # past its first 10 s lease
            and f"completed message_id={slow} in " in text
            and stuck_timed_out.search(text) is not None
            and stuck_retried.search(text) is not None
        )

    wait_for(
        demo_seen,
        timeout=120,
        interval=1,
        what="the demo's spread, lease extension and retry",
        details=lambda: "\n".join(log[-2500:] for log in worker_logs(workqueue_stack).values()),
    )
    text = "".join(worker_logs(workqueue_stack).values())
    assert text.count(f"completed message_id={slow} ") == 1, "the slow task ran once"
    per_worker = [
        log.count("completed message_id=") for log in worker_logs(workqueue_stack).values()
    ]
    print(f"completed per worker: {per_worker}")


def test_a_stopped_worker_exits_zero_and_the_queue_stays(workqueue_stack: Stack) -> None:
    worker = workqueue_stack.containers("worker")[0]
    started = time.monotonic()
    docker("stop", "--time", "20", worker)
    seconds = time.monotonic() - started
    assert inspect(worker, "{{.State.ExitCode}}") == "0", logs(worker)
    # The drain period (10 s) bounds it when a task in hand outlasts it.
    assert seconds < 15, f"docker stop took {seconds:.1f}s"
    assert "worker stopped:" in logs(worker)
    assert "tasks-workers" in workqueue_stack.subscriptions()
