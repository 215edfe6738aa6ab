"""Tasks per second of one shared-mode worker with 1, 2 and 4 worker processes.

Runs the real worker (`python -m subscriber`, SUBSCRIPTION_MODE=shared) against the Pub/Sub
emulator (PUBSUB_EMULATOR_HOST, or one started here) on a CPU-bound task, and prints a
table. The pool should scale with the cores and stop scaling at their number.

    .venv/bin/python -m benchmarks.workqueue_scaling [--tasks 48] [--size 300000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from common.messages.tasks import Task
from subscriber.workqueue.work import count_primes
from tests.support.emulator import emulator_host
from tests.support.environment import clean_env
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for


def run(host: str, processes: int, tasks: int, size: int, workdir: Path) -> float:
    """Seconds from the first publish to the last completion."""
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    publisher = pubsub_v1.PublisherClient()
    topic_path = publisher.topic_path(EMULATOR_DEFAULT_PROJECT, topic)
    publisher.create_topic(name=topic_path)
    env = clean_env(
        PUBSUB_EMULATOR_HOST=host,
        PUBSUB_TOPIC=topic,
        SUBSCRIPTION_MODE="shared",
        WORKER_PROCESSES=str(processes),
        HEARTBEAT_FILE=str(workdir / "heartbeat"),
        LOG_FORMAT="json",
    )
    worker = ServiceProcess("subscriber", env, workdir / f"worker-{processes}.log")
    try:
        worker.wait_for_event("working", timeout=60)
        time.sleep(1)  # the worker processes are spawned
        started = time.monotonic()
        futures = []
        for n in range(tasks):
            data, attributes = Task(f"bench-{n}", "primes", size).encode()
            futures.append(publisher.publish(topic_path, data, **attributes))
        for future in futures:
            future.result(timeout=60)
        wait_for(
            lambda: len(worker.events("completed")) >= tasks,
            timeout=600,
            what=f"{tasks} completed tasks",
            details=worker.details,
        )
        return time.monotonic() - started
    finally:
        worker.stop(timeout=30)
        worker.close()
        publisher.delete_topic(topic=topic_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=48)
    parser.add_argument("--size", type=int, default=300_000, help="primes below this, per task")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    started = time.perf_counter()
    count_primes(args.size)
    one_task = time.perf_counter() - started
    cpus = len(os.sched_getaffinity(0))
    print(
        f"CPU-bound task: primes below {args.size}, {one_task:.3f}s in this process; "
        f"{cpus} CPUs available"
    )
    print(
        f"{'processes':>9}  {'tasks':>5}  {'seconds':>7}  {'tasks/s':>7}  {'speed-up':>8}  "
        f"{'ideal':>7}"
    )
    with emulator_host() as host, tempfile.TemporaryDirectory() as tmp:
        baseline = None
        for processes in args.processes:
            seconds = run(host, processes, args.tasks, args.size, Path(tmp))
            rate = args.tasks / seconds
            baseline = baseline or rate
            ideal = min(processes, cpus) / one_task
            print(
                f"{processes:>9}  {args.tasks:>5}  {seconds:>7.2f}  {rate:>7.2f}  "
                f"{rate / baseline:>7.2f}x  {ideal:>7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
