"""User code with the mistakes users make (issue 21), one callable per seam, loaded by the
services through their settings as ``seam_code`` is. Each makes the mistake its body (or
sequence number) names, and does the demo's job for anything else, so that the tests
show good messages handled before and after."""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from decimal import Decimal

from common.seams import Delivery, Incoming, Outgoing, Row
from publisher.sources import channel_message
from subscriber.fanout.handler import log_channel
from subscriber.sink.rows import reading_row

# Bodies naming a BaseException, and what user code raises for each.
BASE_EXCEPTIONS: dict[bytes, type[BaseException]] = {
    b"exit": SystemExit,  # argparse's, on a bad argument
    b"interrupt": KeyboardInterrupt,
    b"cancel": asyncio.CancelledError,  # asyncio.run of cancelled work
}
# What the sequence numbers of ``careless_source`` do.
SOURCE_MISTAKES = {
    2: "sys.exit(0)",
    3: "KeyboardInterrupt",
    4: "CancelledError",
    5: "a coroutine",
    6: "9,999,990 bytes",
    7: "an empty message",
}
ALMOST_10_MB = 9_999_990


async def _work_later() -> None:
    """What an ``async def`` under a sync decorator would have done, had it been awaited."""
    raise AssertionError("never awaited, never run")


def _misbehave(body: bytes) -> object:
    """Raise what ``body`` names; a coroutine for ``async``; None for anything else."""
    if body in BASE_EXCEPTIONS:
        if body == b"exit":
            sys.exit(2)
        raise BASE_EXCEPTIONS[body]
    if body == b"async":
        return _work_later()
    return None


def careless_handler(message: Delivery) -> None:
    """A fan-out handler: the demo's, but for the mistakes its body names."""
    returned = _misbehave(message.data)
    if returned is not None:
        return returned  # type: ignore[return-value]  # the mistake: a coroutine
    log_channel(message)


def careless_task(message: Delivery) -> str:
    """A task: done, but for the mistakes its body names."""
    returned = _misbehave(message.data)
    if returned is not None:
        return returned  # type: ignore[return-value]
    return f"done {message.data.decode()}"


def careless_row(message: Incoming) -> Row:
    """A row mapper: the demo's readings, but for the mistakes its body names, and two
    rows the driver cannot send: ``decimal`` (a Decimal inside a dict for the jsonb
    column) and ``set`` (a set as a column value)."""
    returned = _misbehave(message.data)
    if returned is not None:
        return returned  # type: ignore[return-value]
    if message.data in (b"decimal", b"set"):
        wrong = {"price": Decimal("9.99")} if message.data == b"decimal" else {"a", "b"}
        return Row("readings", {"device": "kitchen", "attributes": wrong})
    return reading_row(message)


def careless_source(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing | None:
    """A source: the demo's channel messages, but for the mistake its sequence number
    names (``SOURCE_MISTAKES``)."""
    if sequence == 2:
        sys.exit(0)
    if sequence == 3:
        raise KeyboardInterrupt
    if sequence == 4:
        raise asyncio.CancelledError
    if sequence == 5:
        return _work_later()  # type: ignore[return-value]
    if sequence == 6:
        return Outgoing(b"x" * ALMOST_10_MB, {}, "almost 10 MB", sequence)
    if sequence == 7:
        return Outgoing(b"", {}, "empty", sequence)
    return channel_message(rng, sequence, publisher_id)


def _poll_forever() -> None:
    while True:
        time.sleep(0.1)


_poller: threading.Thread | None = None


def polling_source(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing | None:
    """A source with a background poller of its own, as the ``Source`` docstring invites:
    a thread that never ends and is not a daemon."""
    global _poller  # noqa: PLW0603 - the module's one poller, as a user's would be
    if _poller is None:
        _poller = threading.Thread(target=_poll_forever, name="user-poller")
        _poller.start()
    return channel_message(rng, sequence, publisher_id)
