"""The sink's database calls, each on a thread of its own, with a bound on the client side.

PostgreSQL's ``statement_timeout`` is the server's: a server that stops answering (its
process stopped, its machine frozen) answers no timeout either, and its kernel still
acknowledges TCP, so keepalives notice nothing. A call made on the sink's loop would then
block it for as long as the server is gone: its heartbeat, its batches, its log
(benchmarks/README.md, "Measured behaviour behind the code").

So the loop hands each call to a worker thread and polls it. ``waited`` tells it how long
the call has run, to say "not answering"; past ``ABANDON_SECONDS`` the call is given up:
the next one gets a fresh connection and worker thread, and the abandoned connection is
closed whenever its call returns. Every write is idempotent (keyed by message ID), so a
batch that the abandoned call commits after all, and the next call writes again, is
stored once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from opentelemetry.trace import Span

from common import tracing
from subscriber.sink.rows import Rows
from subscriber.sink.store import Store, Written

# A call running this long is given up: twice the server's own statement timeout
# (store.STATEMENT_TIMEOUT_MS), which an answering server would have enforced by then.
ABANDON_SECONDS = 60.0


class Writer:
    """At most one database call at a time, on a worker thread: ``start``, then ``poll``.
    ``new_store`` makes the store (a connection) the calls use."""

    def __init__(
        self,
        new_store: Callable[[], Store],
        subscription_path: str,
        on_done: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_store = new_store  # a fresh connection's worth, after one was abandoned
        self._subscription_path = subscription_path  # names the "store" spans
        self._on_done = on_done  # wakes the sink's loop when a call returns
        self._clock = clock
        self._store = new_store()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="database")
        self._call: Future[Written] | None = None
        self._started = 0.0

    @property
    def busy(self) -> bool:
        return self._call is not None

    def waited(self) -> float:
        """Seconds the call in progress has run; 0 with none."""
        return self._clock() - self._started if self._call is not None else 0.0

    def start(self, rows: Rows | None, spans: Sequence[Span | None] = ()) -> None:
        """Write ``rows`` in one transaction; or, with None, connect (and migrate) only.
        With tracing on, the write is a "store" span linked to the messages' ``spans``."""
        store = self._store
        if rows:
            call = self._pool.submit(self._write, store, rows, spans)
        else:
            call = self._pool.submit(connect, store)
        call.add_done_callback(lambda _: self._on_done())
        self._call, self._started = call, self._clock()

    def poll(self) -> Written | None:
        """The call's result once it has returned, None while it runs. Raises the
        ``psycopg.Error`` it failed with (the connection is then dropped), or an
        ``OperationalError`` when it is given up after ``ABANDON_SECONDS``."""
        call = self._call
        if call is None:
            raise RuntimeError("no database call in progress")
        if not call.done():
            if self.waited() < ABANDON_SECONDS:
                return None
            self._abandon(call)
            raise psycopg.OperationalError(f"no answer in {ABANDON_SECONDS:g}s; call given up")
        self._call = None
        try:
            return call.result()
        except psycopg.Error:
            self._store.close()
            raise

    def _write(self, store: Store, rows: Rows, spans: Sequence[Span | None]) -> Written:
        count = {tracing.MESSAGE_COUNT: len(rows.mapped) + len(rows.rejects)}
        with tracing.step("store", self._subscription_path, count, links=spans):
            return store.write(rows)

    def _abandon(self, call: Future[Written]) -> None:
        stuck = self._store
        call.add_done_callback(lambda _: stuck.close())
        self._pool.shutdown(wait=False)
        self._store = self._new_store()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="database")
        self._call = None

    def close(self) -> None:
        """Drop the connection; a call still running is left to finish on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._call is None:
            self._store.close()


def connect(store: Store) -> Written:
    store.connect()
    return Written()
