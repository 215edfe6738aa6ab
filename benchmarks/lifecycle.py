"""Start-up and shutdown of the compose stack, timed in a real Docker Engine.

Start-up, in seconds from `docker compose up --detach` (images already built): the
emulator serving, the last subscriber listening, the last subscriber handling its first
message. A subscription receives only what is published after it exists, so the last
figure includes the wait for the next publish: it is measured with the publisher's default
interval (5 s) and with 1 s.

Shutdown: `docker stop` of one subscriber and of the publisher (SIGTERM, then exit),
each one's exit status, and whether the subscriber's subscription is gone afterwards.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from datetime import datetime
from typing import Any

from tests.support.compose import OVERRIDES, Stack, docker, inspect, logs, new_stack

PROJECT = "pubsub-fanout-bench"
# Lines of `docker logs --timestamps`: Docker's time first, then the service's own line.
EMULATOR_UP = re.compile(r"^(\S+) .*Server started, listening on", re.M)
LISTENING = re.compile(
    r"^(\S+) .*subscriber\.fanout\.replica: listening on projects/[^/]+/subscriptions/(\S+)", re.M
)
RECEIVED = re.compile(r"^(\S+) .*subscriber\.fanout\.handler: received message_id=", re.M)
TIMEOUT_SECONDS = 180


def bench_stack(interval: float) -> Stack:
    """The fan-out stack as `docker compose up` starts it (no scale, no profile), with
    only the host-network build override (no postgres in it)."""
    stack = new_stack(PROJECT, {"PUBLISH_INTERVAL_SECONDS": str(interval)})
    stack.files = ("docker-compose.yml", OVERRIDES[0])
    return stack


def log_of(container: str) -> str:
    return logs(container, timestamps=True)


def docker_time(stamp: str) -> float:
    """Docker's RFC 3339 timestamps carry nanoseconds; Python reads microseconds."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00").timestamp()


def logged_at(pattern: re.Pattern[str], container: str, since: float) -> float | None:
    """Seconds from ``since`` to the first line matching ``pattern``; None if none yet."""
    match = pattern.search(log_of(container))
    return docker_time(match.group(1)) - since if match else None


def startup(stack: Stack, started: float) -> dict[str, float]:
    """When, counted from `up`, the emulator served, the last subscriber listened, and
    the last subscriber handled its first message."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        subscribers = stack.containers("subscriber")
        firsts = [logged_at(RECEIVED, container, started) for container in subscribers]
        if subscribers and all(first is not None for first in firsts):
            listening = [logged_at(LISTENING, container, started) for container in subscribers]
            emulator = logged_at(EMULATOR_UP, stack.containers("emulator")[0], started)
            return {
                "emulator_up": _seconds(emulator),
                "subscribers_listening": _seconds(*listening),
                "first_delivery_to_all": _seconds(*firsts),
            }
        time.sleep(0.2)
    raise RuntimeError("the subscribers handled no message in time")


def _seconds(*times: float | None) -> float:
    """The latest of these times, rounded; NaN if one was not logged."""
    return math.nan if None in times else round(max(t for t in times if t is not None), 2)


def stop(container: str) -> dict[str, Any]:
    started = time.monotonic()
    docker("stop", container)
    return {
        "seconds": round(time.monotonic() - started, 2),
        "exit_code": int(inspect(container, "{{.State.ExitCode}}")),
    }


def one_run(interval: float) -> dict[str, Any]:
    stack = bench_stack(interval)
    stack("down", "--volumes", "--remove-orphans")
    try:
        started = time.time()
        stack("up", "--detach")
        timeline = startup(stack, started)
        subscriber = stack.containers("subscriber")[0]
        listening = LISTENING.search(log_of(subscriber))
        assert listening, "a subscriber that delivered must have logged its subscription"
        subscriber_stop = stop(subscriber)
        subscriber_stop["subscription_deleted"] = listening.group(2) not in stack.subscriptions()
        publisher_stop = stop(stack.containers("publisher")[0])
        return {
            "publish_interval_seconds": interval,
            "startup_seconds": timeline,
            "subscriber_stop": subscriber_stop,
            "publisher_stop": publisher_stop,
        }
    finally:
        stack("down", "--volumes", "--remove-orphans")


def measure(intervals: tuple[float, ...] = (5, 1), repeats: int = 2) -> dict[str, Any]:
    bench_stack(1)("build")
    runs = [one_run(interval) for interval in intervals for _ in range(repeats)]
    startup = {
        str(interval): round(
            statistics.median(
                run["startup_seconds"]["first_delivery_to_all"]
                for run in runs
                if run["publish_interval_seconds"] == interval
            ),
            2,
        )
        for interval in intervals
    }
    return {"runs": runs, "median_startup_seconds_by_publish_interval": startup}


def print_report(report: dict[str, Any]) -> None:
    print("\ncompose stack: seconds from `up` (images built); `docker stop` to exit")
    print(
        f"{'interval':>8} {'emulator up':>11} {'subs listening':>14} {'first to all':>12} "
        f"{'subscriber stop':>26} {'publisher stop':>15}"
    )
    for run in report["runs"]:
        times, sub, pub = run["startup_seconds"], run["subscriber_stop"], run["publisher_stop"]
        gone = "subscription gone" if sub["subscription_deleted"] else "SUBSCRIPTION LEFT"
        print(
            f"{run['publish_interval_seconds']:>7g}s {times['emulator_up']:>11.1f} "
            f"{times['subscribers_listening']:>14.1f} {times['first_delivery_to_all']:>12.1f} "
            f"{sub['seconds']:>5.2f}s exit {sub['exit_code']} {gone} "
            f"{pub['seconds']:>6.2f}s exit {pub['exit_code']}"
        )
