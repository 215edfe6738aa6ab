"""The built-in message sources: what the demo publishes. Pure: no I/O.

A source is the publisher's seam (``common.seams.Source``), named by PUBLISHER_SOURCE as
an import path; PUBLISHER_MODE names one of these three instead, for short.
"""

from __future__ import annotations

import random

from common.messages.channels import random_message
from common.messages.readings import random_reading
from common.messages.tasks import demo_task
from common.seams import Outgoing, Source

__all__ = ["SOURCES", "Outgoing", "Source", "channel_message", "reading_message", "task_message"]


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


# PUBLISHER_MODE's values: "tasks" is short for PUBLISHER_SOURCE=publisher.sources:task_message.
SOURCES: dict[str, Source] = {
    "channels": channel_message,
    "tasks": task_message,
    "readings": reading_message,
}
