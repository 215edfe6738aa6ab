"""The clocks against Pub/Sub's publish times, from receipts heard. Pure.

Pub/Sub stamps each message with its publish time. A receipt that arrived here after it
was published says this machine's clock is behind Pub/Sub's if it arrived "before" it
was published (delivery takes time, never less than none); a replica's announcement
carries the replica's own time of sending (``at``), a moment before Pub/Sub's stamp. A
replica whose clock is off seeks its new subscription (REPLAY_SECONDS) that far off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ctl.listening import Heard

# Skew worth a warning: beyond delivery's own delays on a busy machine.
TOLERANCE_SECONDS = 2.0
# Arrivals this late may be slow delivery as much as a clock ahead: said, not failed.
LATE_SECONDS = 30.0


@dataclass(frozen=True)
class Skew:
    """Seconds a clock is off from Pub/Sub's (positive: ahead), as far as can be told."""

    who: str
    seconds: float

    @property
    def off(self) -> bool:
        return abs(self.seconds) > TOLERANCE_SECONDS


def local_skew(heard: list[Heard]) -> Skew | None:
    """This machine's: the smallest arrival minus publish time (negative means behind;
    positive is delivery time at least, so only a large one is suspicious)."""
    if not heard:
        return None
    least = min((h.arrived - h.published).total_seconds() for h in heard)
    return Skew("this machine", least if least < 0 or least > LATE_SECONDS else 0.0)


def replica_skews(heard: list[Heard]) -> list[Skew]:
    """Each replica's, from its receipts' own times (the closest to publish time): an
    announcement's ``at``, or a batch's last ``handled_at`` (sent within 0.1 s of it)."""
    best: dict[str, float] = {}
    for entry in heard:
        receipt = entry.receipt
        # An announcement's time of sending; a batch's, its last message's handling.
        sent = _parse(receipt.messages[-1].handled_at if receipt.messages else receipt.at)
        if sent is None:
            continue
        skew = (sent - entry.published).total_seconds()
        replica = receipt.sender.replica
        if replica not in best or abs(skew) < abs(best[replica]):
            best[replica] = skew
    return [Skew(f"replica {replica}", seconds) for replica, seconds in sorted(best.items())]


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
