"""The container's health check: ``/healthz`` answers 200 once the feeds are streaming.

Run as ``python -m dashboard.health``: exit status 0 when healthy, 1 otherwise. The slim
image has no curl; the standard library does.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("DASHBOARD_LISTEN_PORT", "").strip() or "8080"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"unhealthy: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
