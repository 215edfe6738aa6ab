"""Log lines: one per event, text or JSON, and no text from a message can forge one."""

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from common import logs

HOSTILE = (
    "23 YoYo TV\n2026-11-22T13:57:10.891Z INFO    subscriber: received message_id=999\x1b[2J\u2028"
    "\u202eVT oYoY"
)
# What must never reach a reader: control characters, line separators, and the invisible
# characters that make a line read other than it is (bidi overrides, zero-width, BOM).
UNSEEN = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    logging.basicConfig(force=True)


def emit(stream: io.StringIO, log_format: str) -> list[str]:
    logs.configure("INFO", log_format)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("subscriber.fanout.handler")
    log.info(
        "received message_id=%s channel=%s",
        "42",
        HOSTILE,
        extra=logs.fields(event="received", message_id="42"),
    )
    try:
        raise ValueError(f"cannot handle {HOSTILE}")
    except ValueError:
        log.exception("unexpected error")
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("log_format", logs.LOG_FORMATS)
def test_message_text_cannot_start_a_line_or_reach_the_terminal(
    output: io.StringIO, log_format: str
) -> None:
    lines = emit(output, log_format)
    assert len(lines) == 2, "one line per event, the traceback's included"
    for line in lines:
        assert not UNSEEN.search(line)
        if log_format == "json":  # and not in what a viewer shows of the decoded message
            assert not UNSEEN.search(json.loads(line)["message"])
    assert "message_id=999" not in lines[0].split("channel=")[0]


def test_text_lines_keep_their_shape(output: io.StringIO) -> None:
    received, error = emit(output, "text")
    assert received.startswith(
        received[:24] + " INFO    subscriber.fanout.handler: received message_id=42 channel="
    )
    assert received.endswith("message_id=999\\x1b[2J\\u2028\\u202eVT oYoY")
    assert "23 YoYo TV\\n2026" in received
    assert error.split(" ", 2)[1] == "ERROR"
    assert "\\nTraceback (most recent call last):\\n" in error


def test_json_lines_carry_severity_message_and_fields(output: io.StringIO) -> None:
    logs.set_context(service="subscriber", replica="host-1")
    received, error = (json.loads(line) for line in emit(output, "json"))
    assert received["severity"] == "INFO"
    assert received["message"] == f"received message_id=42 channel={logs.escape(HOSTILE)}"
    assert received["logger"] == "subscriber.fanout.handler"
    assert received["time"].endswith("Z")
    assert (received["event"], received["message_id"]) == ("received", "42")
    assert (received["service"], received["replica"]) == ("subscriber", "host-1")
    assert error["severity"] == "ERROR"
    assert "Traceback" in error["message"]


def test_escape() -> None:
    assert logs.escape("a\r\nb\tc\x00\x7f\x9f\u2029") == "a\\r\\nb\\tc\\x00\\x7f\\x9f\\u2029"
    assert logs.escape("°C YoYo TV ü") == "°C YoYo TV ü"
    bidi = "\u202e\u2066\u2069\u200b\u200f\ufeff"
    assert logs.escape(bidi) == "\\u202e\\u2066\\u2069\\u200b\\u200f\\ufeff"


def test_batched_lines_wait_for_a_flush_or_the_next_plain_line(output: io.StringIO) -> None:
    logs.configure("INFO", "text")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    log = logging.getLogger("subscriber.fanout.handler")
    log.info("received message_id=%s", "1", extra=logs.batched(event="received", message_id="1"))
    log.info("received message_id=%s", "2", extra=logs.batched(event="received", message_id="2"))
    assert output.getvalue() == ""
    logs.flush()
    assert [line.rsplit(" ", 1)[-1] for line in output.getvalue().splitlines()] == [
        "message_id=1",
        "message_id=2",
    ]
    log.info("received message_id=%s", "3", extra=logs.batched(event="received", message_id="3"))
    log.warning("rejected message_id=4")
    # The plain line takes the batched one with it, in order.
    assert [line.rsplit(" ", 1)[-1] for line in output.getvalue().splitlines()][2:] == [
        "message_id=3",
        "message_id=4",
    ]


def test_a_burst_of_batched_lines_is_written_without_waiting(output: io.StringIO) -> None:
    logs.configure("INFO", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    log = logging.getLogger("subscriber.fanout.handler")
    for number in range(logs.MAX_BATCHED_LINES):
        log.info("received message_id=%d", number, extra=logs.batched(message_id=str(number)))
    lines = output.getvalue().splitlines()
    assert len(lines) == logs.MAX_BATCHED_LINES
    assert json.loads(lines[-1])["message_id"] == str(logs.MAX_BATCHED_LINES - 1)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_user_code_errors_are_capped_where_they_enter_a_line() -> None:
    huge = ValueError("x" * 300_000)
    text = logs.error_text(huge)
    assert text.startswith("ValueError: xxx")
    assert len(text) < logs.MAX_ERROR_CHARS + 40
    more = 300_000 + len("ValueError: ") - logs.MAX_ERROR_CHARS
    assert text.endswith(f"... ({more:,} more characters)")
    # A ValueError says why a message is not one: its text alone, where the caller says so.
    assert logs.error_text(ValueError("not JSON"), plain=(ValueError,)) == "not JSON"
    assert logs.error_text(KeyError("k")) == "KeyError: 'k'"
    # An error whose text cannot be had is named by its class, not raised again.
    assert logs.error_text(Unprintable()).startswith("Unprintable: (its text cannot be shown")
    assert logs.capped("short") == "short"


def test_a_capped_error_stays_one_short_line_in_json(output: io.StringIO) -> None:
    logs.configure("INFO", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    logging.getLogger("t").warning("rejected: %s", logs.error_text(RuntimeError("\n" * 5000)))
    line = output.getvalue().strip()
    assert "\n" not in line
    # Each newline is escaped ("\\n"), then JSON-encoded ("\\\\n"): three characters at most.
    assert len(line) < 3 * logs.MAX_ERROR_CHARS + 300


def test_an_error_without_text_is_named_by_its_class() -> None:
    assert logs.error_text(SystemExit(0)) == "SystemExit: 0"
    assert logs.error_text(KeyboardInterrupt()) == "KeyboardInterrupt"
