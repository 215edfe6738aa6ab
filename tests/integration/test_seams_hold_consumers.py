"""Fan-out replicas and work-queue workers hold against their user code's mistakes (issue
21): a ``BaseException`` or an awaitable from the handler or the task is that message's
failure, nacked on every attempt and then dead-lettered, while the messages before and
after it are handled. A replica and a worker read the same topic, each from a
subscription of its own, so each bad message comes back as two dead letters. The code is
``mistakes.careless_handler`` and ``careless_task``."""

from __future__ import annotations

from collections import Counter

import pytest
from google.cloud import pubsub_v1

from common.messages.channels import Channel, ChannelMessage
from tests.integration.conftest import PROJECT, Services, topic_path
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
CODE = "tests.integration.mistakes"
ATTEMPTS = 5


def start_both(services: Services, topic: str) -> tuple[ServiceProcess, ServiceProcess]:
    """A replica with fewer handler threads than bad messages (a thread that died on one
    would leave too few), and a worker with one process."""
    replica = services.start(
        "subscriber",
        topic,
        HANDLER=f"{CODE}:careless_handler",
        HANDLER_THREADS="2",
        MAX_DELIVERY_ATTEMPTS=str(ATTEMPTS),
    )
    worker = services.start(
        "subscriber",
        topic,
        SUBSCRIPTION_MODE="shared",
        TASK_FUNCTION=f"{CODE}:careless_task",
        WORKER_PROCESSES="1",
        MAX_DELIVERY_ATTEMPTS=str(ATTEMPTS),
    )
    replica.wait_for_event("listening")
    worker.wait_for_event("listening")
    return replica, worker


def publish_around(
    publisher: pubsub_v1.PublisherClient, topic: str, bodies: list[bytes]
) -> tuple[list[str], dict[str, bytes]]:
    """A channel message, ``bodies`` one publish each, another channel message; their IDs."""

    def one(data: bytes, **attributes: str) -> str:
        return str(publisher.publish(topic_path(topic), data, **attributes).result(timeout=30))

    data, attributes = ChannelMessage(Channel(22, "Cartoon"), 1).encode()
    good = [one(data, **attributes)]
    bad = {one(body): body for body in bodies}
    good.append(one(data, **attributes))
    return good, bad


def dead_letters(
    subscriber: pubsub_v1.SubscriberClient, topic: str, expected: int
) -> Counter[bytes]:
    """The bodies in the dead-letter subscription, once ``expected`` have arrived; acked."""
    path = f"projects/{PROJECT}/subscriptions/{topic}-dead-letter"
    bodies: Counter[bytes] = Counter()

    def all_there() -> bool:
        response = subscriber.pull(subscription=path, max_messages=20, timeout=5)
        for received in response.received_messages:
            bodies[received.message.data] += 1
            count = received.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"]
            assert count == str(ATTEMPTS)
        if response.received_messages:
            ack_ids = [received.ack_id for received in response.received_messages]
            subscriber.acknowledge(subscription=path, ack_ids=ack_ids)
        return sum(bodies.values()) >= expected

    wait_for(all_there, timeout=90, what=f"{expected} dead letters")
    return bodies


def check_handled(
    replica: ServiceProcess, worker: ServiceProcess, good: list[str], bad: dict[str, bytes]
) -> None:
    """Good messages handled by both; each bad one failed on every attempt by both; both
    still running, then out on SIGTERM with status 0 and the counts to show for it."""
    for message_id in good:
        replica.wait_for_event("received", message_id=message_id)
        worker.wait_for_event("completed", message_id=message_id)
    for message_id in bad:
        for service, event in ((replica, "rejected"), (worker, "failed")):
            wait_for(
                lambda: len(service.events(event, message_id=message_id)) == ATTEMPTS,  # noqa: B023
                timeout=10,
                what=f"{event} {message_id} on each of {ATTEMPTS} attempts",
                details=service.details,
            )
    for service in (replica, worker):
        assert service.process.poll() is None, f"it must run on\n{service.details()}"
        status, _ = service.terminate()
        assert status == 0, service.details()
    (stopped,) = replica.events("stopped receiving")
    assert (stopped["handled"], stopped["rejected"]) == (2, ATTEMPTS * len(bad))
    (stopped,) = worker.events("stopped")
    assert (stopped["completed"], stopped["failed"]) == (2, ATTEMPTS * len(bad))


def test_a_base_exception_from_a_handler_or_a_task_is_that_messages_failure(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica, worker = start_both(services, created_topic)
    bodies = [b"exit", b"interrupt", b"cancel"]  # more than the replica's 2 threads
    good, bad = publish_around(publisher_client, created_topic, bodies)
    assert dead_letters(subscriber_client, created_topic, 2 * len(bodies)) == {
        body: 2 for body in bodies
    }
    check_handled(replica, worker, good, bad)


def test_an_awaitable_from_a_handler_or_a_task_is_never_acked(
    services: Services,
    created_topic: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica, worker = start_both(services, created_topic)
    good, bad = publish_around(publisher_client, created_topic, [b"async"])
    assert dead_letters(subscriber_client, created_topic, 2) == {b"async": 2}
    check_handled(replica, worker, good, bad)
