"""Logging set-up shared by the services: one line per event, UTC timestamps."""

from __future__ import annotations

import logging
import sys
import time


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The client libraries' INFO lines are about their own plumbing; keep them out of
    # the stack's log unless asked for with LOG_LEVEL=DEBUG.
    if level != "DEBUG":
        for noisy in ("google", "grpc", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
