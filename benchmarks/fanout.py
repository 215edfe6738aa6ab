"""Fan-out latency and throughput, ours against the raw client loop, on the emulator.

Each trial is a fresh topic on a private emulator, N subscriptions and one publisher at a
target rate for a fixed time:

- "ours": ``python -m publisher`` and N ``python -m subscriber`` processes, exactly as
  the containers run them (each subscriber creates its own subscription, logs a line per
  message and acks it). Latency is the handler's log time minus the message's ``sent_at``
  (set just before the publish call); both have millisecond resolution.
- "raw": ``benchmarks/raw_client.py``, the bare client: the same pacing and message body,
  N subscriber processes whose callback records the time and acks, nothing else.

After the given rates, each implementation is pushed up in steps until a rate is not
sustained (published on time, nothing lost, p99 under 1 s): the last sustained rate is its
ceiling. Then, unless --no-docker, start-up and shutdown of the compose stack are timed
(see ``benchmarks.lifecycle``). Results go to benchmarks/results/fanout.json and .png.

    .venv/bin/python -m benchmarks.fanout [--subscriptions 1 3 5] [--rates 100 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.cloud import pubsub_v1

from benchmarks import chart, lifecycle
from benchmarks.stats import TrialResult, overhead, summarize
from common.config import EMULATOR_DEFAULT_PROJECT
from tests.emulator import emulator_host

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RAW_CLIENT = ROOT / "benchmarks" / "raw_client.py"
# How long the subscriptions get to catch up once publishing stops.
DRAIN_SECONDS = 20
# The ceiling search: rates tried after the fixed ones, until one is not sustained.
SEARCH_RATES = (1500, 2000, 2500, 3000, 4500)

RECEIVED = re.compile(
    r"^(\S+)Z INFO +subscriber\.handler: received .* sequence=(\d+) .*sent_at=(\S+)Z$", re.M
)
PUBLISHED = re.compile(r"^(\S+)Z INFO +publisher\.loop: published .* sequence=(\d+)$", re.M)


def utc_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


class Process:
    """A child process with its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far (Linux /proc)."""
        stat = Path(f"/proc/{self.popen.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name: field 3 on
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text(), re.M):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"no {pattern!r} from {self.popen.args!r}:\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class Bench:
    def __init__(self, host: str, workdir: Path, seconds: float) -> None:
        self.host = host
        self.workdir = workdir
        self.seconds = seconds
        os.environ["PUBSUB_EMULATOR_HOST"] = host
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()

    def env(self, topic: str, **settings: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PUBSUB_", "GCP_"))}
        return {**clean, "PUBSUB_EMULATOR_HOST": self.host, "PUBSUB_TOPIC": topic, **settings}

    def new_topic(self) -> tuple[str, str]:
        topic = f"bench-{uuid.uuid4().hex[:10]}"
        path = self.publisher.topic_path(EMULATOR_DEFAULT_PROJECT, topic)
        self.publisher.create_topic(name=path)
        return topic, path

    @contextmanager
    def processes(self) -> Iterator[list[Process]]:
        started: list[Process] = []
        try:
            yield started
        finally:
            for process in started:
                process.stop()

    def ours(self, subscriptions: int, rate: float) -> TrialResult:
        topic, _ = self.new_topic()
        with self.processes() as started:
            subscribers = []
            for n in range(subscriptions):
                env = self.env(topic, HEARTBEAT_FILE=str(self.workdir / f"{topic}-{n}.beat"))
                log = self.workdir / f"{topic}-sub-{n}.log"
                subscribers.append(Process([sys.executable, "-m", "subscriber"], env, log))
            started.extend(subscribers)
            for process in subscribers:
                process.wait_for(r"subscriber\.lifecycle: listening on ")
            cpu_before = sum(process.cpu_seconds() for process in subscribers)
            env = self.env(
                topic,
                PUBLISH_INTERVAL_SECONDS=repr(1 / rate),
                HEARTBEAT_FILE=str(self.workdir / f"{topic}-pub.beat"),
            )
            publisher = Process(
                [sys.executable, "-m", "publisher"], env, self.workdir / f"{topic}-pub.log"
            )
            started.append(publisher)
            publisher.wait_for(r"publisher\.loop: publishing ")
            time.sleep(self.seconds)
            publisher.stop()
            published = {
                int(sequence): utc_seconds(stamp)
                for stamp, sequence in PUBLISHED.findall(publisher.text())
            }

            def received() -> list[list[tuple[int, float, float]]]:
                return [
                    [
                        (int(seq), utc_seconds(handled), utc_seconds(sent))
                        for handled, seq, sent in RECEIVED.findall(process.text())
                    ]
                    for process in subscribers
                ]

            deliveries = self.drain(published.keys(), received)
            cpu = sum(process.cpu_seconds() for process in subscribers) - cpu_before
        # The publish time is the message's sent_at, as every subscriber saw it.
        sent = dict(published)
        for per_subscription in deliveries:
            for sequence, _, sent_at in per_subscription:
                sent[sequence] = sent_at
        return summarize(
            "ours",
            rate,
            sent,
            [[(seq, handled) for seq, handled, _ in rows] for rows in deliveries],
            publish_seconds=self.seconds,
            subscriber_cpu_seconds=cpu,
        )

    def raw(self, subscriptions: int, rate: float) -> TrialResult:
        topic, topic_path = self.new_topic()
        env = self.env(topic)
        with self.processes() as started:
            outputs, paths = [], []
            for n in range(subscriptions):
                path = self.subscriber.subscription_path(EMULATOR_DEFAULT_PROJECT, f"{topic}-{n}")
                self.subscriber.create_subscription(name=path, topic=topic_path)
                paths.append(path)
                outputs.append(self.workdir / f"{topic}-raw-{n}.txt")
                started.append(
                    Process(
                        [sys.executable, str(RAW_CLIENT), "subscribe", path, str(outputs[-1])],
                        env,
                        self.workdir / f"{topic}-raw-{n}.log",
                    )
                )
            for process in started:
                process.wait_for(r"^listening$")
            subscribers = list(started)
            cpu_before = sum(process.cpu_seconds() for process in subscribers)
            sent_file = self.workdir / f"{topic}-raw-sent.txt"
            publisher = Process(
                [
                    sys.executable,
                    str(RAW_CLIENT),
                    "publish",
                    topic_path,
                    str(rate),
                    str(self.seconds),
                    str(sent_file),
                ],
                env,
                self.workdir / f"{topic}-raw-pub.log",
            )
            if publisher.popen.wait(timeout=self.seconds + 120) != 0:
                sys.exit(f"the raw publisher failed:\n{publisher.text()}")
            sent = read_pairs(sent_file)

            def received() -> list[list[tuple[int, float, float]]]:
                return [[(seq, when, 0.0) for seq, when in read_pairs(o).items()] for o in outputs]

            # Duplicates would collapse in a dict; count them from the raw lines instead.
            self.drain(sent.keys(), received)
            cpu = sum(process.cpu_seconds() for process in subscribers) - cpu_before
            deliveries = [read_rows(output) for output in outputs]
        for path in paths:  # ours delete their own on the way out
            self.subscriber.delete_subscription(subscription=path)
        return summarize(
            "raw",
            rate,
            sent,
            deliveries,
            publish_seconds=self.seconds,
            subscriber_cpu_seconds=cpu,
        )

    @staticmethod
    def drain(
        expected: Iterable[int], received: Callable[[], list[list[tuple[int, float, float]]]]
    ) -> list[list[tuple[int, float, float]]]:
        """Wait until every subscription has every published message, or until nothing
        has arrived for a while; return what each subscription received."""
        wanted = set(expected)
        deadline = time.monotonic() + DRAIN_SECONDS
        last_total, last_change = -1, time.monotonic()
        while True:
            rows: list[list[tuple[int, float, float]]] = received()
            if all(wanted <= {row[0] for row in per} for per in rows):
                return rows
            total = sum(len(per) for per in rows)
            if total != last_total:
                last_total, last_change = total, time.monotonic()
            if time.monotonic() > deadline or time.monotonic() - last_change > 5:
                return rows
            time.sleep(0.25)


def read_rows(path: Path) -> list[tuple[int, float]]:
    rows = []
    for line in path.read_text().splitlines():
        sequence, when = line.split()
        rows.append((int(sequence), float(when)))
    return rows


def read_pairs(path: Path) -> dict[int, float]:
    return dict(read_rows(path)) if path.exists() else {}


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    emulator = subprocess.run(
        ["gcloud", "version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "google_cloud_cli": next(iter(emulator.splitlines()), "?"),
        "pubsub_emulator": next(
            (line for line in emulator.splitlines() if "pubsub-emulator" in line), "?"
        ).strip(),
    }


HEADER = (
    f"{'impl':<5} {'subs':>4} {'target/s':>8} {'sent':>6} {'sent/s':>7} "
    f"{'deliv/s':>8} {'lost':>5} {'dup':>4} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
    f"{'cpu us':>6}  held"
)


def row(t: TrialResult) -> str:
    return (
        f"{t.implementation:<5} {t.subscriptions:>4} {t.target_rate:>8.0f} {t.published:>6} "
        f"{t.publish_rate:>7.0f} {t.deliveries_per_second:>8.0f} {t.lost:>5} "
        f"{t.duplicates:>4} {t.p50_ms:>7.1f} {t.p99_ms:>7.1f} {t.max_ms:>7.1f} "
        f"{t.cpu_us_per_delivery:>6.0f}  "
        f"{'yes' if t.sustained else 'NO: ' + ', '.join(t.shortfalls)}"
    )


def run_trials(
    bench: Bench, subscriptions: list[int], rates: list[float], search: bool
) -> dict[str, Any]:
    """Raw then ours at each rate; then, per implementation, the ceiling search."""
    trials: list[TrialResult] = []
    ratios: list[dict[str, Any]] = []
    ceilings: dict[str, dict[int, float]] = {"ours": {}, "raw": {}}
    implementations = (("raw", bench.raw), ("ours", bench.ours))

    def trial(name: str, run: Any, n: int, rate: float) -> TrialResult:
        result: TrialResult = run(n, rate)
        print(row(result), flush=True)
        trials.append(result)
        return result

    print(HEADER, flush=True)
    for n in subscriptions:
        for rate in rates:
            raw, ours = (trial(name, run, n, rate) for name, run in implementations)
            ratios.append({"subscriptions": n, "rate": rate, **overhead(ours, raw)})
        if not search:
            continue
        for name, run in implementations:
            held = [
                t.target_rate
                for t in trials
                if (t.implementation, t.subscriptions) == (name, n) and t.sustained
            ]
            for rate in SEARCH_RATES:
                if not trial(name, run, n, rate).sustained:
                    break
                held.append(rate)
            ceilings[name][n] = max(held, default=0.0)
    return {
        "trials": [t.as_dict() for t in trials],
        "overhead": ratios,
        "ceilings": ceilings,
    }


def print_overhead(results: dict[str, Any]) -> None:
    print(
        "\nours / raw (1.00 = the same; latency and CPU above 1 = slower or costlier; "
        "deliveries/s below 1 = fewer)"
    )
    print(f"{'subs':>4} {'rate':>6} {'p50':>6} {'p99':>6} {'deliv/s':>8} {'cpu':>6}")
    for r in results["overhead"]:
        print(
            f"{r['subscriptions']:>4} {r['rate']:>6.0f} {r['p50']:>6.2f} {r['p99']:>6.2f} "
            f"{r['deliveries_per_second']:>8.2f} {r['cpu_per_delivery']:>6.2f}"
        )
    if results["ceilings"]["ours"]:
        print(
            "\nhighest sustained publish rate (msgs/s): "
            + "; ".join(
                f"{n} subscription(s): ours {results['ceilings']['ours'][n]:.0f}, "
                f"raw {results['ceilings']['raw'][n]:.0f}"
                for n in results["ceilings"]["ours"]
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 1000])
    parser.add_argument("--seconds", type=float, default=10, help="publishing time per trial")
    parser.add_argument("--no-search", action="store_true", help="skip the ceiling search")
    parser.add_argument("--no-docker", action="store_true", help="skip start-up and shutdown")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds_per_trial": args.seconds,
    }
    print(f"machine: {results['machine']}")
    with tempfile.TemporaryDirectory() as tmp, emulator_host() as host:
        bench = Bench(host, Path(tmp), args.seconds)
        results |= run_trials(bench, args.subscriptions, args.rates, not args.no_search)
    print_overhead(results)
    if not args.no_docker:
        results["lifecycle"] = lifecycle.measure()
        lifecycle.print_report(results["lifecycle"])
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "fanout.json").write_text(json.dumps(results, indent=2) + "\n")
    chart.draw(results, args.output / "fanout.png")
    print(f"\nwritten: {args.output / 'fanout.json'}, {args.output / 'fanout.png'}")


if __name__ == "__main__":
    main()
