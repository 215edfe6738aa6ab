"""Message sources: what the publisher sends, by PUBLISHER_MODE. Pure: no I/O."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from common.messages.channels import random_message
from common.messages.readings import random_reading
from common.messages.tasks import demo_task


@dataclass(frozen=True)
class Outgoing:
    data: bytes
    attributes: dict[str, str]
    # For the log line, after the message ID: "channel=22 Cartoon", "task=... primes ...".
    description: str
    sequence: int


def channel_message(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing:
    message = random_message(rng, sequence=sequence, publisher=publisher_id)
    data, attributes = message.encode()
    channel = message.channel
    return Outgoing(data, attributes, f"channel={channel.number} {channel.name}", sequence)


def task_message(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing:
    task = demo_task(rng, sequence)
    data, attributes = task.encode()
    return Outgoing(data, {**attributes, "publisher": publisher_id}, task.describe(), sequence)


def reading_message(rng: random.Random, sequence: int, publisher_id: str) -> Outgoing:
    reading = random_reading(rng)
    data, attributes = reading.encode()
    return Outgoing(
        data, {**attributes, "publisher": publisher_id}, f"reading={reading.describe()}", sequence
    )


# (random generator, sequence number, publisher ID) -> the next message.
Source = Callable[[random.Random, int, str], Outgoing]
SOURCES: dict[str, Source] = {
    "channels": channel_message,
    "tasks": task_message,
    "readings": reading_message,
}
