"""Shared mode: competing workers on one subscription, against the real emulator."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter

import pytest
from google.cloud import pubsub_v1

from common.messages.tasks import Task
from tests.integration.conftest import PROJECT, Services, save_report, topic_path
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
# The demo's task function ends the line with the task it ran.
COMPLETED = re.compile(r"completed message_id=\S+ in \S+: task=(\S+) ")


def start_worker(services: Services, topic: str, **settings: str) -> ServiceProcess:
    worker = services.start(
        "subscriber",
        topic,
        SUBSCRIPTION_MODE="shared",
        WORKER_PROCESSES="2",
        ACK_DEADLINE_SECONDS="10",
        **settings,
    )
    worker.wait_for_log(r"working on \S+ with 2 processes")
    return worker


def publish(publisher: pubsub_v1.PublisherClient, topic: str, *tasks: Task) -> list[str]:
    sent = []
    for task in tasks:
        data, attributes = task.encode()
        sent.append(publisher.publish(topic_path(topic), data, **attributes))
    return [future.result(timeout=60) for future in sent]


def completed(*workers: ServiceProcess) -> Counter[str]:
    return Counter(task for worker in workers for task in COMPLETED.findall(worker.log()))


def trace(missing: set[str], message_ids: dict[str, str], workers: list[ServiceProcess]) -> str:
    """The missing tasks and every line of the workers' logs that mentions them."""
    lines = [f"missing: {sorted(missing)[:20]}"]
    for task in sorted(missing)[:5]:
        pattern = re.compile(rf"task={task}\b|message_id=(?:\S+,)?{message_ids[task]}\b")
        for number, worker in enumerate(workers, 1):
            lines += [
                f"worker {number}: {line}"
                for line in worker.log().splitlines()
                if pattern.search(line)
            ]
    return "\n".join(lines)


def test_500_tasks_survive_a_worker_killed_mid_run(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    # DEBUG: each worker logs every message it pulls and starts, so a failure shows
    # where a missing task went.
    workers = [start_worker(services, created_topic, LOG_LEVEL="DEBUG") for _ in range(3)]
    tasks = [Task(f"task-{n:03d}", "primes", 60_000) for n in range(500)]
    message_ids = dict(
        zip(
            (task.task_id for task in tasks),
            publish(publisher_client, created_topic, *tasks),
            strict=True,
        )
    )

    victim = workers[0]
    wait_for(
        lambda: len(completed(*workers)) >= 150 and len(completed(victim)) > 0,
        timeout=120,
        what="150 tasks done, some by the worker to kill",
    )
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    killed_at = len(completed(*workers))

    expected = {task.task_id for task in tasks}
    wait_for(
        lambda: set(completed(*workers)) >= expected,
        timeout=120,
        what="every task completed at least once",
        details=lambda: trace(expected - set(completed(*workers)), message_ids, workers),
    )
    counts = completed(*workers)
    duplicates = {task: n for task, n in counts.items() if n > 1}
    per_worker = [len(completed(worker)) for worker in workers]
    report = (
        f"500 tasks over 3 workers of 2 processes; worker 1 SIGKILLed after {killed_at} "
        f"completions in all.\n{len(counts)} distinct tasks completed, "
        f"{len(expected - set(counts))} lost, "
        f"{sum(duplicates.values()) - len(duplicates)} duplicate completion(s) "
        f"{sorted(duplicates)}; completions per worker {per_worker}\n"
    )
    save_report("workqueue-sigkill.txt", report)
    assert set(counts) == expected
    assert all(n > 0 for n in per_worker), "the tasks were spread over the workers"
    # Nothing is left behind in the queue.
    path = f"projects/{PROJECT}/subscriptions/{created_topic}-workers"
    leftover = subscriber_client.pull(subscription=path, max_messages=10, timeout=3)
    assert list(leftover.received_messages) == []
    for worker in workers[1:]:
        status, _ = worker.terminate()
        assert status == 0, worker.details()


def test_slow_task_keeps_its_lease_and_runs_once(
    services: Services, created_topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    workers = [start_worker(services, created_topic) for _ in range(2)]
    # Longer than the 10 s lease: without renewal the other worker would get it too.
    (message_id,) = publish(publisher_client, created_topic, Task("slow", "spin", 14))
    wait_for(lambda: completed(*workers)["slow"] == 1, timeout=60, what="the slow task done")
    time.sleep(2)
    assert completed(*workers)["slow"] == 1
    log = "".join(worker.log() for worker in workers)
    assert re.search(rf"lease extended by 10s: message_id={message_id} running 1\d", log)
    assert f"retrying message_id={message_id}" not in log


def test_overdue_failing_and_bad_tasks_are_retried_then_dead_lettered(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    worker = start_worker(services, created_topic, TASK_DEADLINE_SECONDS="1")
    stuck_id, failing_id, good_id = publish(
        publisher_client,
        created_topic,
        Task("stuck", "spin", 3600),
        Task("failing", "fail"),
        Task("good", "primes", 1000),
    )
    bad_id = publisher_client.publish(topic_path(created_topic), b"\x00 not a task").result(
        timeout=30
    )

    worker.wait_for_log(
        rf"completed message_id={good_id} in \S+: task=good primes below 1000: 168 primes"
    )
    worker.wait_for_log(
        rf"timed out message_id={stuck_id}: still running after its 1s deadline; process "
        r"terminated, nacked on attempt 5 of 5: Pub/Sub now dead-letters it",
        timeout=60,
    )
    worker.wait_for_log(rf"retrying message_id={stuck_id}: delivery attempt 5 of 5")
    worker.wait_for_log(
        rf"failed message_id={failing_id} after \S+: RuntimeError: task failing asked to fail; "
        r"nacked on attempt 5 of 5"
    )
    # A body the task function cannot use fails in the process like any other error.
    worker.wait_for_log(
        rf"failed message_id={bad_id} after \S+: InvalidTask: neither a task .* attempt 5 of 5"
    )

    dead_letters = f"projects/{PROJECT}/subscriptions/{created_topic}-dead-letter"
    parked: set[str] = set()

    def all_parked() -> bool:
        response = subscriber_client.pull(subscription=dead_letters, max_messages=10, timeout=5)
        for received in response.received_messages:
            parked.add(received.message.data.decode(errors="replace"))
            subscriber_client.acknowledge(subscription=dead_letters, ack_ids=[received.ack_id])
        return len(parked) == 3

    wait_for(all_parked, timeout=30, what="3 messages in the dead-letter subscription")
    assert any('"stuck"' in body for body in parked)
    assert any('"failing"' in body for body in parked)
    assert worker.process.poll() is None
    status, _ = worker.terminate()
    assert status == 0, worker.details()


def test_sigterm_finishes_or_hands_back_tasks_and_keeps_the_subscription(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    first = start_worker(services, created_topic, DRAIN_SECONDS="3")
    short_id, long_id = publish(
        publisher_client, created_topic, Task("short", "spin", 1.5), Task("long", "spin", 8)
    )
    time.sleep(1)  # both in hand: the worker has a free process for each
    status, seconds = first.terminate()
    assert status == 0, first.details()
    # The short task finished within the drain period and was acked; the long one was
    # handed back at its end.
    assert seconds < 3 + 4.5, f"stopping took {seconds:.1f}s"
    log = first.log()
    assert f"completed message_id={short_id} in " in log
    assert f"nacked message_id={long_id}: still running at shutdown" in log

    # Handed back, not stranded under a lease: the next worker gets it at once.
    second = start_worker(services, created_topic)
    second.wait_for_log(rf"completed message_id={long_id} in \S+: task=long spin 8s", timeout=20)
    subscription = f"projects/{PROJECT}/subscriptions/{created_topic}-workers"
    assert (
        subscriber_client.get_subscription(subscription=subscription).labels["role"] == "work-queue"
    )
    status, _ = second.terminate()
    assert status == 0
    subscriber_client.get_subscription(subscription=subscription)  # still there


def test_a_queue_deleted_under_a_worker_is_created_again(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    worker = start_worker(services, created_topic)
    path = f"projects/{PROJECT}/subscriptions/{created_topic}-workers"
    subscriber_client.delete_subscription(subscription=path)
    worker.wait_for_log(rf"subscription {path} is gone; creating it again")
    worker.wait_for_log(rf"pulling from {path} again")
    (task_id,) = publish(publisher_client, created_topic, Task("after", "primes", 1000))
    worker.wait_for_log(rf"completed message_id={task_id} in \S+: task=after primes below 1000")
    assert worker.process.poll() is None, "recovered in process"
