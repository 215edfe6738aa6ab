"""Work-queue tasks: their wire format and the demo's task mix. Pure.

A task message is UTF-8 JSON, for example::

    {"task_id": "task-000042", "kind": "primes", "size": 250000.0}

Kinds:
  primes   count the primes below ``size`` by trial division: CPU-bound, seconds at most
  spin     keep a CPU busy for ``size`` seconds: a slow task, or a stuck one if long
  fail     raise an error: a handler that fails

A worker in shared mode also accepts a channel message (see ``channels``) as a task of
kind ``channel``, so the fan-out demo's topic can feed a work queue too. What a task does
when it runs is the work queue's business: ``subscriber.workqueue.work``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from common.messages import CONTENT_TYPE, channels
from common.messages._json import decode_object

# The kinds a task message may name, each with the largest size it accepts.
MAX_SIZE = {"primes": 100_000_000, "spin": 86_400.0, "fail": 0.0}

# The demo publisher's mix, by sequence number: mostly CPU work of a second or less; one
# in 10 (the 1st, 11th, ...) runs 20 s, outliving its first lease, which is extended;
# one in 100 (the 3rd, 103rd, ...) never finishes in time: it is terminated at its
# deadline, retried, and dead-lettered after the last attempt.
SLOW_EVERY, SLOW_AT, SLOW_SECONDS = 10, 1, 20.0
STUCK_EVERY, STUCK_AT, STUCK_SECONDS = 100, 3, 86_400.0


@dataclass(frozen=True)
class Task:
    task_id: str
    kind: str
    size: float = 0.0
    # For a channel message: the channel, for the log.
    note: str = ""

    def describe(self) -> str:
        if self.kind == "primes":
            return f"task={self.task_id} primes below {self.size:.0f}"
        if self.kind == "spin":
            return f"task={self.task_id} spin {self.size:g}s"
        if self.kind == "channel":
            return f"task={self.task_id} channel {self.note}"
        return f"task={self.task_id} {self.kind}"

    def encode(self) -> tuple[bytes, dict[str, str]]:
        body = {"task_id": self.task_id, "kind": self.kind, "size": self.size}
        attributes = {
            "content_type": CONTENT_TYPE,
            "schema_version": channels.SCHEMA_VERSION,
            "task_kind": self.kind,
        }
        return json.dumps(body).encode(), attributes


class InvalidTask(ValueError):
    """The payload is neither a task nor a channel message."""


def demo_task(rng: random.Random, sequence: int) -> Task:
    task_id = f"task-{sequence:06d}"
    if sequence % STUCK_EVERY == STUCK_AT:
        return Task(task_id, "spin", STUCK_SECONDS)
    if sequence % SLOW_EVERY == SLOW_AT:
        return Task(task_id, "spin", SLOW_SECONDS)
    return Task(task_id, "primes", float(rng.randrange(200_000, 1_000_000, 1000)))


def decode(data: bytes) -> Task:
    try:
        body = decode_object(data, InvalidTask)
    except InvalidTask:
        body = {}
    if "task_id" not in body:
        return _channel_task(data)
    task_id, kind, size = body.get("task_id"), body.get("kind"), body.get("size", 0)
    if not isinstance(task_id, str) or not 0 < len(task_id) <= 100:
        raise InvalidTask(f"task_id must be a string of 1 to 100 characters, got {task_id!r:.60}")
    if not isinstance(kind, str) or kind not in MAX_SIZE:
        raise InvalidTask(f"kind must be one of {', '.join(MAX_SIZE)}; got {kind!r:.40}")
    if (
        not isinstance(size, int | float)
        or isinstance(size, bool)
        or not 0 <= size <= MAX_SIZE[kind]
    ):
        raise InvalidTask(
            f"size of a {kind} task must be 0 to {MAX_SIZE[kind]:g}, got {size!r:.40}"
        )
    return Task(task_id, kind, float(size))


def _channel_task(data: bytes) -> Task:
    """Not a task: perhaps a channel message, which is a task with nothing to compute."""
    try:
        message = channels.decode(data)
    except channels.InvalidMessage as exc:
        raise InvalidTask(f"neither a task nor a channel message: {exc}") from None
    channel = message.channel
    task_id = "channel" if message.sequence is None else f"channel-{message.sequence}"
    return Task(task_id, "channel", note=f"{channel.number} {channel.name}")
