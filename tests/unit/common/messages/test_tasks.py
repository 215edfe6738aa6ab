import json
import random

import pytest

from common.messages.channels import Channel, ChannelMessage
from common.messages.tasks import (
    SLOW_SECONDS,
    STUCK_SECONDS,
    InvalidTask,
    Task,
    decode,
    demo_task,
)


def test_encode_then_decode_round_trips() -> None:
    task = Task("task-000001", "primes", 250_000)
    data, attributes = task.encode()
    assert decode(data) == task
    assert attributes["task_kind"] == "primes"
    assert task.describe() == "task=task-000001 primes below 250000"


def test_a_channel_message_is_a_task_with_nothing_to_compute() -> None:
    data, _ = ChannelMessage(Channel(52, "News"), sequence=9).encode()
    task = decode(data)
    assert task == Task("channel-9", "channel", note="52 News")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nonsense", "neither a task nor a channel message: body is not JSON"),
        (b'{"task_id": "", "kind": "primes"}', "task_id must be a string"),
        (b'{"task_id": 7, "kind": "primes"}', "task_id must be a string"),
        (b'{"task_id": "t", "kind": "mine-bitcoin"}', "kind must be one of"),
        (b'{"task_id": "t", "kind": "channel"}', "kind must be one of"),
        (b'{"task_id": "t", "kind": "primes", "size": -1}', "size of a primes task"),
        (b'{"task_id": "t", "kind": "primes", "size": 1e12}', "size of a primes task"),
        (b'{"task_id": "t", "kind": "spin", "size": "10"}', "size of a spin task"),
        (b'{"task_id": "t", "kind": "spin", "size": true}', "size of a spin task"),
    ],
)
def test_decode_rejects_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidTask, match=reason):
        decode(body)


def test_demo_mix_has_slow_and_stuck_tasks_at_known_places() -> None:
    rng = random.Random(1)
    tasks = {sequence: demo_task(rng, sequence) for sequence in range(1, 201)}
    assert tasks[1] == Task("task-000001", "spin", SLOW_SECONDS)
    assert tasks[3] == Task("task-000003", "spin", STUCK_SECONDS)
    assert tasks[103].size == STUCK_SECONDS
    slow = [s for s, task in tasks.items() if task.size == SLOW_SECONDS]
    assert slow == list(range(1, 201, 10))
    primes = [task for task in tasks.values() if task.kind == "primes"]
    assert len(primes) == 200 - len(slow) - 2
    assert all(200_000 <= task.size < 1_000_000 for task in primes)
    for task in tasks.values():
        assert decode(task.encode()[0]) == task


def test_wire_format_is_plain_json() -> None:
    data, _ = Task("task-9", "spin", 1.5).encode()
    assert json.loads(data) == {"task_id": "task-9", "kind": "spin", "size": 1.5}
