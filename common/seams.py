"""The seams: where your own code goes, one plain callable per mode, named by a setting.

=========== ==================== ============== ================================
mode        setting              protocol       called with -> returns
=========== ==================== ============== ================================
publisher   ``PUBLISHER_SOURCE`` ``Source``     (rng, sequence, publisher ID) ->
                                                ``Outgoing`` or None
fan-out     ``HANDLER``          ``Handler``    ``Delivery`` -> None
work queue  ``TASK_FUNCTION``    ``TaskFunction`` ``Delivery`` -> a result line or None
sink        ``SINK_ROW_MAPPER``  ``RowMapper``  ``Incoming`` -> ``Row``
=========== ==================== ============== ================================

Each setting is an import path, ``package.module:function``, imported once at start-up
(``common.loading``); a path that does not import, name a callable or take the right
arguments stops the service with exit status 2 and a message naming the setting. The
default of each is the demo's own function, which is just the built-in value.

Everything around the call stays the project's: subscriptions, leases, flow control,
deadlines, retries, dead letters, receipts, the database's outages, shutdown, health
and logs. Your callable sees one message at a time and says, by returning or raising,
what became of it. Whatever it raises, ``BaseException`` included (a ``sys.exit`` from
argparse, ``KeyboardInterrupt``, ``asyncio.CancelledError``), is that message's failure,
never the service's; so is a return that is awaitable (``not_awaitable``). This module
is in every image (it is in ``common/``), so one package of yours can hold the code of
every side; nothing here does I/O.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from common.receive import Received


@dataclass(frozen=True)
class Outgoing:
    """One message for the publisher to send."""

    # The body, up to 10 MB (Pub/Sub's limit; the emulator's client reads up to 4 MiB).
    data: bytes
    # Up to 100 attributes, str to str: what consumers may filter or route on.
    attributes: dict[str, str]
    # For the log line after the message ID, e.g. "channel=22 Cartoon"; one line.
    description: str
    # The ``sequence`` the source was called with, for the log line.
    sequence: int


class Source(Protocol):
    """The publisher's seam (``PUBLISHER_SOURCE``): the next message to publish.

    Called once every ``PUBLISH_INTERVAL_SECONDS`` with the publisher's own random
    generator (seeded by the OS: use it, not ``random``, for reproducible tests), the
    call's sequence number (1, 2, ... from each start of the process) and the
    publisher's ID (its host name). Returns the message, or None for nothing this time
    (a source polling something that had nothing new).

    Raising: nothing is published for that sequence number; the error is logged and
    counted as a failed publish, and the publisher reports itself not ready until a
    publish succeeds. It does not stop: the next interval calls the source again. A
    return that is not an ``Outgoing`` of bytes, str attributes and a str description
    counts the same, as does a message Pub/Sub would refuse (no data and no attributes,
    over 100 attributes, a key over 256 bytes or a value over 1024, over 10 MB in all).

    Threads: one the source starts (a poller) does not hold the publisher's exit: on
    SIGTERM it leaves after its own clean-up, whatever still runs.

    Time: it runs on the publisher's only loop thread, between heartbeats; it must
    return in well under a second (a slow source delays the schedule, and a heartbeat
    older than 10 s fails the health check). Thread safety: never called concurrently.
    """

    def __call__(
        self, rng: random.Random, sequence: int, publisher_id: str, /
    ) -> Outgoing | None: ...


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message to a fan-out replica or a work-queue worker."""

    message_id: str
    # The body as published: untrusted bytes, up to 10 MB.
    data: bytes
    attributes: Mapping[str, str]
    publish_time: datetime
    # 1 on the first delivery; None where the subscription has no dead-letter policy.
    delivery_attempt: int | None

    @classmethod
    def of(cls, received: Received) -> Delivery:
        attributes = received.attributes
        return cls(
            received.message_id,
            received.data,
            dict(attributes) if attributes else {},  # most messages have none
            received.publish_time,
            received.delivery_attempt,
        )


class Handler(Protocol):
    """The fan-out seam (``HANDLER``): what every replica does with every message.

    Returning means the message was handled: the replica acks it (and reports it to
    the live view). Raising means it was not: the replica logs ``rejected
    message_id=...`` with the error (a ``ValueError``'s text alone, any other
    exception's class too) and nacks it; Pub/Sub redelivers it to this replica after
    the retry backoff (``RETRY_MIN_BACKOFF_SECONDS`` up to ``RETRY_MAX_...``), and
    after ``MAX_DELIVERY_ATTEMPTS`` moves it to the dead-letter topic. Delivery is
    at least once, so handling the same message twice must do no harm.

    Time: the replica renews the message's lease while the handler runs, up to
    ``MAX_LEASE_SECONDS`` (an hour); past that the message is let go and redelivered, and
    a handler that never returns keeps its thread (Python cannot kill one): when every
    one of ``HANDLER_THREADS`` is held so, the replica's liveness check fails and the
    orchestrator restarts it. Raising anything, ``SystemExit`` included, rejects the
    message; returning an awaitable does too (the work would not be done). On SIGTERM
    handlers get 1.5 s to finish: a message still in hand then is handed back, and the
    replica's subscription is deleted with it.

    Thread safety: called on ``HANDLER_THREADS`` threads at once (4), in the replica's
    process: state shared between calls (a dict of the latest values, a client)
    needs a lock or must be thread-safe itself.
    """

    def __call__(self, message: Delivery, /) -> None: ...


class TaskFunction(Protocol):
    """The work-queue seam (``TASK_FUNCTION``): one task, run in a worker process.

    Each message goes to one worker of the pool, which runs the function in one of
    its ``WORKER_PROCESSES`` processes. Returning means done: the result (one line,
    or None) is logged and the message acked. Raising means failed: the worker logs
    the exception's class and text and nacks the message, which Pub/Sub redelivers
    (to any worker) after the retry backoff and after ``MAX_DELIVERY_ATTEMPTS`` moves
    to the dead-letter topic. A body the function cannot use is rejected the same
    way: raise. Delivery is at least once (a worker killed mid-task, a lease that
    lapsed), so a task must be safe to run twice.

    Time: ``TASK_DEADLINE_SECONDS`` (60), from when the task is handed to a process
    that has started and imported your module (its imports do not count). A task still
    running then is killed with its process (SIGKILL: no ``finally``, no ``atexit``)
    and nacked; a fresh process takes its place. The lease is renewed meanwhile, so a
    long task is never given to a second worker. On SIGTERM, tasks in hand get
    ``DRAIN_SECONDS`` (10), then are killed and nacked. Give any call out of the
    process (HTTP, a database) a timeout shorter than the deadline, so that a slow peer
    fails the task with a reason rather than hanging it.

    Process safety: each worker process runs one task at a time, so the function is
    never called concurrently within a process, and module-level state (a client, a
    cache) lives as long as the process: many tasks, until one is killed. It is
    imported in each process (started with "spawn", not forked), and once more in the
    main process at start-up to check the setting. The message and the result cross a
    pipe: keep the result to a line.
    """

    def __call__(self, message: Delivery, /) -> str | None: ...


@dataclass(frozen=True)
class Incoming:
    """One message as the sink pulled it."""

    message_id: str
    # The body as published: untrusted bytes, up to 10 MB.
    data: bytes
    attributes: dict[str, str]
    publish_time: datetime
    # When the sink pulled it (UTC); stored rows may lag it through a database outage.
    received_at: datetime


@dataclass(frozen=True)
class Row:
    """What a message becomes in the sink's database: one row of one table."""

    # The table, optionally schema-qualified ("shop.orders"); quoted as identifiers.
    # It must have a ``message_id text`` column with a unique constraint (primary key):
    # the sink fills it from the message and inserts ``ON CONFLICT (message_id) DO
    # NOTHING``, which makes a redelivered message add no second row.
    table: str
    # Column name -> value, ``message_id`` excepted. Values: None, bool, int, float,
    # Decimal, str, bytes, date, datetime (aware: timestamptz) and, for json/jsonb
    # columns, dict or list. PostgreSQL converts a str to the column's type.
    values: Mapping[str, Any]
    # For the "stored message_id=..." log line; one line. Empty: "table=<table>".
    description: str = ""


class RowMapper(Protocol):
    """The sink's seam (``SINK_ROW_MAPPER``): how a message becomes a row.

    Called on the sink's main thread for each message of a batch, before the batch is
    written in one transaction. Returning a row stores it; the whole batch is acked
    after the commit. Raising (any exception, typically ``ValueError``) means the
    message is not one: it is stored in the ``rejects`` table with the reason and its
    raw body, and acked, never retried. A row the database refuses (a constraint, a
    value of the wrong type) or the driver cannot send (a ``set``, a ``Decimal`` inside
    a dict for a jsonb column) goes to ``rejects`` the same way. The sink has no
    dead-letter topic: nothing is nacked (docs/durable-sink.md).

    So a mapper with a bug fills ``rejects`` rather than stalling the sink; what is
    there can be published again from its ``data`` column. A table or column that
    does not exist is different: the database refuses the statement itself, and the
    sink holds the batch and retries, as through an outage, until it is fixed.

    The tables are yours: ``SINK_MIGRATIONS`` names a folder of numbered ``.sql``
    files (``0001_orders.sql``, ...) that the sink applies in order, once each, after
    its own. Time: no limit, but it runs on the main thread, which beats the
    heartbeat (10 s without a beat fails the health check): keep it to a decode and a
    few checks, no I/O. It may be called more than once for a message (again for each
    attempt at a batch while the database is down): same message, same row. Thread
    safety: called from one thread only.
    """

    def __call__(self, message: Incoming, /) -> Row: ...


T = TypeVar("T")


def not_awaitable(result: T, who: str) -> T:
    """``result``, unless it is awaitable: then ``TypeError`` naming ``who`` ("the handler").

    The loader refuses an ``async def``, but a plain function may still return a coroutine
    (an ``async def`` under a sync decorator): none of its work is done, so taking that
    return for success would ack the message undone. A coroutine is closed first, so that
    Python does not warn later, from another place, that it was never awaited.
    """
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError(
            f"{who} returned an awaitable ({type(result).__name__}), which does its work only "
            "when awaited: the seams call plain functions that do their work before returning"
        )
    return result
