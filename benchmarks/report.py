"""What `make bench` prints: the machine, and a table per kind of trial."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.drain import Drain
from benchmarks.stats import TrialResult


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
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.strip()
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "node": node or "?",
        "google_cloud_cli": next(iter(emulator.splitlines()), "?"),
        "pubsub_emulator": next(
            (line for line in emulator.splitlines() if "pubsub-emulator" in line), "?"
        ).strip(),
    }


HEADER = (
    f"{'impl':<5} {'subs':>4} {'target/s':>8} {'sent':>6} {'sent/s':>7} "
    f"{'deliv/s':>8} {'lost':>5} {'dup':>4} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
    f"{'cpu us':>6} {'RSS MiB':>11}  held"
)


def row(t: TrialResult) -> str:
    return (
        f"{t.implementation:<5} {t.subscriptions:>4} {t.target_rate:>8.0f} {t.published:>6} "
        f"{t.publish_rate:>7.0f} {t.deliveries_per_second:>8.0f} {t.lost:>5} "
        f"{t.duplicates:>4} {t.p50_ms:>7.1f} {t.p99_ms:>7.1f} {t.max_ms:>7.1f} "
        f"{t.cpu_us_per_delivery:>6.0f} {t.rss_idle_mib:>5.0f}/{t.rss_busy_mib:<5.0f}  "
        f"{'yes' if t.sustained else 'NO: ' + ', '.join(t.shortfalls)}"
    )


def drain_row(d: Drain) -> str:
    return (
        f"{d.consumer:<34} {d.messages:>6} msgs in {d.seconds:>6.2f}s: {d.rate:>7.0f}/s, "
        f"lost {d.lost}, dup {d.duplicates}, {d.cpu_us_per_message:>5.1f} us CPU/msg, "
        f"RSS {d.rss_mib:.0f} MiB"
    )


def sink_row(r: dict[str, Any]) -> str:
    return (
        f"sink, batch {r['batch_size']:>4}: {r['readings_per_second']:>6}/s stored "
        f"({r['cpu_us_per_reading']:.0f} us CPU each); bare loop into the same PostgreSQL: "
        f"INSERT {r['insert_rows_per_second']:>6}/s, COPY {r['copy_rows_per_second']:>6}/s"
    )


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
            "\nhighest rate held (msgs/s): "
            + "; ".join(
                f"{n} subscription(s): ours {results['ceilings']['ours'][n]:.0f}, "
                f"raw {results['ceilings']['raw'][n]:.0f}"
                for n in results["ceilings"]["ours"]
            )
        )


def print_memory(results: dict[str, Any]) -> None:
    """Resident memory of one subscriber process, idle and at 1 x 1,000 msgs/s."""
    print("\nresident memory of a subscriber process (MiB), 1 subscription at 1,000 msgs/s")
    for t in results["trials"]:
        if (t["subscriptions"], t["target_rate"]) == (1, 1000):
            print(
                f"{t['implementation']:<5} idle {t['rss_idle_mib']:>6.1f}  "
                f"busy {t['rss_busy_mib']:>6.1f}"
            )
