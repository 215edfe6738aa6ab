"""The peers ours is measured against: the bare Python client and the Node.js client.

Each runs as a process of its own that subscribes to one subscription, records
"sequence handled_time" for every message it acks, and stops on SIGTERM:

- ``raw``: ``raw_client.py``, the google-cloud-pubsub client's StreamingPull (one
  ``subscribe()``) with a callback that records and acks: the bare client as issue 13
  defines it;
- ``node``: ``node/consumer.js``, the Node.js client (@google-cloud/pubsub 5.3.1, from
  ``node/package-lock.json``) with its defaults: 5 streams, 1,000 messages in hand.

``install_node()`` runs ``npm ci`` once, so the Node.js client comes from the project's
own lock file; a machine without Node.js skips that peer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

RAW_CLIENT = ROOT / "benchmarks" / "raw_client.py"
NODE = ROOT / "benchmarks" / "node"
PEERS = ("raw", "node")


def install_node() -> bool:
    """``npm ci`` in benchmarks/node unless done; False (with a reason printed) if Node.js
    or npm is missing or the install fails."""
    if (NODE / "node_modules" / "@google-cloud" / "pubsub").exists():
        return True
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("Node.js or npm missing: the Node.js peer is skipped")
        return False
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=NODE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        print(f"npm ci failed, the Node.js peer is skipped:\n{result.stderr[-2000:]}")
        return False
    return True


def command(peer: str, subscription: str, out: Path) -> list[str]:
    if peer == "node":
        return ["node", str(NODE / "consumer.js"), subscription, str(out)]
    return [sys.executable, str(RAW_CLIENT), "subscribe", subscription, str(out)]


def start(peer: str, env: dict[str, str], subscription: str, out: Path) -> ServiceProcess:
    """A peer subscribed to ``subscription``, once it says it listens (a line of its own:
    the peers are not our services, and log no events)."""
    process = ServiceProcess(
        peer, env, out.with_suffix(".log"), args=command(peer, subscription, out)
    )

    def listening() -> bool:
        if process.process.poll() is not None:
            raise AssertionError(f"the {peer} peer exited\n{process.details()}")
        return "listening" in process.log().splitlines()

    wait_for(listening, timeout=60, what=f"the {peer} peer listening", details=process.details)
    return process


def read_rows(path: Path) -> list[tuple[int, float]]:
    """(sequence, handled time) per delivery, duplicates included."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        sequence, when = line.split()
        rows.append((int(sequence), float(when)))
    return rows
