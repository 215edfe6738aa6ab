"""``dead-letters republish``: dead letters back to a topic, each acked only once its
republish is confirmed.

One dead letter at a time: publish it (its data and its own attributes, plus
``republished_from`` = its dead-letter ID), wait for Pub/Sub to confirm, then ack it and
wait for that answer too. Killed at any point, a run has lost nothing: a dead letter is
gone from the subscription only after its copy is on the topic. A rerun finds only what
was not acked. A dead letter whose republish was sent but not acked when the run
stopped (killed before Pub/Sub's confirmation came, a confirmation later than
``CONFIRM_SECONDS``, an ack that did not reach Pub/Sub) may go out again: twice, with the
same ``republished_from``.

Each fan-out replica dead-letters its own copy of a message it could not handle: copies
with the same data, attributes and original publish time, each from another
subscription, are republished once in a run, and each acked after that one is confirmed.
Two such dead letters from one subscription are two messages (identical ones published
in one request share their publish time): each is republished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.cloud import pubsub_v1
from google.pubsub_v1 import types
from tqdm import tqdm

from common.logs import fields
from ctl.dead_letters import DeadLetter, parse
from ctl.holding import Holder
from ctl.output import FAILED, OK, Result

log = logging.getLogger(__name__)

# The attribute a republished message carries: the dead letter it came from.
REPUBLISHED_FROM = "republished_from"
CONFIRM_SECONDS = 60.0


@dataclass
class Outcome:
    republished: list[dict[str, str]] = field(default_factory=list)
    # Fan-out copies acked after their twin's republish, by dead-letter ID.
    copies: list[str] = field(default_factory=list)
    error: str = ""


class Pacer:
    """At most ``rate`` calls of ``wait`` a second (None: no limit); ``stop`` ends a wait."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1 / rate if rate else 0.0
        self._clock = clock
        self._next = clock()

    def wait(self, stop: threading.Event) -> None:
        delay = self._next - self._clock()
        if delay > 0:
            stop.wait(delay)
        self._next = max(self._next, self._clock()) + self._interval


def republish(
    holder: Holder,
    publisher: pubsub_v1.PublisherClient,
    target: str,
    stop: threading.Event,
    *,
    ids: list[str] | None,
    idle_seconds: float,
    rate: float | None,
) -> Result:
    """Republish the dead letters ``ids`` (None: all those parked before the run) to the
    topic path ``target``; ends when none is left, or none came for ``idle_seconds``."""
    run = Run(holder, publisher, target, stop, ids=ids, pacer=Pacer(rate))
    # On stderr, only on a terminal (disable=None): a script's output stays clean.
    progress = tqdm(total=len(ids) if ids else None, unit="msg", desc="republished", disable=None)
    last_useful = time.monotonic()
    try:
        while not stop.is_set() and run.remaining != set():
            batch = holder.pull()
            done = sum(run.take(received) for received in batch)
            progress.update(done)
            if done:
                last_useful = time.monotonic()
            elif time.monotonic() - last_useful >= idle_seconds:
                break
            elif not batch:
                stop.wait(0.2)
    except Exception as exc:  # a refused publish or ack: stop; what is left stays parked
        run.outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        progress.close()
        holder.release()
    missing = sorted(run.remaining or ())
    return _result(run.outcome, target, missing, interrupted=stop.is_set())


@dataclass
class Sent:
    """The dead letters of one ``copy_key`` a run took: how many it republished, and
    how many it took from each source subscription (each holds one copy of each)."""

    republished: int = 0
    taken: Counter[str | None] = field(default_factory=Counter)


class Run:
    """One republish: which dead letters it takes, and what it did with them."""

    def __init__(
        self,
        holder: Holder,
        publisher: pubsub_v1.PublisherClient,
        target: str,
        stop: threading.Event,
        *,
        ids: list[str] | None,
        pacer: Pacer,
    ) -> None:
        self._holder = holder
        self._publisher = publisher
        self._target = target
        self._stop = stop
        self._pacer = pacer
        self.remaining = set(ids) if ids is not None else None
        # Only what was parked before the run began: a message that fails again while
        # it runs comes back as a new dead letter, and must not keep it going for ever.
        self._started = datetime.now(UTC)
        self._sent: dict[object, Sent] = {}
        self.outcome = Outcome()

    def take(self, received: types.ReceivedMessage) -> bool:
        """Republish and ack ``received`` if this run is for it; whether it did."""
        letter = parse(received)
        if self.remaining is not None and letter.dead_letter_id not in self.remaining:
            return False  # held, handed back at the end
        if self.remaining is None and letter.dead_lettered_at > self._started:
            return False
        sent = self._sent.setdefault(letter.copy_key(), Sent())
        source = letter.source_subscription
        if sent.taken[source] >= sent.republished:  # not a copy of one sent: a message
            self._pacer.wait(self._stop)
            if self._stop.is_set():
                return False
            new_id = _publish(self._publisher, self._target, letter)
            sent.republished += 1
            self.outcome.republished.append(
                {"dead_letter_id": letter.dead_letter_id, "message_id": new_id}
            )
        else:
            self.outcome.copies.append(letter.dead_letter_id)
        sent.taken[source] += 1
        self._holder.renew_if_due()
        self._holder.ack(received)
        log.info(
            "acked dead letter %s",
            letter.dead_letter_id,
            extra=fields(event="dead letter acked", dead_letter_id=letter.dead_letter_id),
        )
        if self.remaining is not None:
            self.remaining.discard(letter.dead_letter_id)
        return True


def _publish(publisher: pubsub_v1.PublisherClient, target: str, letter: DeadLetter) -> str:
    attributes = {**letter.attributes, REPUBLISHED_FROM: letter.dead_letter_id}
    future = publisher.publish(target, letter.data, **attributes)
    try:
        new_id = str(future.result(timeout=CONFIRM_SECONDS))
    except TimeoutError:  # its own text is empty
        raise TimeoutError(
            f"Pub/Sub did not confirm the republish of dead letter {letter.dead_letter_id} "
            f"within {CONFIRM_SECONDS:g} s"
        ) from None
    log.info(
        "republished dead letter %s as message_id=%s to %s",
        letter.dead_letter_id,
        new_id,
        target,
        extra=fields(event="republished", dead_letter_id=letter.dead_letter_id, message_id=new_id),
    )
    return new_id


def _result(outcome: Outcome, target: str, missing: list[str], *, interrupted: bool) -> Result:
    count = len(outcome.republished)
    lines = [f"republished {count} dead letter(s) to {target}"]
    if outcome.copies:
        lines.append(f"acked {len(outcome.copies)} fan-out copies of those, not republished")
    status = OK
    if missing:
        lines.append(f"not found (or held elsewhere): {', '.join(missing)}")
        status = FAILED
    if outcome.error:
        lines.append(f"stopped: {outcome.error}; the rest stays in the dead letters")
        status = FAILED
    if interrupted:
        lines.append("interrupted: the rest stays in the dead letters; run it again to finish")
        status = FAILED
    data = {
        "target": target,
        "republished": outcome.republished,
        "copies_acked": outcome.copies,
        "missing": missing,
        "error": outcome.error or None,
        "interrupted": interrupted,
    }
    return Result(data, "\n".join(lines), status)
