"""Start-up and shutdown of the compose stack, timed in a real Docker Engine.

Start-up, in seconds from `docker compose up --detach` (images already built): the
emulator serving, the last subscriber listening, the last subscriber handling its first
message. A subscription receives only what is published after it exists, so the last
figure includes the wait for the next publish: it is measured with the publisher's default
interval (5 s) and with 1 s.

Shutdown: `docker stop` of one subscriber and of the publisher (SIGTERM, then exit),
each one's exit status, and whether the subscriber's subscription is gone afterwards.

Where the start-up seconds go, from Docker's own records: when each container started
(``State.StartedAt``), when the emulator's health check first passed (``docker events``),
each service's first log line (its interpreter started and its code imported), the
subscribers listening. Apart: the subscriber image's import time (``python -X
importtime``) and every service's resident memory once the stack is up (``docker stats``).
The services log JSON (``LOG_FORMAT=json``), read by field.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
import time
from datetime import datetime
from typing import Any

from tests.support import ROOT
from tests.support.compose import EMULATOR_PORT, OVERRIDES, Stack, docker, inspect, logs, new_stack
from tests.support.logs import records

# A name of this checkout's own: two checkouts on one Docker Engine do not collide.
PROJECT = f"pubsub-fanout-bench-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]}"
# The emulator's own line, in `docker logs --timestamps`: Docker's time first.
EMULATOR_UP = re.compile(r"^(\S+) .*Server started, listening on", re.M)
TIMEOUT_SECONDS = 180
IMPORT = "import subscriber.__main__, subscriber.fanout.replica"


def bench_stack(interval: float) -> Stack:
    """The fan-out stack as `docker compose up` starts it (no scale, no profile), with
    only the host-network build override (no postgres in it)."""
    stack = new_stack(PROJECT, {"PUBLISH_INTERVAL_SECONDS": str(interval), "LOG_FORMAT": "json"})
    stack.files = ("docker-compose.yml", EMULATOR_PORT, OVERRIDES[0])
    return stack


def docker_time(stamp: str) -> float:
    """Docker's RFC 3339 timestamps carry nanoseconds; Python reads microseconds."""
    head, _, fraction = stamp.strip().rstrip("Z").partition(".")
    head = head.split("+")[0]
    return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00").timestamp()


def first(container: str, wanted: Any) -> float | None:
    """The time of the container's first JSON record that ``wanted(record)`` accepts."""
    for record in records(logs(container)):
        if wanted(record):
            return docker_time(record["time"])
    return None


def listening(record: dict[str, Any]) -> bool:
    return record.get("event") == "listening"


def received(record: dict[str, Any]) -> bool:
    return record.get("event") == "received"


def started_at(container: str) -> float:
    return docker_time(inspect(container, "{{.State.StartedAt}}"))


def healthy_at(container: str, since: float) -> float | None:
    """When the container's health check first passed, from Docker's events."""
    out = docker(
        "events",
        "--since",
        str(int(since) - 1),
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        f"container={container}",
        "--filter",
        "event=health_status",
        "--format",
        "{{.TimeNano}} {{.Status}}",
    )
    # Each line: "<nanoseconds> health_status: healthy" (or "unhealthy").
    lines = out.splitlines()
    return min(
        (int(line.split()[0]) / 1e9 for line in lines if line.endswith(" healthy")), default=None
    )


def startup(stack: Stack, up: float) -> dict[str, float]:
    """Seconds from `up` to each step of the start-up, the latest container's."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        subscribers = stack.containers("subscriber")
        firsts = [first(c, received) for c in subscribers]
        if subscribers and None not in firsts:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the subscribers handled no message in time")
    (emulator,) = stack.containers("emulator")
    (dashboard,) = stack.containers("dashboard")
    match = EMULATOR_UP.search(logs(emulator, timestamps=True))

    def since_up(*times: float | None) -> float:
        return math.nan if None in times else round(max(t for t in times if t) - up, 2)

    return {
        "emulator_started": since_up(started_at(emulator)),
        "emulator_up": since_up(docker_time(match.group(1)) if match else None),
        "emulator_healthy": since_up(healthy_at(emulator, up)),
        "subscribers_started": since_up(*(started_at(c) for c in subscribers)),
        "subscribers_first_line": since_up(*(first(c, lambda r: True) for c in subscribers)),
        "subscribers_listening": since_up(*(first(c, listening) for c in subscribers)),
        "dashboard_first_line": since_up(first(dashboard, lambda r: True)),
        "first_delivery_to_all": since_up(*firsts),
    }


def stop(container: str) -> dict[str, Any]:
    started = time.monotonic()
    docker("stop", container)
    return {
        "seconds": round(time.monotonic() - started, 2),
        "exit_code": int(inspect(container, "{{.State.ExitCode}}")),
    }


def memory(stack: Stack) -> dict[str, float]:
    """Resident memory of each service's first container now (MiB), from `docker stats`."""
    found = {}
    for service in ("emulator", "publisher", "subscriber", "dashboard"):
        container = stack.containers(service)[0]
        usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container)
        match = re.match(r"([\d.]+)\s*([KMG])i?B", usage.strip())
        if match:
            scale = {"K": 1 / 1024, "M": 1.0, "G": 1024.0}[match[2]]
            found[service] = round(float(match[1]) * scale, 1)
    return found


def one_run(interval: float) -> dict[str, Any]:
    stack = bench_stack(interval)
    stack("down", "--volumes", "--remove-orphans")
    try:
        up = time.time()
        stack("up", "--detach")
        timeline = startup(stack, up)
        idle = memory(stack)
        subscriber = stack.containers("subscriber")[0]
        name = next(r["subscription"] for r in records(logs(subscriber)) if listening(r))
        subscriber_stop = stop(subscriber)
        subscriber_stop["subscription_deleted"] = name.rsplit("/", 1)[1] not in (
            stack.subscriptions()
        )
        publisher_stop = stop(stack.containers("publisher")[0])
        return {
            "publish_interval_seconds": interval,
            "startup_seconds": timeline,
            "memory_mib": idle,
            "subscriber_stop": subscriber_stop,
            "publisher_stop": publisher_stop,
        }
    finally:
        stack("down", "--volumes", "--remove-orphans")


def import_seconds(stack: Stack) -> dict[str, Any]:
    """The subscriber image's interpreter start and imports, ``python -X importtime``."""
    image = f"pubsub-fanout-subscriber:{stack.env['VERSION']}"
    started = time.monotonic()
    out = docker("run", "--rm", image, "sh", "-c", f"python -X importtime -c '{IMPORT}' 2>&1")
    wall = time.monotonic() - started
    top: dict[str, float] = {}
    for line in out.splitlines():
        # "import time: <self us> | <cumulative us> | <package>", nested ones indented.
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            name = parts[2].strip().split(".")[0]
            top[name] = top.get(name, 0.0) + int(parts[1]) / 1e6
    return {
        "docker_run_seconds": round(wall, 2),
        "import_seconds": round(sum(top.values()), 2),
        "largest": dict(sorted(top.items(), key=lambda kv: -kv[1])[:5]),
    }


def measure(intervals: tuple[float, ...] = (5, 1), repeats: int = 2) -> dict[str, Any]:
    stack = bench_stack(1)
    stack("build")
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
    return {
        "runs": runs,
        "median_startup_seconds_by_publish_interval": startup,
        "imports": import_seconds(stack),
    }


def print_report(report: dict[str, Any]) -> None:
    print("\ncompose stack: seconds from `up` (images built); `docker stop` to exit")
    steps = list(report["runs"][0]["startup_seconds"])
    print("interval " + " ".join(f"{step[:14]:>14}" for step in steps))
    for run in report["runs"]:
        times = run["startup_seconds"]
        print(
            f"{run['publish_interval_seconds']:>7g}s "
            + " ".join(f"{times[step]:>14.2f}" for step in steps)
        )
    for run in report["runs"]:
        sub, pub = run["subscriber_stop"], run["publisher_stop"]
        gone = "subscription gone" if sub["subscription_deleted"] else "SUBSCRIPTION LEFT"
        print(
            f"stop: subscriber {sub['seconds']:.2f}s exit {sub['exit_code']} {gone}; "
            f"publisher {pub['seconds']:.2f}s exit {pub['exit_code']}; "
            f"memory (MiB) {run['memory_mib']}"
        )
    imports = report["imports"]
    print(
        f"subscriber image: `{IMPORT}` takes {imports['import_seconds']:.2f}s of imports "
        f"({imports['largest']}); `docker run` of it {imports['docker_run_seconds']:.2f}s"
    )
