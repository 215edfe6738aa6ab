"""What happens to a subscription's messages when a consumer goes away, on the emulator.

Each trial: a fresh subscription; a consumer process attaches to it and goes away in one
of the ways below; then messages are published and a unary-Pull consumer counts how
many it receives within the window. Nothing is lost on real Pub/Sub in any of these; on
the emulator (0.8.20 measured) the StreamingPull cases can strand every message for a
minute or more, which is why the work queue (shared mode) uses unary Pull. The last
StreamingPull case is the client's design, not the emulator's: it leases what it
receives for its stream's ack deadline (60 s), whatever the subscription's is. The last
case reads a subscription created on the topic after the stream went away, as
docs/operations.md advises for dead letters.

    .venv/bin/python -m benchmarks.emulator_stream_quirk [--trials 5] [--window 15]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid

from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.support.emulator import emulator_host

# The consumer that goes away, as a script: argv is KIND ENDING HOLD (see SCENARIOS);
# SUBSCRIPTION is set in its environment.
CONSUMER = """
import os, sys, threading, time
from google.cloud import pubsub_v1
kind, ending, hold = sys.argv[1:4]
path = os.environ["SUBSCRIPTION"]
client = pubsub_v1.SubscriberClient()
if kind == "unary":
    response = client.pull(subscription=path, max_messages=20, timeout=10)
    print(len(response.received_messages), flush=True)  # held, never acked
    time.sleep(3600)
held = []
got_all = threading.Event()
def callback(message):
    if hold == "hold":
        held.append(message)  # never acked
        if len(held) == 20:
            got_all.set()
    else:
        message.ack()
stream = client.subscribe(path, callback=callback)
got_all.wait(10) if hold == "hold" else time.sleep(3)
print("ready", flush=True)
if ending == "cancel":
    stream.cancel()
    stream.result(timeout=10)
    client.close()
    sys.exit(0)
time.sleep(3600)
"""

SCENARIOS = {
    (
        "stream",
        "cancel",
        "ack",
    ): "StreamingPull consumer cancels its stream, closes its client, exits",
    ("stream", "kill", "ack"): "StreamingPull consumer is SIGKILLed while idle",
    ("stream", "kill", "hold"): "StreamingPull consumer is SIGKILLed holding 20 messages",
    ("unary", "kill", "hold"): "unary-Pull consumer is SIGKILLed holding 20 messages",
    (
        "stream",
        "cancel",
        "ack",
        "fresh",
    ): "as the first, then read from a subscription created after it left",
}
MESSAGES = 50


def trial(host: str, scenario: tuple[str, ...], window: float) -> tuple[int, int]:
    """(messages received within the window, messages published)."""
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    name = f"quirk-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(EMULATOR_DEFAULT_PROJECT, name)
    path = subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, name)
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=path, topic=topic, ack_deadline_seconds=10)
    expected = set()
    _, ending, hold, *fresh = scenario
    if hold == "hold":  # messages for the consumer to take and keep
        expected |= {publisher.publish(topic, b"held").result() for _ in range(20)}
    consumer = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, *scenario[:3]],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PUBSUB_EMULATOR_HOST": host, "SUBSCRIPTION": path},
    )
    assert consumer.stdout is not None
    consumer.stdout.readline()
    if ending == "kill":
        consumer.send_signal(signal.SIGKILL)
    consumer.wait(timeout=30)
    read = path
    if fresh:  # beside the one the consumer read, which keeps its dead stream
        read = subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, f"{name}-fresh")
        subscriber.create_subscription(name=read, topic=topic, ack_deadline_seconds=10)
    expected |= {f.result() for f in [publisher.publish(topic, b"m") for _ in range(MESSAGES)]}
    received: set[str] = set()
    deadline = time.monotonic() + window
    while time.monotonic() < deadline and received < expected:
        try:
            response = subscriber.pull(subscription=read, max_messages=100, timeout=3, retry=None)
        except exceptions.DeadlineExceeded:
            continue
        if response.received_messages:
            received |= {r.message.message_id for r in response.received_messages}
            subscriber.acknowledge(
                subscription=read, ack_ids=[r.ack_id for r in response.received_messages]
            )
    for subscription in {path, read}:
        subscriber.delete_subscription(subscription=subscription)
    publisher.delete_topic(topic=topic)
    return len(received & expected), len(expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--window", type=float, default=15.0, help="seconds to collect")
    args = parser.parse_args()
    with emulator_host() as host:
        os.environ["PUBSUB_EMULATOR_HOST"] = host
        print(f"messages a new unary-Pull consumer received within {args.window:g}s, per trial")
        for scenario, description in SCENARIOS.items():
            results = [trial(host, scenario, args.window) for _ in range(args.trials)]
            complete = sum(1 for got, sent in results if got == sent)
            counts = ", ".join(f"{got}/{sent}" for got, sent in results)
            print(
                f"{description}:\n    {counts}  ({complete} of {args.trials} trials complete)",
                flush=True,
            )


if __name__ == "__main__":
    main()
