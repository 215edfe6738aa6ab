"""What every wire format shares: bytes to a JSON object, and one timestamp format. Pure."""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from datetime import UTC, datetime
from typing import Any, TypeGuard


def _reject_constant(token: str) -> Any:
    # NaN and Infinity are not JSON, though Python's parser accepts them by default.
    raise ValueError(f"{token} is not a JSON number")


# Made once: ``json.loads`` with an option builds a decoder on every call, which
# doubles the cost of a small body (benchmarks/README.md, "Where the CPU goes").
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_object(data: bytes, error: type[ValueError]) -> dict[str, Any]:
    """The body as a JSON object, or ``error`` saying why it is not one.

    Raises ``error`` for a body that is not UTF-8, not JSON (``NaN`` and ``Infinity``
    included), nested too deeply for the parser, or a JSON value other than an object.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise error("body is not UTF-8") from None
    try:
        body = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        # Some of the parser's messages end in "at" already ("Invalid control character at").
        raise error(
            f"body is not JSON ({exc.msg.removesuffix(' at')} at position {exc.pos})"
        ) from None
    except RecursionError:
        raise error("body is JSON nested too deeply") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            # Python's guard against slow conversions (CVE-2020-10735), not a JSON rule.
            limit = sys.get_int_max_str_digits()
            raise error(f"body holds an integer of more than {limit:,} digits") from None
        raise error(f"body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise error(f"body is a JSON {type(body).__name__}, not an object")
    return body


# The largest integer a browser's JSON.parse reads exactly (Number.MAX_SAFE_INTEGER): a
# count or a sequence number past it is no longer the number sent.
MAX_SAFE_INTEGER = 2**53 - 1


def is_number(value: object) -> bool:
    """A JSON number as the parser gives it: an int (of any size) or a finite float; not a
    bool, which Python counts as an int. (The parser reads ``1e999`` as infinity.)"""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def is_count(value: object, minimum: int = 0) -> TypeGuard[int]:
    """An int from ``minimum`` to ``MAX_SAFE_INTEGER``: a count, a sequence number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return minimum <= value <= MAX_SAFE_INTEGER


def number_text(value: int | float) -> str:
    """A number for a rejection's text: ``%g``, but an int past ``MAX_SAFE_INTEGER`` as
    its first digits and its length (``%g`` raises ``OverflowError`` past 1e308)."""
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        digits = str(abs(value))
        return f"{'-' if value < 0 else ''}{digits[:6]}… ({len(digits)} digits)"
    return f"{value:g}"


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) in UTC as ISO 8601 with milliseconds and a ``Z``:
    ``2026-11-25T18:00:00.123Z``, the form of every timestamp the stack writes."""
    if moment is not None:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # Now: a receipt takes one per message, so the whole second is formatted once.
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return f"{utc_second(seconds)}.{nanos // 1_000_000:03d}Z"


@functools.lru_cache(maxsize=4)
def utc_second(seconds: int) -> str:
    """A whole second since the epoch as ``2026-11-25T18:00:00``, UTC; the last few are
    kept, as lines and receipts come by the thousand a second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
