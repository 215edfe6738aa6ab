"""User code for the seams' integration tests, loaded by the services through their
settings (``HANDLER=tests.integration.seam_code:slow_handler``, ...), as a user's
package would be: the services run with the project's root as working directory. Its lines
carry events, as the services' own do, for the tests to wait on."""

from __future__ import annotations

import logging
import random
import threading
import time

from common.logs import fields
from common.seams import Delivery, Incoming, Outgoing, Row
from subscriber.fanout.handler import log_channel

log = logging.getLogger(__name__)


def slow_handler(message: Delivery) -> None:
    """Sleeps as many seconds as the body says, logging before and after."""
    mid = message.message_id
    log.info("started message_id=%s", mid, extra=fields(event="started", message_id=mid))
    time.sleep(float(message.data))
    log.info("finished message_id=%s", mid, extra=fields(event="finished", message_id=mid))


def hanging_handler(message: Delivery) -> None:
    """Never returns for a body of ``hang``, as a handler stuck on a dead peer would; the
    demo's handler for anything else."""
    if message.data == b"hang":
        threading.Event().wait()
    log_channel(message)


def sleep_task(message: Delivery) -> str:
    """A task: sleeps as many seconds as the body says; ``ValueError`` for anything else."""
    seconds = float(message.data)  # ValueError: the work queue's failure, a nack
    mid = message.message_id
    log.info(
        "sleeping %gs for message_id=%s",
        seconds,
        mid,
        extra=fields(event="sleeping", message_id=mid),
    )
    time.sleep(seconds)
    return f"slept {seconds:g}s"


def flaky_source(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing | None:
    """Raises on the 2nd call, has nothing on the 3rd, else a message."""
    if sequence == 2:
        raise RuntimeError("the upstream feed is down")
    if sequence == 3:
        return None
    return Outgoing(f"{sequence}".encode(), {}, f"number={sequence}", sequence)


def missing_table_row(message: Incoming) -> Row:
    """A row for a table no migration created: a deployment's mistake, not a bad message."""
    return Row("no_such_table", {"body": message.data.decode(errors="replace")})
