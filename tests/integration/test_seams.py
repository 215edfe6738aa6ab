"""User code in each mode, through its setting, on the emulator: what returning and raising
do, and that the project's deadlines and shutdown hold around it. The code run is in
``seam_code``; the examples' own tests are in ``test_examples``."""

from __future__ import annotations

import pytest
from google.cloud import pubsub_v1

from tests.integration.conftest import PROJECT, Services, topic_path
from tests.integration.sinks import query, start_sink
from tests.support.compose import stop_grace_seconds
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
CODE = "tests.integration.seam_code"


def publish(publisher: pubsub_v1.PublisherClient, topic: str, *bodies: bytes) -> list[str]:
    futures = [publisher.publish(topic_path(topic), body) for body in bodies]
    return [str(future.result(timeout=30)) for future in futures]


def test_slow_handlers_drain_on_sigterm_and_a_stuck_one_does_not_hold_the_exit(
    services: Services, created_topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    replica = services.start("subscriber", created_topic, HANDLER=f"{CODE}:slow_handler")
    subscription = replica.wait_for_event("listening")["subscription"]
    quick = publish(publisher_client, created_topic, b"1", b"1", b"1")
    (stuck,) = publish(publisher_client, created_topic, b"3600")
    for message_id in [*quick, stuck]:  # all 4 on the replica's 4 handler threads
        replica.wait_for_event("started", message_id=message_id)
    status, seconds = replica.terminate()
    print(f"\nshutdown with a handler stuck for an hour: {seconds:.2f}s")
    assert status == 0, replica.details()
    # The 1.5 s drain, then the subscription deleted and out: not an hour, nor a SIGKILL.
    assert seconds < stop_grace_seconds("subscriber"), f"shutdown took {seconds:.1f}s"
    assert all(replica.events("finished", message_id=m) for m in quick), "the quick ones finished"
    [stopped] = replica.events("stopped receiving")
    assert (stopped["handled"], stopped["rejected"]) == (3, 0)
    [handed_back] = replica.events("handed back")
    assert handed_back["count"] == 1, "the stuck one's message, handed back"
    assert replica.events("subscription deleted", subscription=subscription)
    # Handler threads are daemons: the stuck one is abandoned with its message.
    assert replica.events("finished", message_id=stuck) == []


def test_a_task_function_returns_raises_and_overruns_the_work_queue_way(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    worker = services.start(
        "subscriber",
        created_topic,
        SUBSCRIPTION_MODE="shared",
        TASK_FUNCTION=f"{CODE}:sleep_task",
        TASK_DEADLINE_SECONDS="1",
        WORKER_PROCESSES="2",
    )
    working = worker.wait_for_event("working")
    assert (working["processes"], working["task_function"]) == (2, f"{CODE}:sleep_task")
    done, bad, overrun = publish(publisher_client, created_topic, b"0.1", b"soon", b"3600")
    # What the function logs, in its worker process, comes out as the service's own lines.
    sleeping = worker.wait_for_event("sleeping", message_id=done)
    assert (sleeping["logger"], sleeping["severity"], sleeping["service"]) == (
        CODE,
        "INFO",
        "subscriber",
    )
    assert worker.wait_for_event("completed", message_id=done)["result"] == "slept 0.1s"
    failed = worker.wait_for_event("failed", message_id=bad, attempt=1)
    assert failed["reason"] == "ValueError: could not convert string to float: b'soon'", failed
    worker.wait_for_event("timed out", message_id=overrun, attempt=1)
    # Each retried, by the subscription's policy, up to the last attempt: then parked.
    worker.wait_for_event("failed", message_id=bad, attempt=5, timeout=60)
    worker.wait_for_event("timed out", message_id=overrun, attempt=5, timeout=60)
    dead_letters = f"projects/{PROJECT}/subscriptions/{created_topic}-dead-letter"
    parked: set[bytes] = set()

    def both_parked() -> bool:
        response = subscriber_client.pull(subscription=dead_letters, max_messages=10, timeout=5)
        for received in response.received_messages:
            parked.add(received.message.data)
            subscriber_client.acknowledge(subscription=dead_letters, ack_ids=[received.ack_id])
        return parked == {b"soon", b"3600"}

    wait_for(both_parked, timeout=30, what="both failures in the dead-letter subscription")
    status, _ = worker.terminate()
    assert status == 0, worker.details()


def test_a_source_that_raises_or_has_nothing_does_not_stop_the_publisher(
    services: Services, created_topic: str
) -> None:
    publisher = services.start(
        "publisher",
        created_topic,
        PUBLISHER_SOURCE=f"{CODE}:flaky_source",
        PUBLISH_INTERVAL_SECONDS="0.2",
    )
    publisher.wait_for_event("publishing", source=f"{CODE}:flaky_source")
    failed = publisher.wait_for_event("publish failed", sequence=2)
    assert failed["reason"] == "RuntimeError: the upstream feed is down", failed
    publisher.wait_for_event("published", sequence=4)
    assert publisher.wait_for_event("publishing again")["failed"] == 1
    assert publisher.events("published", sequence=1), "the first went out"
    # Sequence 4 went out after it: nothing to send is not an event, nor a failure.
    assert [r for r in publisher.events() if r.get("sequence") == 3] == []
    status, _ = publisher.terminate()
    assert status == 0, publisher.details()


def test_a_row_for_a_table_that_is_not_there_is_held_not_rejected(
    services: Services,
    created_topic: str,
    postgres: PostgresServer,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    mapper = f"{CODE}:missing_table_row"
    sink = start_sink(services, created_topic, postgres, SINK_ROW_MAPPER=mapper, DRAIN_SECONDS="1")
    sink.wait_for_event("connected")
    publish(publisher_client, created_topic, b"an order")
    outage = sink.wait_for_event("unavailable", peer="database")
    assert outage["reason"] == 'UndefinedTable: relation "no_such_table" does not exist', outage
    status, _ = sink.terminate()
    assert status == 0, sink.details()
    [handed_back] = sink.events("handed back")
    assert handed_back["count"] == 1, "held, then handed back to another sink"
    assert query(postgres, "SELECT count(*) FROM rejects") == [(0,)]
