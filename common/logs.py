"""Logging: one line per event, as text for people or JSON for Cloud Logging, never forged.

Text from a message (its body, its attributes, an error that quotes them) is not trusted.
Every formatted line has its control characters escaped, line breaks included, so a
message can neither start a log line of its own (log forging) nor send escape sequences
to an operator's terminal. One event is one line, a traceback included.

``LOG_FORMAT=json`` writes one JSON object per line, as Cloud Logging reads them from a
container's output: ``severity``, ``message``, ``time``, the ``logger``, and the fields a
call passes with ``extra=fields(...)`` (``event``, ``message_id``, ...) as fields of their
own, plus the process's context (``service``, ``replica``; see ``set_context``).
https://cloud.google.com/logging/docs/structured-logging

Twenty lines of formatter rather than a JSON-logging package: every image would carry the
package, and the format is fixed by Cloud Logging, not ours to grow.

A line per message is written in batches: a call with ``extra=batched(...)`` is kept in
memory until ``flush()`` (a fan-out replica calls it before each ack, so the line of an
acked message is always out) or the next line that is not batched (so the order holds).
Each write releases the GIL for a system call, and with handler threads waiting for it
every one costs a round of thread switches: batched, a line costs a fraction of what it
does alone (benchmarks/README.md, "Where the CPU goes").
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from typing import Any, TextIO

from common.messages import utc_second

LOG_FORMATS = ("text", "json")
# Control characters (C0, DEL, C1), Unicode's own line and paragraph separators, and the
# invisible formatting characters that can make a line read other than it is (bidi
# overrides and isolates, as in "Trojan Source", CVE-2021-42574; zero-width characters; the
# byte-order mark), each written as a Python-style escape: "\n" becomes backslash and n.
_INVISIBLE = (0x061C, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065))
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_ESCAPES.update(
    {
        code: f"\\u{code:04x}"
        for code in (0x2028, 0x2029, *_INVISIBLE, *range(0x2066, 0x206A), 0xFEFF)
    }
)
_NEEDS_ESCAPE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_ESCAPES)) + "]")
_CONTEXT: dict[str, str] = {}


def escape(text: str) -> str:
    """``text`` with every control character, line separator and invisible formatting
    character escaped."""
    # Most lines have none: a search is about a tenth of the cost of a translate.
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


# Batched lines kept at most, so that a burst without a flush stays small.
MAX_BATCHED_LINES = 1000
# User code's error text (a handler's, a task function's, a source's, a row mapper's) is
# cut to this many characters where it enters a line: an exception may quote a whole
# message body, and Cloud Logging splits an entry above 256 KB into pieces.
MAX_ERROR_CHARS = 1000


def capped(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text``, cut to ``limit`` characters with a note of how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def error_text(exc: BaseException, *, plain: tuple[type[BaseException], ...] = ()) -> str:
    """An error from user code as one log field: ``Type: text``, or its text alone for
    the ``plain`` types (a ``ValueError`` that says why a message is not one), capped at
    ``MAX_ERROR_CHARS``. An error whose ``str()`` itself raises is named by its class."""
    try:
        text = str(exc)
    except Exception:
        text = "(its text cannot be shown: str() failed)"
    if isinstance(exc, plain):
        return capped(text)
    return capped(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def fields(**values: object) -> dict[str, dict[str, object]]:
    """``extra=`` for a log call: fields that JSON lines carry as fields of their own,
    e.g. ``log.info("received message_id=%s", mid, extra=fields(event="received",
    message_id=mid))``. Text lines show the message only."""
    return {"fields": values}


def batched(**values: object) -> dict[str, object]:
    """``extra=`` like ``fields``, for a line that may wait for ``flush()``."""
    return {"fields": values, "batched": True}


def flush() -> None:
    """Write the batched lines now."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def set_context(**values: str) -> None:
    """Fields every JSON line of this process carries from now on (``replica=...``)."""
    _CONTEXT.update(values)


class TextFormatter(logging.Formatter):
    """``2026-11-22T13:57:05.837Z INFO    logger: message``, in UTC, escaped."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        return escape(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with Cloud Logging's names for severity and message."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        fields = getattr(record, "fields", {})
        line: dict[str, Any] = {
            "severity": record.levelname,
            # Escaped as in text: a viewer that shows the decoded message (``jq -r``, a
            # log console) must not show a forged line or run an escape sequence.
            "message": escape(message),
            "time": f"{utc_second(int(record.created))}.{int(record.msecs):03d}Z",
            "logger": record.name,
            **_CONTEXT,
            **{key: escape(v) if isinstance(v, str) else v for key, v in fields.items()},
        }
        # json.dumps escapes every control character; ensure_ascii the rest, and a value
        # json cannot encode is written as its str().
        return json.dumps(line, default=str)


class Output(logging.StreamHandler[TextIO]):
    """A stream handler that formats outside its lock and writes batched lines together.

    ``logging.Handler.handle`` holds the handler's lock while it formats and writes, so
    handler threads logging at once queue up behind each other's formatting.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's own rule: a bad record never takes a service down
            self.handleError(record)
            return
        with self._pending_lock:
            self._pending.append(line)
            if getattr(record, "batched", False) and len(self._pending) < MAX_BATCHED_LINES:
                return
            self._write()

    def flush(self) -> None:
        with self._pending_lock:
            self._write()

    def _write(self) -> None:
        try:
            if self._pending:
                self.stream.write("".join(self._pending))
                self._pending.clear()
            self.stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: nothing left to tell
            self._pending.clear()


def configure(level: str, log_format: str = "text", stream: TextIO | None = None) -> None:
    """Send every logger's lines to ``stream`` (stdout by default) at ``level``, formatted
    by ``log_format``."""
    handler = Output(stream or sys.stdout)
    # Neither format shows the thread or the process: the logging HOWTO's "Optimization"
    # settings leave them out of every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Nor where a call was made from: unset, logging skips walking the stack for it.
    logging._srcfile = None  # the HOWTO's documented switch
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The client libraries' INFO lines are about their own plumbing; keep them out of
    # the stack's log unless asked for with LOG_LEVEL=DEBUG.
    if level != "DEBUG":
        for noisy in ("google", "grpc", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
