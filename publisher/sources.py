"""The built-in message sources: what the demo publishes; and ``checked``, what any source
returns checked. Pure: no I/O.

A source is the publisher's seam (``common.seams.Source``), named by PUBLISHER_SOURCE as
an import path; PUBLISHER_MODE names one of these three instead, for short.
"""

from __future__ import annotations

import random

from common.messages.channels import random_message
from common.messages.readings import random_reading
from common.messages.tasks import demo_task
from common.seams import Outgoing, Source, not_awaitable

__all__ = [
    "SOURCES",
    "Outgoing",
    "Source",
    "channel_message",
    "checked",
    "reading_message",
    "task_message",
]


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


def checked(message: object) -> Outgoing | None:
    """A source's return, checked before the client sees it: ``TypeError`` unless it is
    None or an ``Outgoing`` of bytes with str attributes and a str description."""
    if message is None:
        return None
    message = not_awaitable(message, "the source")
    if not isinstance(message, Outgoing):
        raise TypeError(f"a source must return an Outgoing or None, not {type(message).__name__}")
    if not isinstance(message.data, bytes):
        raise TypeError(f"Outgoing.data must be bytes, not {type(message.data).__name__}")
    attributes = message.attributes
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise TypeError("Outgoing.attributes must be a dict of str to str")
    if not isinstance(message.description, str):
        raise TypeError(
            f"Outgoing.description must be a str, not {type(message.description).__name__}"
        )
    return message
