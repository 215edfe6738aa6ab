"""``python -m ctl`` against the real emulator, with real replicas: replicas, leftovers,
replay (to a time, to a snapshot), snapshot create, doctor, and its exit statuses."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from datetime import timedelta

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from common.messages.channels import Channel, ChannelMessage
from common.provision import Provisioner
from common.resources import topic as declared_topic
from tests.integration.conftest import PROJECT, Services, topic_path
from tests.integration.ctl_runs import ctl, ctl_json
from tests.support.logs import message_ids
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def publish(publisher: pubsub_v1.PublisherClient, topic: str, count: int) -> list[str]:
    futures = [
        publisher.publish(topic_path(topic), ChannelMessage(Channel(23, "YoYo TV"), n).encode()[0])
        for n in range(count)
    ]
    return [future.result(timeout=30) for future in futures]


def receptions(replica: ServiceProcess) -> Counter[str]:
    return Counter(message_ids(replica.log(), "received"))


def wait_received(replica: ServiceProcess, ids: list[str], times: int = 1) -> None:
    wait_for(
        lambda: all(receptions(replica)[i] >= times for i in ids),
        timeout=45,
        what=f"{len(ids)} messages received {times} time(s)",
        details=replica.details,
    )


def exists(subscriber: pubsub_v1.SubscriberClient, path: str) -> bool:
    try:
        subscriber.get_subscription(subscription=path)
    except exceptions.NotFound:
        return False
    return True


def test_replicas_lists_the_live_ones_with_their_claims_and_last_receipts(
    services: Services,
    created_topic: str,
    emulator_host: str,
    publisher_client: pubsub_v1.PublisherClient,
) -> None:
    replicas = [services.start("subscriber", created_topic) for _ in range(2)]
    for replica in replicas:
        replica.wait_for_event("listening", timeout=60)
    wait_received(replicas[0], publish(publisher_client, created_topic, 4))
    found = ctl_json(emulator_host, created_topic, "replicas")["replicas"]
    assert [r["replica"] for r in found] == ["replica-0", "replica-1"]
    for row in found:
        assert row["status"] == "live"
        assert row["subscription"] == (
            f"projects/{PROJECT}/subscriptions/{created_topic}-{row['replica']}"
        )
        assert row["claim"].endswith(f"{created_topic}-replicas-{row['replica']}")
        assert row["boot"]
        assert row["last_receipt"]["kind"] in ("handled", "alive")
    assert max(row["last_receipt"]["acked"] for row in found) >= 4
    for replica in replicas:
        assert replica.terminate()[0] == 0


def test_leftovers_are_the_claims_and_subscriptions_of_gone_replicas(
    services: Services,
    created_topic: str,
    emulator_host: str,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    gone = services.start("subscriber", created_topic, REPLICA_ID="gone")
    live = services.start("subscriber", created_topic, REPLICA_ID="live")
    for replica in (gone, live):
        replica.wait_for_event("listening", timeout=60)
    gone.process.send_signal(signal.SIGKILL)
    gone.process.wait(timeout=10)
    paths = {
        f"projects/{PROJECT}/subscriptions/{created_topic}-{name}": name
        for name in ("gone", "live", "replicas-gone", "replicas-live")
    }
    found = ctl_json(emulator_host, created_topic, "leftovers")
    assert sorted(found["leftovers"]) == sorted(p for p, n in paths.items() if "gone" in n)
    assert found["deleted"] == []
    deleted = ctl_json(emulator_host, created_topic, "leftovers", "--delete")
    assert sorted(deleted["deleted"]) == sorted(found["leftovers"])
    for path, name in paths.items():
        assert exists(subscriber_client, path) == ("live" in name), path
    assert live.process.poll() is None
    assert live.terminate()[0] == 0


@pytest.fixture
def retaining_topic(topic: str, publisher_client: pubsub_v1.PublisherClient) -> str:
    """``topic`` as the publisher creates it with REPLAY_SECONDS set: it retains messages,
    so acked ones can be replayed (without retention the emulator, like Google Cloud,
    replays nothing acked: docs/operations.md, "Replay")."""
    Provisioner(publisher_client, None, threading.Event()).ensure_topic(
        declared_topic(topic_path(topic), timedelta(hours=2))
    )
    return topic


def test_replay_since_and_to_a_snapshot_redeliver_to_the_replicas(
    services: Services,
    retaining_topic: str,
    emulator_host: str,
    publisher_client: pubsub_v1.PublisherClient,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replicas = [services.start("subscriber", retaining_topic) for _ in range(2)]
    for replica in replicas:
        replica.wait_for_event("listening", timeout=60)
    first = publish(publisher_client, retaining_topic, 3)
    for replica in replicas:
        wait_received(replica, first)
    snapshot = ctl_json(emulator_host, retaining_topic, "snapshot", "create", "before-deploy")
    assert snapshot["source"].endswith(f"{retaining_topic}-replica-0")
    try:
        # One replica, then all of them, a window back.
        sought = ctl_json(
            emulator_host, retaining_topic, "replay", "--since", "1h", "--replica", "replica-1"
        )
        assert sought["subscriptions"] == [
            f"projects/{PROJECT}/subscriptions/{retaining_topic}-replica-1"
        ]
        wait_received(replicas[1], first, times=2)
        assert all(receptions(replicas[0])[i] == 1 for i in first), "replica-0 was not sought"
        ctl_json(emulator_host, retaining_topic, "replay", "--since", "1h", "--all")
        for replica in replicas:
            wait_received(replica, first, times=2 + (replica is replicas[1]))
        # The snapshot: what came after it comes again, to every replica.
        later = publish(publisher_client, retaining_topic, 3)
        for replica in replicas:
            wait_received(replica, later)
        ctl_json(emulator_host, retaining_topic, "replay", "--snapshot", "before-deploy", "--all")
        for replica in replicas:
            wait_received(replica, later, times=2)
        missing = ctl(emulator_host, retaining_topic, "replay", "--snapshot", "nope", "--all")
        assert missing.returncode == 2, missing.stderr
        assert "no snapshot" in missing.stderr
    finally:
        subscriber_client.delete_snapshot(snapshot=snapshot["snapshot"])
    for replica in replicas:
        assert replica.terminate()[0] == 0


def test_doctor_passes_on_a_running_stack_and_names_what_is_wrong(
    services: Services,
    created_topic: str,
    emulator_host: str,
    subscriber_client: pubsub_v1.SubscriberClient,
) -> None:
    replica = services.start("subscriber", created_topic)
    replica.wait_for_event("listening", timeout=60)
    healthy = ctl_json(emulator_host, created_topic, "doctor")
    statuses = {check["name"]: check["status"] for check in healthy["checks"]}
    assert healthy["ok"], healthy
    assert statuses[f"subscription {created_topic}-replica-0"] == "ok"
    assert statuses["clock of this machine"] == "ok"
    assert statuses["clock of replica replica-0"] in ("ok", "warn")
    # The replicas' window is not retained by the topic, and the dead letters are gone.
    subscriber_client.delete_subscription(
        subscription=f"projects/{PROJECT}/subscriptions/{created_topic}-dead-letter"
    )
    sick = ctl_json(emulator_host, created_topic, "doctor", status=1, REPLAY_SECONDS="3600")
    failed = {check["name"] for check in sick["checks"] if check["status"] == "FAIL"}
    assert failed == {f"topic {created_topic}", f"subscription {created_topic}-dead-letter"}
    assert replica.terminate()[0] == 0


def test_bad_settings_and_usage_exit_2_naming_them(emulator_host: str, topic: str) -> None:
    bad = ctl(emulator_host, topic, "doctor", REPLAY_SECONDS="a while")
    assert bad.returncode == 2
    assert "REPLAY_SECONDS must be a whole number" in bad.stderr
    usage = ctl(emulator_host, topic, "dead-letters", "republish")
    assert usage.returncode == 2
    assert "give dead-letter IDs, or --all" in usage.stderr
    name = ctl(emulator_host, topic, "snapshot", "create", "9lives")
    assert name.returncode == 2, name.stderr
