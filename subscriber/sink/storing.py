"""The sink's messages in hand and their way into the database: one batch at a time.

The pull thread adds each message (``add``); the sink's main thread calls ``attempt``
whenever it wakes: it starts writing what is in hand (through ``writer``'s thread), or
sees how that write is doing, and acks the batch once it is committed. While the
database is unavailable the batch is kept, retried with backoff (``common.outage``).
"""

from __future__ import annotations

import logging
import re
import threading
import time

import psycopg

from common import metrics
from common.config import ConfigError
from common.logs import fields
from common.outage import Outage
from common.receive import Received
from subscriber.sink.batch import Held, finish, held, report
from subscriber.sink.config import SinkConfig
from subscriber.sink.errors import describe_error
from subscriber.sink.rows import Rows, split
from subscriber.sink.store import Store
from subscriber.sink.writer import Writer

log = logging.getLogger(__name__)

# A database call running this long is reported: one line, and not ready (sink.writer).
ANSWER_SECONDS = 10.0
# A login refused: a wrong password, no such role, one that may not log in. libpq gives
# no SQLSTATE for an error while connecting, only the server's message (in English by
# default, as PostgreSQL's lc_messages is in the official image).
REFUSED_LOGIN = re.compile(r"authentication failed|role \S+ does not exist|not permitted to log in")


def refused_login(exc: psycopg.Error) -> bool:
    return exc.sqlstate in ("28P01", "28000") or bool(REFUSED_LOGIN.search(str(exc)))


class Storing:
    """What the sink holds for ``path``; ``wake`` is set when there is news."""

    def __init__(self, config: SinkConfig, path: str, wake: threading.Event) -> None:
        self._config = config
        self._path = path
        self._wake = wake
        self._writer = Writer(
            lambda: Store(config.database, config.migrations), path, on_done=wake.set
        )
        self._lock = threading.Lock()
        self.held: list[Held] = []  # appended by the pull thread
        self._batch: list[Held] = []  # what the database call in progress writes
        self._rows = Rows([], [])
        self.connected = False
        self._outage = Outage("database", retry_max_seconds=config.retry_max_seconds)
        self.stored = self.rejected = self.already_stored = 0
        self.metrics = metrics.sink(path, self, self._outage)
        self._started = 0.0  # when the write in progress began (monotonic)

    def add(self, received: Received) -> None:
        """The receive callback, on the pull thread."""
        entry = held(received, self._path)
        with self._lock:
            self.held.append(entry)
        self._wake.set()

    def wake_at(self, now: float) -> float:
        """When the main thread should look again, at the latest (monotonic)."""
        if self._writer.busy:
            return now + ANSWER_SECONDS
        if self.held or not self.connected:
            return self._outage.next_attempt
        return float("inf")

    def not_ready(self) -> str:
        if self._outage.down:
            return f"database unavailable, holding {len(self.held)} messages"
        return "" if self.connected else "not connected to the database yet"

    def attempt(self) -> bool:
        """Start storing what is in hand (or just connecting) when due, or see how the
        call in progress is doing; True once a batch is committed and acked."""
        if not self._writer.busy:
            due = self.held or not self.connected
            if not due or time.monotonic() < self._outage.next_attempt:
                return False
            with self._lock:
                self._batch = list(self.held)
            self._rows = split([entry.message for entry in self._batch], self._config.row_mapper)
            spans = [entry.span for entry in self._batch]
            self._writer.start(self._rows if self._batch else None, spans)
            self._started = time.monotonic()
        try:
            written = self._writer.poll()
        except psycopg.Error as exc:
            if refused_login(exc):  # a setting to fix, not an outage to wait out
                user = self._config.database.user
                raise ConfigError(
                    f"PostgreSQL refused the login of {user} (POSTGRES_USER, "
                    f"POSTGRES_PASSWORD_FILE, POSTGRES_MIGRATION_*): {describe_error(exc)}"
                ) from None
            # Hold what is in hand: flow control pulls nothing more once it is full.
            self._outage.failed(describe_error(exc), f"holding {len(self.held)} messages")
            return False
        if written is None:
            waited = self._writer.waited()
            if waited >= ANSWER_SECONDS and not self._outage.down:
                self._outage.failed(f"no answer for {waited:.0f}s")
            return False
        if not self.connected:
            self.connected = True
            database = self._config.database.describe()
            log.info("connected to PostgreSQL at %s", database, extra=fields(event="connected"))
        self._outage.succeeded(f"stored {len(self._batch)} messages")
        counts = report(self._rows, written)
        self.stored += counts["stored"]
        self.rejected += counts["rejected"]
        self.already_stored += counts["already stored"]
        if self._batch:
            seconds = time.monotonic() - self._started
            self.metrics.committed(len(self._batch), seconds, counts["rejected"])
        for entry in self._batch:
            entry.received.ack()
        finish(self._batch, "ack")
        with self._lock:
            del self.held[: len(self._batch)]
        self._batch = []
        return True

    def next_try(self) -> float:
        """When a retry is due (monotonic); 0 while a call runs."""
        return self._outage.next_attempt if not self._writer.busy else 0.0

    def hand_back(self) -> None:
        """On the way out: nack what was not stored; another sink takes it."""
        if self.held:
            finish(self.held, "nack")
            log.warning(
                "handing back %d message(s) not stored: another sink takes them",
                len(self.held),
                extra=fields(event="handed back", count=len(self.held)),
            )
            for entry in self.held:
                entry.received.nack()

    def close(self) -> None:
        self._writer.close()
