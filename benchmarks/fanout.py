"""Fan-out latency and throughput, ours against the raw client loop, on the emulator.

Each trial (``benchmarks.trials``) is a fresh topic on a private emulator, N
subscriptions and one publisher at a target rate for a fixed time, run "ours" (the
services as the containers run them) and "raw" (the bare client). After the given rates,
each implementation is pushed up in steps until a rate is not sustained (published on
time, nothing lost, p99 under 1 s): the last sustained rate is its ceiling. Then, unless
--no-docker, start-up and shutdown of the compose stack are timed (see
``benchmarks.lifecycle``). Results go to benchmarks/results/fanout.json and .png.

    .venv/bin/python -m benchmarks.fanout [--subscriptions 1 3 5] [--rates 100 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import chart, lifecycle
from benchmarks.stats import TrialResult, overhead
from benchmarks.trials import Bench
from tests.support.emulator import emulator_host

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# The ceiling search: rates tried after the fixed ones, until one is not sustained.
SEARCH_RATES = (1500, 2000, 2500, 3000, 4500)


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
