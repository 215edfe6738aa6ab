"""The subscription each mode creates: owned or durable, with or without dead letters."""

from subscriber.sink.config import SinkConfig
from subscriber.sink.sink import subscription_request as sink_subscription_request
from subscriber.workqueue.config import WorkQueueConfig
from subscriber.workqueue.worker import subscription_request as work_queue_subscription_request

SINK = {"PUBSUB_EMULATOR_HOST": "emulator:8085", "PUBSUB_TOPIC": "readings"}


def test_sink_subscription_is_durable_without_dead_lettering() -> None:
    config = SinkConfig.from_env({**SINK, "ACK_DEADLINE_SECONDS": "30"})
    request = sink_subscription_request(config)
    assert request["name"] == "projects/local-project/subscriptions/readings-sink"
    assert request["topic"] == "projects/local-project/topics/readings"
    assert request["expiration_policy"] == {}, "never expires"
    assert request["ack_deadline_seconds"] == 30
    assert request["labels"]["role"] == "sink"
    assert "dead_letter_policy" not in request
    shared = WorkQueueConfig.from_env(SINK)
    work_queue = work_queue_subscription_request(shared)
    assert work_queue["dead_letter_policy"]["max_delivery_attempts"] == 5
