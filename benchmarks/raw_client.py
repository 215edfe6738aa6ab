"""The raw ceiling: the google-cloud-pubsub client with no project code around it.

Run as a script by ``benchmarks.fanout``; it imports nothing from this project.

    raw_client.py publish TOPIC_PATH RATE SECONDS OUT   # OUT: "sequence sent_time" lines
    raw_client.py subscribe SUBSCRIPTION_PATH OUT       # OUT: "sequence handled_time" lines

The publisher paces itself like the project's (one message per 1/RATE s, open loop) and
sends the project's JSON body, so both sides handle the same bytes. The subscriber writes
what it handled every 0.2 s and stops on SIGTERM.
"""

import json
import signal
import sys
import threading
import time

from google.cloud import pubsub_v1


def publish(topic: str, rate: float, seconds: float, out: str) -> None:
    client = pubsub_v1.PublisherClient()
    interval = 1 / rate
    sent: list[tuple[int, float]] = []
    futures = []
    start = time.monotonic()
    due = start
    sequence = 0
    while due < start + seconds:
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sequence += 1
        now = time.time()
        body = {
            "channel_number": 22,
            "channel_name": "Cartoon",
            "sequence": sequence,
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)),
            "publisher": "raw",
        }
        futures.append((sequence, now, client.publish(topic, json.dumps(body).encode())))
        # Paced as the project's publisher is: small lateness is made up at once, a
        # second or more is skipped.
        due += interval
        if due <= time.monotonic() - 1.0:
            due = time.monotonic() + interval
    for number, when, future in futures:
        future.result(timeout=60)
        sent.append((number, when))
    with open(out, "w") as file:
        file.writelines(f"{number} {when:.6f}\n" for number, when in sent)


def subscribe(subscription: str, out: str) -> None:
    client = pubsub_v1.SubscriberClient()
    handled: list[tuple[int, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def callback(message: pubsub_v1.subscriber.message.Message) -> None:
        when = time.time()
        sequence = json.loads(message.data)["sequence"]
        message.ack()
        with lock:
            handled.append((sequence, when))

    stream = client.subscribe(subscription, callback=callback)
    print("listening", flush=True)
    written = 0
    with open(out, "w") as file:
        while True:
            stopping = stop.wait(0.2)
            with lock:
                batch, written = handled[written:], len(handled)
            file.writelines(f"{number} {when:.6f}\n" for number, when in batch)
            file.flush()
            if stopping:
                break
    stream.cancel()
    stream.result(timeout=10)
    client.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "publish":
        publish(args[0], float(args[1]), float(args[2]), args[3])
    else:
        subscribe(args[0], args[1])
