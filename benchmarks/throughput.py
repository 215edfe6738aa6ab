"""Throughput of the work queue and of the durable sink, on the emulator.

- Work queue: tasks a second of one worker (``SUBSCRIPTION_MODE=shared``) against its
  worker processes, on CPU-bound tasks (it should scale with the cores, then stop) and on
  tasks of almost no work (the ceiling of the queue's own machinery: pull, hand to a
  process, ack).
- Sink: readings stored a second against ``SINK_BATCH_SIZE``, a backlog waiting in its
  subscription, from the first commit to the last (``stored_at``); beside it a bare loop
  writing the same rows into the same PostgreSQL with the sink's own INSERT, and with
  COPY: the database's ceiling at that batch size.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from benchmarks import workqueue_scaling
from benchmarks.trials import Bench
from common.config import EMULATOR_DEFAULT_PROJECT
from common.messages.readings import random_reading
from subscriber.sink.store import insert_query
from tests.support.postgres import PASSWORD, PostgresServer
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

COLUMNS = (
    "message_id, device, metric, value, unit, measured_at, payload, attributes, "
    "publish_time, received_at"
)


def work_queue(host: str, workdir: Path) -> list[dict[str, Any]]:
    """Tasks/s with 1, 2 and 4 worker processes, CPU-bound tasks and near-empty ones."""
    results = []
    for kind, tasks, size in (("cpu-bound", 48, 300_000), ("near-empty", 400, 10)):
        for processes in (1, 2, 4):
            seconds = workqueue_scaling.run(host, processes, tasks, size, workdir)
            results.append(
                {
                    "tasks": kind,
                    "primes_below": size,
                    "processes": processes,
                    "count": tasks,
                    "seconds": round(seconds, 2),
                    "tasks_per_second": round(tasks / seconds, 1),
                }
            )
            print(
                f"work queue, {kind:>10} tasks, {processes} processes: "
                f"{tasks / seconds:7.1f} tasks/s",
                flush=True,
            )
    return results


def sink(bench: Bench, server: PostgresServer, count: int, batch_size: int) -> dict[str, Any]:
    """``count`` readings waiting, then a sink with ``batch_size``; rows stored a second."""
    topic, topic_path = bench.new_topic()
    subscription = f"{topic}-sink"
    path = bench.subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, subscription)
    bench.subscriber.create_subscription(name=path, topic=topic_path, ack_deadline_seconds=60)
    rng = random.Random(batch_size)
    futures = []
    for _ in range(count):
        data, attributes = random_reading(rng).encode()
        futures.append(bench.publisher.publish(topic_path, data, **attributes))
    for future in futures:
        future.result(timeout=120)
    password = bench.workdir / "postgres-password.txt"
    password.write_text(PASSWORD + "\n")
    if tables(server):
        with server.connect() as connection:
            connection.execute("TRUNCATE readings")
    env = bench.env(
        topic,
        SUBSCRIPTION_MODE="sink",
        SUBSCRIPTION_ID=subscription,
        LOG_FORMAT="json",
        SINK_BATCH_SIZE=str(batch_size),
        POSTGRES_PASSWORD_FILE=str(password),
        HEARTBEAT_FILE=str(bench.workdir / f"{topic}.beat"),
        **server.settings(),
    )
    with bench.processes() as started:
        process = ServiceProcess("subscriber", env, bench.workdir / f"{topic}-sink.log")
        started.append(process)
        process.wait_for_event("storing", timeout=60)
        cpu = process.cpu_seconds()
        wait_for(
            lambda: stored(server) >= count,
            timeout=300,
            what=f"{count} readings stored",
            details=process.details,
        )
        cpu = process.cpu_seconds() - cpu
    ((first, last),) = query(server, "SELECT min(stored_at), max(stored_at) FROM readings")
    seconds = (last - first).total_seconds()
    bench.subscriber.delete_subscription(subscription=path)
    return {
        "batch_size": batch_size,
        "readings": count,
        "seconds": round(seconds, 3),
        "readings_per_second": round(count / seconds) if seconds > 0 else None,
        "cpu_us_per_reading": round(cpu * 1e6 / count, 1),
    }


def bare(server: PostgresServer, count: int, batch_size: int) -> dict[str, Any]:
    """The same rows written by a bare loop, a transaction per batch: the sink's INSERT,
    and COPY; rows a second of each."""
    rng = random.Random(batch_size)
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        reading = random_reading(rng)
        data, attributes = reading.encode()
        rows.append(
            (
                f"bare-{uuid.uuid4().hex[:8]}-{n}",
                reading.device,
                reading.metric,
                reading.value,
                reading.unit,
                reading.measured_at,
                data.decode(),
                Jsonb(attributes),
                now,
                now,
            )
        )
    batches = [rows[i : i + batch_size] for i in range(0, count, batch_size)]
    # The sink's own statement for the demo's readings, into a copy of their table.
    sql = insert_query("bare", tuple(COLUMNS.split(", ")[1:]))
    copy = f"COPY bare ({COLUMNS}) FROM STDIN"
    with server.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS bare")
        connection.execute("CREATE TABLE bare (LIKE readings INCLUDING ALL)")

        def insert(batch: list[tuple[Any, ...]]) -> None:
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(sql, batch, returning=True)

        def copy_rows(batch: list[tuple[Any, ...]]) -> None:
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(copy.encode()) as writer,
            ):
                for row in batch:
                    writer.write_row(row)

        rates = {}
        for name, write in (("insert", insert), ("copy", copy_rows)):
            connection.execute("TRUNCATE bare")
            rates[f"{name}_rows_per_second"] = timed(write, batches, count)
        connection.execute("DROP TABLE bare")
    return {"batch_size": batch_size, "rows": count, **rates}


def timed(write: Callable[[list[tuple[Any, ...]]], None], batches: list[Any], count: int) -> int:
    started = time.perf_counter()
    for batch in batches:
        write(batch)
    return round(count / (time.perf_counter() - started))


def tables(server: PostgresServer) -> bool:
    return bool(query(server, "SELECT to_regclass('readings') IS NOT NULL")[0][0])


def stored(server: PostgresServer) -> int:
    return int(query(server, "SELECT count(*) FROM readings")[0][0]) if tables(server) else 0


def query(server: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    with server.connect() as connection:
        return connection.execute(sql.encode()).fetchall()
