"""Durations as an operator types them: ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``, or
plain seconds. Pure."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str, longest: timedelta) -> timedelta:
    """``text`` as a positive duration up to ``longest``; ``ValueError`` saying the
    accepted forms, or the limit."""
    cleaned = text.strip().lower()
    seconds: float
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        seconds = float(cleaned)
    elif cleaned and _PART.sub("", cleaned) == "":
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    else:
        raise ValueError(f"{text!r:.40} is not a duration: use e.g. 90s, 15m, 2h, 1d or 1h30m")
    if seconds <= 0:
        raise ValueError(f"{text!r:.40}: a duration must be more than 0")
    # As floats: timedelta() itself overflows ('99999999999d'; '9…9s' is inf).
    if not seconds <= longest.total_seconds():
        raise ValueError(f"{text!r:.40}: a duration of at most {describe(longest)}")
    return timedelta(seconds=seconds)


def describe(duration: timedelta) -> str:
    """A duration for people: ``1h30m``, ``45s``, ``2d``."""
    seconds = int(duration.total_seconds())
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
