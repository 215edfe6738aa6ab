"""What metrics add to a delivery's CPU, measured in-process, without the noise of a
whole trial: the calls one delivery makes into ``common.metrics`` (its acker's round,
its pull's timing, the handler's time, the settle timestamp), plus their share of the
recorder's rounds and of a scrape every 5 s, at 1,000 msgs/s, with metrics on and off.

    .venv/bin/python -m benchmarks.metrics_cost [--messages 200000] [--per-pull 3]

The end-to-end figure is the fan-out benchmark's ``ours-no-metrics`` trial
(``benchmarks.fanout``); this one says where it comes from.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from common import metrics
from common.metrics import setup
from common.receive import Received
from tests.support.fake_pubsub import received
from tests.support.metrics import scrape

RATE = 1000  # msgs/s: one recorder round per RATE messages, one scrape per 5 * RATE
ROUND = 50  # messages per ack round at that rate (one every 50 ms)


def deliveries(count: int, per_pull: int, port: int | None) -> Callable[[], float]:
    """A loop of ``count`` deliveries' calls into the metrics, and a scrape of ``port``
    every 5 s of them; returns the CPU µs each took."""
    observer = metrics.consumer("projects/p/subscriptions/channel-bench")
    messages: list[Received] = [received(message_id=str(n)) for n in range(ROUND)]

    def run() -> float:
        clock = time.monotonic
        started = time.process_time()
        for n in range(count):
            begun = clock()  # the dispatcher times the handler
            observer.processed(clock() - begun)
            messages[n % ROUND].settled_at = time.time()  # the acker's settle
            if n % per_pull == 0:
                observer.operation("pull", 0.002, None)
            if n % ROUND == ROUND - 1:
                observer.acked(messages)
                observer.operation("ack", 0.003, None)
            if n % RATE == RATE - 1 and (recorder := setup.recorder()) is not None:
                recorder.record()
            if port and n % (5 * RATE) == 5 * RATE - 1:
                scrape(port)
        return (time.process_time() - started) / count * 1e6

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--per-pull", type=int, default=3, help="messages a pull brings")
    args = parser.parse_args()
    off = deliveries(args.messages, args.per_pull, None)()
    port = metrics.configure("prometheus", "bench", 0, "bench")
    try:
        on = deliveries(args.messages, args.per_pull, port)()
    finally:
        metrics.shutdown()
    print(
        f"metrics' calls per delivery at {RATE} msgs/s ({args.per_pull} per pull, {ROUND} "
        f"per ack round, a scrape every 5 s): off {off:.2f} us, on {on:.2f} us CPU; "
        f"added {on - off:.2f} us"
    )


if __name__ == "__main__":
    main()
