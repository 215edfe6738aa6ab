"""``ctl dead-letters republish`` to a topic that does not exist: bad usage, named (exit
2), before any dead letter is taken in hand."""

from __future__ import annotations

import pytest
from google.cloud import pubsub_v1

from tests.integration.conftest import PROJECT, topic_path
from tests.integration.ctl_runs import ctl

pytestmark = pytest.mark.integration


def test_a_republish_to_no_topic_is_refused_naming_it(
    emulator_host: str, topic: str, publisher_client: pubsub_v1.PublisherClient
) -> None:
    # Neither PUBSUB_TOPIC nor its dead letters exist yet: the target is said first.
    missing = ctl(emulator_host, topic, "dead-letters", "republish", "--all")
    assert missing.returncode == 2, missing.stderr
    assert f"PUBSUB_TOPIC: no topic {topic_path(topic)} to republish to" in missing.stderr
    publisher_client.create_topic(name=topic_path(topic))
    elsewhere = ctl(emulator_host, topic, "dead-letters", "republish", "1", "--to", "nowhere")
    assert elsewhere.returncode == 2, elsewhere.stderr
    assert f"--to: no topic projects/{PROJECT}/topics/nowhere" in elsewhere.stderr
