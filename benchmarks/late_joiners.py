"""Late joiners: how long a replica started after the updates takes to hold the newest
value of every setting, with replay (re-broadcast off) and with re-broadcast (no replay).

The config-broadcast example on a private emulator, as real processes: its publisher
(``examples.config_broadcast.source``, one call every ``--interval`` seconds, an edit
every fifth) runs until every setting was edited, then a replica starts. Converged: for
every setting, the replica has logged the newest version published before it listened.
The time counts from its ``listening`` line. Two ways:

- **replay**: ``REPLAY_SECONDS=600``, re-broadcast off: only changes are published, and
  the new replica's subscription is sought back (``common.replay``);
- **re-broadcast**: no replay, ``REBROADCAST_SECONDS`` half an interval: every call
  re-sends a setting's value, round-robin, as the example did before replay (a cycle of
  the three settings is three intervals).

    .venv/bin/python -m benchmarks.late_joiners [--trials 3] [--interval 1]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from benchmarks.trials import utc_seconds
from examples.config_broadcast.source import CHOICES, EDIT_EVERY
from tests.support.emulator import EmulatorUnavailable, emulator_host
from tests.support.environment import clean_env
from tests.support.logs import records
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

PUBLISHED = re.compile(r"published message_id=\S+ setting=(\S+) version=(\d+) ")
HELD = re.compile(r"^setting (\S+) = .* \(version (\d+), ")
MODES = {
    "replay": lambda interval: {"REPLAY_SECONDS": "600", "REBROADCAST_SECONDS": "0"},
    "re-broadcast": lambda interval: {"REBROADCAST_SECONDS": f"{interval / 2:g}"},
}


def newest(log: str, before: float) -> dict[str, int]:
    """The newest version of each setting the publisher published before ``before``."""
    found: dict[str, int] = {}
    for record in records(log):
        match = PUBLISHED.match(str(record.get("message", "")))
        if match and utc_seconds(record["time"]) < before:
            found[match[1]] = max(found.get(match[1], -1), int(match[2]))
    return found


def converged_at(log: str, wanted: dict[str, int]) -> float | None:
    """When the replica first held at least ``wanted`` of every setting; None: not yet."""
    held: dict[str, int] = {}
    for record in records(log):
        match = HELD.match(str(record.get("message", "")))
        if match:
            held[match[1]] = max(held.get(match[1], -1), int(match[2]))
            if all(held.get(name, -1) >= version for name, version in wanted.items()):
                return utc_seconds(record["time"])
    return None


def trial(host: str, folder: Path, mode: str, interval: float, n: int) -> tuple[float, int]:
    """Seconds from listening to converged, and the messages published meanwhile a minute."""
    topic = f"late-{uuid.uuid4().hex[:8]}"
    settings = {"PUBSUB_EMULATOR_HOST": host, "PUBSUB_TOPIC": topic, "LOG_FORMAT": "json"}
    settings |= MODES[mode](interval)
    publisher = ServiceProcess(
        "publisher",
        clean_env(
            **settings,
            PUBLISHER_SOURCE="examples.config_broadcast.source:setting_updates",
            PUBLISH_INTERVAL_SECONDS=f"{interval:g}",
            HEARTBEAT_FILE=str(folder / f"publisher-{n}.beat"),
        ),
        folder / f"publisher-{mode}-{n}.log",
    )
    replica: ServiceProcess | None = None
    try:
        # Every setting edited once at least: three edits, one every EDIT_EVERY calls.
        publisher.wait_for_event("published", sequence=EDIT_EVERY * len(CHOICES), timeout=120)
        replica = ServiceProcess(
            "subscriber",
            clean_env(
                **settings,
                REPLICA_ID=f"late-{n}",
                HANDLER="examples.config_broadcast.handler:remember_setting",
                HEARTBEAT_FILE=str(folder / f"replica-{n}.beat"),
            ),
            folder / f"replica-{mode}-{n}.log",
        )
        listening = utc_seconds(replica.wait_for_event("listening", timeout=60)["time"])
        wanted = newest(publisher.log(), listening)
        done = wait_for(
            lambda: converged_at(replica.log(), wanted) if replica else None,
            timeout=120,
            what=f"{mode}: the late replica converged",
            details=replica.details,
        )
        published = sum(
            1 for r in records(publisher.log()) if PUBLISHED.match(str(r.get("message", "")))
        )
        elapsed = utc_seconds(records(publisher.log())[-1]["time"]) - utc_seconds(
            records(publisher.log())[0]["time"]
        )
        return done - listening, round(published * 60 / max(elapsed, 1))
    finally:
        for process in (replica, publisher):
            if process is not None:
                process.stop()
                process.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between calls")
    args = parser.parse_args()
    try:
        with emulator_host() as host, tempfile.TemporaryDirectory() as tmp:
            print("| way | trials | seconds to converge (median, max) | published a minute |")
            print("|---|---|---|---|")
            for mode in MODES:
                runs = [trial(host, Path(tmp), mode, args.interval, n) for n in range(args.trials)]
                seconds = [s for s, _ in runs]
                print(
                    f"| {mode} | {len(runs)} | {statistics.median(seconds):.2f}, "
                    f"{max(seconds):.2f} | {statistics.median(r for _, r in runs):.0f} |"
                )
    except EmulatorUnavailable as exc:
        print(f"no emulator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
