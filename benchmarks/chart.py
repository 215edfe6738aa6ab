"""The fan-out benchmark's figures as one PNG: ours beside the bare and Node.js clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

COLOURS = {"raw": "#9e9e9e", "ours": "#1a73e8", "node": "#34a853"}
IMPLEMENTATIONS = ("raw", "ours")
WIDTH = 0.38


def draw(results: dict[str, Any], path: Path) -> None:
    """Latency and CPU per delivery at the fixed rates; the rate ceilings, if searched."""
    fixed = {(row["subscriptions"], row["rate"]) for row in results["overhead"]}
    groups = sorted(fixed, key=lambda group: (group[1], group[0]))
    ceilings = results.get("ceilings", {})
    panels = 3 if any(ceilings.get(name) for name in IMPLEMENTATIONS) else 2
    drains = results.get("drain", [])
    figure, axes = plt.subplots(1, panels + bool(drains), figsize=(6 * (panels + 1), 4.8))
    labels = [f"{n} sub\n{rate:g}/s" for n, rate in groups]

    def trial(name: str, n: int, rate: float) -> dict[str, Any]:
        return next(
            t
            for t in results["trials"]
            if (t["implementation"], t["subscriptions"], t["target_rate"]) == (name, n, rate)
        )

    latency = axes[0]
    for offset, name in ((-WIDTH / 2, "raw"), (WIDTH / 2, "ours")):
        positions = [i + offset for i in range(len(groups))]
        p50 = [trial(name, n, rate)["p50_ms"] for n, rate in groups]
        p99 = [trial(name, n, rate)["p99_ms"] for n, rate in groups]
        latency.bar(positions, p99, WIDTH, color=COLOURS[name], alpha=0.35, label=f"{name} p99")
        latency.bar(positions, p50, WIDTH, color=COLOURS[name], label=f"{name} p50")
    _finish(latency, labels, "publish call to handler (ms)", "Fan-out latency, p50 and p99")

    cpu = axes[1]
    _bars(cpu, groups, lambda name, n, rate: trial(name, n, rate)["cpu_us_per_delivery"])
    _finish(cpu, labels, "subscriber CPU per delivery (µs)", "Cost of a delivery")

    if panels == 3:
        counts = sorted({int(n) for name in IMPLEMENTATIONS for n in ceilings.get(name, {})})
        # JSON turns the int keys into strings; a fresh result still has ints.
        _bars(
            axes[2],
            [(n, 0.0) for n in counts],
            lambda name, n, _: ceilings.get(name, {}).get(n, ceilings.get(name, {}).get(str(n))),
        )
        _finish(
            axes[2],
            [f"{n} subscription(s)" for n in counts],
            "highest sustained publish rate (msgs/s)",
            "Rate ceiling (0 lost, p99 < 1 s)",
        )

    if drains:
        _drain(axes[panels], drains)

    machine = results.get("machine", {})
    figure.suptitle(
        f"{machine.get('cpus', '?')} CPUs, {machine.get('cpu', '?')}; "
        f"{machine.get('pubsub_emulator', 'emulator')}; {results.get('date', '')}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _bars(
    axis: Any, groups: list[tuple[int, float]], value: Callable[[str, int, float], float | None]
) -> None:
    for offset, name in ((-WIDTH / 2, "raw"), (WIDTH / 2, "ours")):
        positions = [i + offset for i in range(len(groups))]
        heights = [value(name, n, rate) or 0.0 for n, rate in groups]
        bars = axis.bar(positions, heights, WIDTH, color=COLOURS[name], label=name)
        axis.bar_label(bars, fmt="%.0f", fontsize=8)


def _finish(axis: Any, labels: list[str], ylabel: str, title: str) -> None:
    axis.set_xticks(range(len(labels)), labels)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=8)


def _drain(axis: Any, drains: list[dict[str, Any]]) -> None:
    """The best drain rate of each consumer, with its CPU per message."""
    best: dict[str, dict[str, Any]] = {}
    for d in drains:
        if d["consumer"] not in best or d["rate"] > best[d["consumer"]]["rate"]:
            best[d["consumer"]] = d
    names = list(best)
    colours = [COLOURS["ours" if n.startswith("ours") else n] for n in names]
    bars = axis.bar(range(len(names)), [best[n]["rate"] for n in names], color=colours)
    axis.bar_label(
        bars,
        [f"{best[n]['rate']:.0f}/s\n{best[n]['cpu_us_per_message']:.0f} µs" for n in names],
        fontsize=8,
    )
    axis.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=7)
    axis.set_ylabel("messages a second (20,000 waiting)")
    axis.set_title("Backlog drain: rate, CPU per message")
