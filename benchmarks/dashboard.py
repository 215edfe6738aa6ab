"""The live view under load: the dashboard's CPU and memory, its frames, its counters.

Each trial is a fresh topic on a private emulator (or PUBSUB_EMULATOR_HOST's): the
dashboard, N replicas and the publisher as the containers run them (``python -m ...``),
and C WebSocket clients reading frames as the page does, each on a thread. The publisher
runs at a target rate; after a warm-up, the dashboard's CPU and memory are sampled for
``--seconds``. Then publishing stops, the stack drains, the replicas stop, and the
dashboard's counters are compared with the publisher's and replicas' own.

    .venv/bin/python -m benchmarks.dashboard [--rates 100 1000] [--clients 1 20]
        [--replicas 3] [--seconds 30] [--warmup 5]

Prints a table and writes benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from google.cloud import pubsub_v1

from common.config import EMULATOR_DEFAULT_PROJECT
from tests.support import ROOT
from tests.support.emulator import emulator_host, free_port
from tests.support.environment import clean_env
from tests.support.live_view import LiveView
from tests.support.processes import ServiceProcess

RESULTS = ROOT / "benchmarks" / "results"
DRAIN_SECONDS = 120


@dataclass
class Result:
    rate: int  # target msgs/s
    clients: int
    replicas: int
    published_per_second: float  # achieved, over the whole publishing time
    cpu_percent: float  # the dashboard's, of one CPU, over the measured window
    rss_mib: float  # the dashboard's resident memory, the highest sampled
    frames_per_second: float  # per client, the slowest client, over the window
    frame_gap_max_s: float  # the longest wait for a frame, any client
    frame_kib: float  # mean frame size
    clients_closed: int  # by the server: must be 0
    published: int  # the publisher's own count
    handled: list[int]  # each replica's own count
    view_published: int  # the dashboard's counters at the end
    view_acked: int
    counters_match: bool


class Readers:
    """C clients, each read on a thread of its own until stopped."""

    def __init__(self, port: int, count: int) -> None:
        self._stack = contextlib.ExitStack()
        self.views = [self._stack.enter_context(LiveView(port)) for _ in range(count)]
        self.closed = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(v,)) for v in self.views]
        for thread in self._threads:
            thread.start()

    def _read(self, view: LiveView) -> None:
        try:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    view.read_one(timeout=1)
        except Exception:  # closed by the server: counted; the trial goes on
            self.closed += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._stack.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Trial:
    """One rate, one number of clients, on a topic of its own."""

    def __init__(self, host: str, workdir: Path, args: argparse.Namespace) -> None:
        self.host, self.workdir, self.args = host, workdir, args
        self.topic = f"bench-{uuid.uuid4().hex[:10]}"
        self.started: list[ServiceProcess] = []

    def start(self, module: str, **settings: str) -> ServiceProcess:
        n = len(self.started)
        env = clean_env(
            PUBSUB_EMULATOR_HOST=self.host,
            PUBSUB_TOPIC=self.topic,
            HEARTBEAT_FILE=str(self.workdir / f"{self.topic}-{n}.beat"),
            LOG_FORMAT="json",
            **settings,
        )
        log = self.workdir / f"{self.topic}-{module}-{n}.log"
        self.started.append(ServiceProcess(module, env, log))
        return self.started[-1]

    def run(self, rate: int, clients: int) -> Result:
        pubsub_v1.PublisherClient().create_topic(
            name=f"projects/{EMULATOR_DEFAULT_PROJECT}/topics/{self.topic}"
        )
        try:
            port = free_port()
            # Every client here comes from 127.0.0.1: room for them all, as behind a proxy.
            dashboard = self.start(
                "dashboard",
                DASHBOARD_LISTEN_PORT=str(port),
                DASHBOARD_MAX_CONNECTIONS_PER_ADDRESS=str(clients + 8),
            )
            # Its three feeds: the channel, the receipts, the dead letters.
            dashboard.wait_for_events("listening", 3, timeout=60)
            # Each its own identity, as each container has its own host name.
            replicas = [
                self.start("subscriber", REPLICA_ID=f"replica-{n}")
                for n in range(self.args.replicas)
            ]
            for replica in replicas:
                replica.wait_for_event("listening", timeout=60)
            readers = Readers(port, clients)
            try:
                return self._measure(rate, dashboard, replicas, readers)
            finally:
                readers.stop()
        finally:
            for process in reversed(self.started):
                process.stop()

    def _measure(
        self, rate: int, dashboard: ServiceProcess, replicas: list[ServiceProcess], readers: Readers
    ) -> Result:
        publisher = self.start("publisher", PUBLISH_INTERVAL_SECONDS=repr(1 / rate))
        publisher.wait_for_event("publishing", timeout=60)
        publishing = time.monotonic()
        time.sleep(self.args.warmup)
        frames_before = [len(view.frame_times) for view in readers.views]
        cpu_before, began, rss = dashboard.cpu_seconds(), time.monotonic(), 0.0
        while time.monotonic() - began < self.args.seconds:
            rss = max(rss, rss_mib(dashboard.process.pid))
            time.sleep(1)
        elapsed = time.monotonic() - began
        cpu = dashboard.cpu_seconds() - cpu_before
        windows = [v.frame_times[n:] for v, n in zip(readers.views, frames_before, strict=True)]
        publisher.stop()
        publishing = time.monotonic() - publishing
        published = len(publisher.events("published"))
        view = readers.views[0]
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and not (
            view.counters.get("published") == published
            and all(c["acked"] == published for c in view.replicas.values())
        ):
            time.sleep(0.5)
        handled = []
        for replica in replicas:
            replica.stop()
            found = replica.events("stopped receiving")
            handled.append(found[-1]["handled"] if found else -1)
        time.sleep(1)  # their "left" receipts, with their final totals
        sizes = [size for v in readers.views for size in v.frame_sizes]
        gaps = [b - a for times in windows for a, b in itertools.pairwise(times)]
        columns = [c["acked"] for c in view.replicas.values()]
        return Result(
            rate=rate,
            clients=len(readers.views),
            replicas=len(replicas),
            published_per_second=round(published / publishing, 1),
            cpu_percent=round(100 * cpu / elapsed, 1),
            rss_mib=round(rss, 1),
            frames_per_second=round(min(len(times) for times in windows) / elapsed, 2),
            frame_gap_max_s=round(max(gaps, default=0.0), 3),
            frame_kib=round(sum(sizes) / max(1, len(sizes)) / 1024, 2),
            clients_closed=readers.closed,
            published=published,
            handled=handled,
            view_published=view.counters.get("published", -1),
            view_acked=view.counters.get("acked", -1),
            counters_match=view.counters.get("published") == published
            and sorted(columns) == sorted(handled)
            and view.counters.get("acked") == sum(handled),
        )


HEADER = (
    "| msgs/s (achieved) | clients | dashboard CPU | RSS MiB | frames/s (slowest client) "
    "| longest gap s | KiB/frame | closed | counters match |"
)


def row(r: Result) -> str:
    return (
        f"| {r.rate:,} ({r.published_per_second:,.0f}) | {r.clients} | {r.cpu_percent:.0f} % "
        f"| {r.rss_mib:.0f} | {r.frames_per_second:.1f} | {r.frame_gap_max_s:.2f} "
        f"| {r.frame_kib:.2f} | {r.clients_closed} | {'yes' if r.counters_match else 'NO'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    args = parser.parse_args()
    results = []
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp, emulator_host() as host:
        os.environ["PUBSUB_EMULATOR_HOST"] = host  # for this process's admin client
        for rate, clients in itertools.product(args.rates, args.clients):
            result = Trial(host, Path(tmp), args).run(rate, clients)
            print(row(result), flush=True)
            results.append(asdict(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
