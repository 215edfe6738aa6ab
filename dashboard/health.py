"""The container's health checks, over HTTP from inside: ready, or with ``--live`` alive.

``python -m dashboard.health`` asks ``/healthz``: 200 while the dashboard follows Pub/Sub
(the image's HEALTHCHECK). ``--live`` asks ``/livez``: 200 while it serves and its feeds'
loop turns, whether or not Pub/Sub answers (a Kubernetes liveness probe: a restart cannot
bring Pub/Sub back). Exit status 0 when healthy, 1 otherwise. The slim image has no curl;
the standard library does.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main(argv: list[str]) -> int:
    port = os.environ.get("DASHBOARD_LISTEN_PORT", "").strip() or "8080"
    path = "/livez" if "--live" in argv else "/healthz"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"unhealthy: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
