"""Shared mode: competing workers on one subscription, against the real emulator."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from google.cloud import pubsub_v1

from common.messages.tasks import Task
from tests.integration.conftest import PROJECT, Services, save_report, topic_path, unacked
from tests.support.compose import stop_grace_seconds
from tests.support.logs import message_ids
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def start_worker(services: Services, topic: str, **settings: str) -> ServiceProcess:
    worker = services.start(
        "subscriber",
        topic,
        SUBSCRIPTION_MODE="shared",
        WORKER_PROCESSES="2",
        ACK_DEADLINE_SECONDS="10",
        **settings,
    )
    assert worker.wait_for_event("working")["processes"] == 2
    return worker


def publish(publisher: pubsub_v1.PublisherClient, topic: str, *tasks: Task) -> list[str]:
    sent = []
    for task in tasks:
        data, attributes = task.encode()
        sent.append(publisher.publish(topic_path(topic), data, **attributes))
    return [future.result(timeout=60) for future in sent]


def completed(*workers: ServiceProcess) -> Counter[str]:
    """How often each message was completed, by its ID."""
    return Counter(mid for worker in workers for mid in message_ids(worker.log(), "completed"))


def trace(missing: set[str], workers: list[ServiceProcess]) -> str:
    """The missing messages and every record of the workers' logs about them."""
    lines = [f"missing: {sorted(missing)[:20]}"]
    for message_id in sorted(missing)[:5]:
        for number, worker in enumerate(workers, 1):
            lines += [f"worker {number}: {r}" for r in worker.events(message_id=message_id)]
    return "\n".join(lines)


def test_500_tasks_survive_a_worker_killed_mid_run(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    # DEBUG: each worker logs every message it starts, so a failure shows where a missing
    # task went.
    workers = [start_worker(services, created_topic, LOG_LEVEL="DEBUG") for _ in range(3)]
    tasks = [Task(f"task-{n:03d}", "primes", 60_000) for n in range(500)]
    expected = set(publish(publisher_client, created_topic, *tasks))

    victim = workers[0]
    wait_for(
        lambda: len(completed(*workers)) >= 150 and len(completed(victim)) > 0,
        timeout=120,
        what="150 tasks done, some by the worker to kill",
    )
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    killed, killed_at = time.monotonic(), len(completed(*workers))

    wait_for(
        lambda: set(completed(*workers)) >= expected,
        timeout=120,
        what="every task completed at least once",
        details=lambda: trace(expected - set(completed(*workers)), workers),
    )
    # What the killed worker held, what it had completed but not yet acked included, comes
    # back once its leases lapse (an ack deadline after its last renewal at the latest),
    # and the others complete it again; only then is the queue looked at.
    path = f"projects/{PROJECT}/subscriptions/{created_topic}-workers"
    lapsed = killed + subscriber_client.get_subscription(subscription=path).ack_deadline_seconds
    survivors = workers[1:]
    last = {"started": -1, "at": 0.0}

    def idle_after_the_lapse() -> bool:
        started = sum(len(worker.events("started")) for worker in survivors)
        if started != last["started"]:
            last.update(started=started, at=time.monotonic())
        return time.monotonic() > lapsed + 1 and time.monotonic() - last["at"] >= 2

    wait_for(idle_after_the_lapse, timeout=60, what="the others idle after the leases lapsed")
    counts = completed(*workers)
    duplicates = {message_id: n for message_id, n in counts.items() if n > 1}
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
    for worker in survivors:
        assert worker.terminate()[0] == 0, worker.details()
    assert unacked(subscriber_client, path) == []


def test_slow_task_keeps_its_lease_and_runs_once(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    # DEBUG: each worker logs the tasks it starts.
    workers = [start_worker(services, created_topic, LOG_LEVEL="DEBUG") for _ in range(2)]
    # Longer than the 10 s lease: had its lease lapsed, Pub/Sub would have given it to the
    # other, idle, worker before it completed.
    (message_id,) = publish(publisher_client, created_topic, Task("slow", "spin", 14))
    wait_for(lambda: completed(*workers)[message_id] == 1, timeout=60, what="the slow task done")
    for worker in workers:
        status, _ = worker.terminate()
        assert status == 0, worker.details()
    started = [r for worker in workers for r in worker.events("started", message_id=message_id)]
    assert [r["attempt"] for r in started] == [1], "started once, by one worker"
    assert completed(*workers)[message_id] == 1
    assert not any(worker.events("retrying", message_id=message_id) for worker in workers)
    # Acked: nothing is left to come back once the workers have stopped.
    path = f"projects/{PROJECT}/subscriptions/{created_topic}-workers"
    assert unacked(subscriber_client, path) == []


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

    good = worker.wait_for_event("completed", message_id=good_id)
    assert good["result"] == "task=good primes below 1000: 168 primes", good
    worker.wait_for_event("timed out", message_id=stuck_id, attempt=5, timeout=60)
    worker.wait_for_event("retrying", message_id=stuck_id, attempt=5)
    failing = worker.wait_for_event("failed", message_id=failing_id, attempt=5)
    assert failing["reason"] == "RuntimeError: task failing asked to fail", failing
    # A body the task function cannot use fails in the process like any other error.
    bad = worker.wait_for_event("failed", message_id=bad_id, attempt=5)
    assert bad["reason"].startswith("InvalidTask: neither a task"), bad

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
    # DEBUG: the worker logs the tasks it starts.
    first = start_worker(services, created_topic, DRAIN_SECONDS="3", LOG_LEVEL="DEBUG")
    short_id, long_id = publish(
        publisher_client, created_topic, Task("short", "spin", 1.5), Task("long", "spin", 8)
    )
    for message_id in (short_id, long_id):  # both in hand: a free process for each
        first.wait_for_event("started", message_id=message_id)
    status, seconds = first.terminate()
    print(f"\nworker shutdown with a task outlasting the drain: {seconds:.2f}s")
    assert status == 0, first.details()
    # The short task finished within the drain period and was acked; the long one was
    # handed back at its end.
    assert seconds < stop_grace_seconds("worker"), f"stopping took {seconds:.1f}s"
    assert first.events("completed", message_id=short_id), first.details()
    assert first.events("handed back", message_id=long_id), first.details()

    # Handed back, not stranded under a lease: the next worker gets it at once.
    second = start_worker(services, created_topic)
    second.wait_for_event("completed", message_id=long_id, timeout=20)
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
    worker.wait_for_event("subscription gone", subscription=path)
    worker.wait_for_event("subscription created", subscription=path)
    worker.wait_for_event("subscription restored", subscription=path)
    (task_id,) = publish(publisher_client, created_topic, Task("after", "primes", 1000))
    worker.wait_for_event("completed", message_id=task_id)
    assert worker.process.poll() is None, "recovered in process"
