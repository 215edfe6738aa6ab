"""`docker compose --profile workqueue up task-publisher worker`: the work-queue demo.

The demo's task mix puts a 20 s task first (task-000001) and a task that never finishes
third (task-000003); with the leases (10 s) and deadline (25 s) the fixture sets, the
first must run once, past its lease, and the third be terminated and retried.
"""

from __future__ import annotations

import time

import pytest

from tests.support.compose import (
    Stack,
    docker,
    events,
    inspect,
    logs,
    stop_grace_seconds,
    wait_for_event,
)
from tests.support.logs import Record
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def worker_events(stack: Stack, event: str, **fields: object) -> dict[str, list[Record]]:
    """Each worker container's records of ``event`` with ``fields``."""
    return {c: events(c, event, **fields) for c in stack.containers("worker")}


def worker_records(stack: Stack, event: str, message_id: str) -> list[Record]:
    """Every worker's records of ``event`` about ``message_id``."""
    return [
        r for found in worker_events(stack, event, message_id=message_id).values() for r in found
    ]


def published_id(stack: Stack, sequence: int) -> str:
    """The message ID of the demo's task ``sequence`` (task-00000N), as the task publisher
    logged it."""
    (publisher,) = stack.containers("task-publisher")
    return str(wait_for_event(publisher, "published", sequence=sequence)["message_id"])


def test_tasks_spread_a_slow_one_runs_once_and_a_stuck_one_is_retried(
    workqueue_stack: Stack,
) -> None:
    # The worker names messages by ID; the publisher's log says which task each one is.
    slow, stuck = (published_id(workqueue_stack, sequence) for sequence in (1, 3))

    def demo_seen() -> bool:
        completed = worker_events(workqueue_stack, "completed")
        return (
            all(completed.values())  # every worker completed tasks
            and worker_records(workqueue_stack, "completed", slow) != []
            and worker_records(workqueue_stack, "timed out", stuck) != []
            and worker_records(workqueue_stack, "retrying", stuck) != []
        )

    wait_for(
        demo_seen,
        timeout=120,
        interval=1,
        what="the demo's spread, slow task and retry",
        details=lambda: "\n".join(logs(c)[-2500:] for c in workqueue_stack.containers("worker")),
    )
    first_timeout = min(r["attempt"] for r in worker_records(workqueue_stack, "timed out", stuck))
    assert first_timeout == 1, "terminated at its deadline on its first attempt, then retried"
    # Past its 10 s lease and run once: had its lease lapsed, Pub/Sub would have handed it
    # to another worker (each runs one task at a time) as a retry before it completed.
    assert len(worker_records(workqueue_stack, "completed", slow)) == 1, "completed once"
    assert worker_records(workqueue_stack, "retrying", slow) == [], "never redelivered"
    per_worker = [len(found) for found in worker_events(workqueue_stack, "completed").values()]
    print(f"completed per worker: {per_worker}")


def test_a_stopped_worker_exits_zero_and_the_queue_stays(workqueue_stack: Stack) -> None:
    worker = workqueue_stack.containers("worker")[0]
    grace = stop_grace_seconds("worker")
    started = time.monotonic()
    docker("stop", "--time", f"{grace:g}", worker)
    seconds = time.monotonic() - started
    print(f"\ndocker stop of a worker: {seconds:.1f}s")
    assert inspect(worker, "{{.State.ExitCode}}") == "0", logs(worker)
    # The drain period (10 s) bounds it when a task in hand outlasts it.
    assert seconds < grace, f"docker stop took {seconds:.1f}s"
    assert events(worker, "stopped"), logs(worker)
    assert "tasks-workers" in workqueue_stack.subscriptions()
