"""User code in each mode, through its setting, on the emulator: what returning and raising
do, and that the project's deadlines and shutdown hold around it. The code run is in
``seam_code``; the examples' own tests are in ``test_examples``."""

from __future__ import annotations

import time

import pytest
from google.cloud import pubsub_v1

from tests.integration.conftest import PROJECT, Services, topic_path
from tests.integration.sinks import query, start_sink
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
    replica.wait_for_log(r"listening on ")
    quick = publish(publisher_client, created_topic, b"1", b"1", b"1")
    (stuck,) = publish(publisher_client, created_topic, b"3600")
    for message_id in [*quick, stuck]:  # all 4 on the replica's 4 handler threads
        replica.wait_for_log(rf"started message_id={message_id}\b")
    status, seconds = replica.terminate()
    log = replica.log()
    assert status == 0, replica.details()
    # The 1.5 s drain, then the subscription deleted and out: not an hour, nor a SIGKILL.
    assert seconds < 3, f"shutdown took {seconds:.1f}s\n{replica.details()}"
    assert all(f"finished message_id={m}" in log for m in quick), "the quick ones finished"
    assert "stopped receiving: 3 handled, 0 rejected" in log
    assert "1 message(s) not handled after 1.5s; leaving them" in log
    assert "deleted subscription" in log
    # Handler threads are daemons: the stuck one is abandoned with its message.
    assert f"finished message_id={stuck}" not in log


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
    worker.wait_for_log(rf"working on \S+ with 2 processes; task function {CODE}:sleep_task")
    done, bad, overrun = publish(publisher_client, created_topic, b"0.1", b"soon", b"3600")
    # What the function logs, in its worker process, comes out as the service's own lines.
    worker.wait_for_log(rf"^\S+Z INFO    {CODE}: sleeping 0.1s for message_id={done}$")
    worker.wait_for_log(rf"completed message_id={done} in \S+: slept 0.1s")
    worker.wait_for_log(
        rf"failed message_id={bad} after \S+: ValueError: could not convert string to float: "
        r"b'soon'; nacked on attempt 1 of 5$"
    )
    worker.wait_for_log(
        rf"timed out message_id={overrun}: still running after its 1s deadline; process "
        r"terminated, nacked on attempt 1 of 5$"
    )
    # Each retried, by the subscription's policy, up to the last attempt: then parked.
    worker.wait_for_log(rf"failed message_id={bad} .* attempt 5 of 5: Pub/Sub now", timeout=60)
    worker.wait_for_log(rf"timed out message_id={overrun}: .* attempt 5 of 5", timeout=60)
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
    publisher.wait_for_log(rf"publishing {CODE}:flaky_source to ")
    publisher.wait_for_log(
        rf"publish failed: source {CODE}:flaky_source sequence=2: RuntimeError: the upstream "
        r"feed is down; further failures are counted until a publish succeeds"
    )
    publisher.wait_for_log(r"published message_id=\S+ number=4 sequence=4")
    publisher.wait_for_log(r"publishing again after \S+; 1 publish\(es\) failed meanwhile")
    log = publisher.log()
    assert "published message_id=" in log.split("sequence=2")[0], "the first went out"
    assert "sequence=3" not in log, "nothing to send is not an event"
    time.sleep(0.5)
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
    sink.wait_for_log("connected to PostgreSQL")
    publish(publisher_client, created_topic, b"an order")
    sink.wait_for_log(
        r"database unavailable \(UndefinedTable: relation \"no_such_table\" does not exist\); "
        r"holding 1 messages"
    )
    status, _ = sink.terminate()
    assert status == 0, sink.details()
    assert "leaving 1 message(s) unacked" in sink.log()
    assert query(postgres, "SELECT count(*) FROM rejects") == [(0,)]
