"""The local Kubernetes overlay, run for real with `podman kube play` (see tests/e2e/podman.py
for what podman runs and what it leaves out).

The emulator's Deployment is played first, then the rest with `emulator` resolving to it,
as the Service would. Then: the pods run as the manifests say (uid 10001, read-only root,
no capabilities, the downward API's pod name as REPLICA_ID); their liveness probes pass;
every subscriber pod receives every message published once all are listening; a worker
completes tasks; and `podman kube down` stops the pods within their grace periods,
leaving no replica subscription on the emulator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from tests.e2e import podman as kube
from tests.e2e.podman import podman
from tests.support import ROOT
from tests.support.emulator import emulator_is_up
from tests.support.logs import events, message_ids
from tests.support.waiting import wait_for

# Not in `make test`: `make test-kubernetes` runs it, where podman is installed.
pytestmark = [pytest.mark.e2e, pytest.mark.kubernetes]
MESSAGES_TO_CHECK = 5
# The services of the overlay that podman plays with the emulator's address.
SERVICES = ("publisher", "subscriber", "dashboard", "task-publisher", "worker")


class Played:
    def __init__(self, directory: Path, docs: list[kube.Doc]) -> None:
        self.directory = directory
        self.docs = docs
        self.env = {**os.environ, "CONTAINERS_CONF": str(directory / "containers.conf")}
        (directory / "containers.conf").write_text(kube.CONTAINERS_CONF)
        self.emulator_file = kube.write(
            kube.play_input([d for d in docs if is_emulator(d)], None), directory / "emulator.yaml"
        )
        self.emulator_ip = ""
        self.stack_file = directory / "stack.yaml"

    def logs(self, container: str) -> str:
        return podman("logs", container, check=False)

    def down(self, path: Path) -> None:
        podman("kube", "down", str(path), env=self.env, check=False)


def is_emulator(doc: kube.Doc) -> bool:
    return bool(doc["kind"] == "Deployment" and doc["metadata"]["name"] == "emulator")


def deployment(docs: list[kube.Doc], name: str) -> kube.Doc:
    (found,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    kube.require_podman()
    docs = kube.render_local()
    started = time.monotonic()
    kube.prepare_images(docs)
    print(f"images ready in {time.monotonic() - started:.1f}s")
    run = Played(tmp_path_factory.mktemp("kube"), docs)
    kube.remove_leftovers()
    try:
        started = time.monotonic()
        podman("kube", "play", str(run.emulator_file), env=run.env)
        (emulator,) = kube.pod_containers("emulator")
        run.emulator_ip = kube.address(emulator)
        # Polled from here, not with `podman healthcheck run`: podman 4.3.1 has no startup
        # probe, and liveness failures while the JVM starts would restart the container.
        wait_for(
            partial(emulator_is_up, f"{run.emulator_ip}:8085"),
            timeout=120,
            interval=1,
            what="the emulator pod to serve",
        )
        others = [d for d in docs if not is_emulator(d)]
        kube.write(kube.play_input(others, run.emulator_ip), run.stack_file)
        podman("kube", "play", str(run.stack_file), env=run.env)
        replicas = deployment(docs, "subscriber")["spec"]["replicas"]
        wait_for(
            lambda: len(replica_subscriptions(run)) == replicas,
            timeout=120,
            interval=1,
            what=f"{replicas} replica subscriptions on the emulator",
            details=lambda: str(kube.subscriptions(run.emulator_ip)),
        )
        print(f"kube play: every replica subscribed {time.monotonic() - started:.1f}s after play")
        yield run
    finally:
        if kube.pod_containers("publisher"):  # else the last test saved them before its down
            save_logs(run)
        run.down(run.stack_file)
        run.down(run.emulator_file)
        kube.remove_leftovers()


def save_logs(run: Played) -> None:
    artifacts = ROOT / "test-artifacts" / "e2e"
    artifacts.mkdir(parents=True, exist_ok=True)
    with (artifacts / "kubernetes-podman.log").open("w") as out:
        for name in ("emulator", *SERVICES):
            for container in kube.pod_containers(name):
                out.write(f"===== {container}\n{run.logs(container)}\n")


def replica_subscriptions(run: Played) -> list[str]:
    """The replicas' own subscriptions, ``channel-<pod name>``: not the dead-letter one,
    not the dashboard's, not the work queue's, not the replicas' identity claims."""
    return [
        s
        for s in kube.subscriptions(run.emulator_ip)
        if s.startswith("channel-")
        and not s.startswith("channel-replicas-")
        and not s.endswith("dead-letter")
        and "-dashboard-" not in s
    ]


@pytest.mark.parametrize("service", ["emulator", *SERVICES])
def test_pods_run_as_the_manifests_say(played: Played, service: str) -> None:
    doc = deployment(played.docs, service)
    spec = doc["spec"]
    containers = kube.pod_containers(service)
    assert len(containers) == spec["replicas"]
    for container in containers:
        assert podman("exec", container, "id", "-u").strip() == "10001"
        config = kube.inspect(container)
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert config["EffectiveCaps"] in (None, [])
        # The writable /tmp is there (the heartbeat file), and / is not writable.
        assert podman("exec", container, "touch", "/tmp/probe", check=False) == ""
        denied = podman("exec", container, "touch", "/probe", check=False)
        assert "Read-only file system" in denied, denied
        # The liveness probe, as podman's health check: the image's own health command.
        # A pod may have started a moment ago, before its first heartbeat: Kubernetes
        # restarts it only after failureThreshold failures, periodSeconds apart.
        probe = kube.containers(doc)[0]["livenessProbe"]
        wait_for(
            partial(healthy, container),
            timeout=probe["failureThreshold"] * probe["periodSeconds"],
            interval=1,
            what=f"{container}'s liveness probe to pass",
            details=partial(played.logs, container),
        )


def healthy(container: str) -> bool:
    return podman("healthcheck", "run", container, check=False).strip() == ""


def test_replica_id_is_the_pod_name(played: Played) -> None:
    for container in kube.pod_containers("subscriber"):
        env = dict(e.split("=", 1) for e in kube.inspect(container)["Config"]["Env"])
        pod = container.removesuffix("-subscriber")
        assert env["REPLICA_ID"] == pod
        assert f"channel-{pod}" in replica_subscriptions(played), "its subscription's name"


def received_all(played: Played, replica: str, expected: set[str]) -> bool:
    return expected <= set(message_ids(played.logs(replica), "received"))


def test_every_subscriber_pod_receives_every_message(played: Played) -> None:
    (publisher,) = kube.pod_containers("publisher")
    # Every replica's subscription exists (the fixture waited): every message published
    # from now on is kept for each of them. The pause covers a publish logged late.
    time.sleep(1)
    before = set(message_ids(played.logs(publisher), "published"))

    def published_since() -> list[str] | None:
        new = [i for i in message_ids(played.logs(publisher), "published") if i not in before]
        return new if len(new) >= MESSAGES_TO_CHECK else None

    expected = set(wait_for(published_since, timeout=90, interval=1, what="new publishes"))
    replicas = kube.pod_containers("subscriber")
    assert len(replicas) >= 2
    for replica in replicas:
        wait_for(
            partial(received_all, played, replica, expected),
            timeout=30,
            interval=1,
            what=f"all of {sorted(expected)} at {replica}",
            details=partial(played.logs, replica),
        )
    print(f"{len(expected)} messages received by each of {len(replicas)} subscriber pods")
    for replica in replicas:
        # Each service on its own topic: nothing but channel messages reached a replica.
        assert events(played.logs(replica), "rejected") == []


def test_the_work_queue_completes_tasks(played: Played) -> None:
    def completed() -> int | None:
        logs = "".join(played.logs(c) for c in kube.pod_containers("worker"))
        return len(events(logs, "completed")) or None

    (publisher,) = kube.pod_containers("task-publisher")
    tasks = "projects/local-project/topics/tasks"
    assert events(played.logs(publisher), "publishing", topic=tasks), played.logs(publisher)
    count = wait_for(completed, timeout=90, interval=1, what="a task completed by a worker")
    print(f"workers completed {count} tasks")


def grace_seconds(played: Played, name: str) -> int:
    seconds: int = deployment(played.docs, name)["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    return seconds


def stop(played: Played, name: str, container: str) -> datetime:
    """SIGTERM, then SIGKILL after the grace period: the kubelet's way. Returns when the
    stop began (UTC)."""
    began = datetime.now(UTC).replace(tzinfo=None)
    podman("stop", "--time", str(grace_seconds(played, name)), container)
    return began


def shutdown_seconds(state: kube.Doc, log: str, began: datetime) -> str:
    """From the service's "shutting down" event (else the stop command) to its exit."""
    finished = datetime.fromisoformat(state["FinishedAt"].removesuffix("Z")[:26])
    signalled = events(log, "shutting down", signal="SIGTERM")
    if not signalled:  # the dashboard: uvicorn takes the signal, and logs nothing
        return f"{(finished - began).total_seconds():.1f}s from `podman stop` to exit"
    at = datetime.fromisoformat(signalled[0]["time"].removesuffix("Z"))
    return f"{(finished - at).total_seconds():.1f}s from SIGTERM to exit"


def test_kube_down_leaves_no_replica_subscription(played: Played) -> None:
    """The kubelet stops a pod's containers with SIGTERM and waits up to
    terminationGracePeriodSeconds, keeping the pod's network until they have exited.
    `podman kube down` (4.3.1) alone does not: it stops the pods with their infra
    containers, and the replicas' and the dashboard's subscriptions stayed behind (seen
    here). So the containers are stopped first, as a cluster would, and kube down then
    removes the pods."""
    subscribers = kube.pod_containers("subscriber")
    # Every container at once, each on its own clock, as the kubelets would: SIGTERM, then
    # SIGKILL after the pod's grace period. The containers, not the pods: `podman pod
    # stop` (and `kube down`) stops each pod's infra container with them, taking the
    # network away in the middle of the services' clean-up (seen here: every RPC after
    # SIGTERM ran into its deadline, and the replicas' subscriptions stayed), where a
    # cluster keeps the pod's network until its containers have exited. The command's
    # duration, with podman's locking, says little: each container's exit status says
    # whether it finished within its grace period (0) or was killed (137), and its log
    # how long its clean-up took.
    jobs = [(name, c) for name in SERVICES for c in kube.pod_containers(name)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        starts = pool.map(lambda job: stop(played, *job), jobs)
        began = dict(zip([container for _, container in jobs], starts, strict=True))
    for name in SERVICES:
        for container in kube.pod_containers(name):
            state, log = kube.inspect(container)["State"], played.logs(container)
            took = shutdown_seconds(state, log, began[container])
            print(f"{container}: exit {state['ExitCode']}, {took}")
            assert state["ExitCode"] == 0, f"{container}:\n{log[-3000:]}"
    for container in subscribers:
        state = kube.inspect(container)["State"]
        assert state["ExitCode"] == 0, played.logs(container)
        assert events(played.logs(container), "subscription deleted"), played.logs(container)
    save_logs(played)
    played.down(played.stack_file)
    assert replica_subscriptions(played) == []
    # The dashboard's are gone too; the durable ones stay by design.
    assert kube.subscriptions(played.emulator_ip) == [
        "channel-dead-letter",
        "tasks-dead-letter",
        "tasks-workers",
    ]
