"""Pull threads: what each way a pull can end means."""

import logging
import threading
from collections.abc import Sequence

import grpc
import pytest
from google.api_core import exceptions

from common.receive import puller as puller_module
from common.receive.flow import Flow, FlowControl
from common.receive.message import Pulled
from common.receive.puller import Puller
from common.receive.rpc import Rpc
from tests.support.fake_pubsub import FakeSubscriber

PATH = "projects/p/subscriptions/s"


class Harness:
    """A puller on a fake subscription, recording what it is told."""

    def __init__(
        self, server: FakeSubscriber, *, max_messages: int = 10, probe_fails: bool = False
    ) -> None:
        self.server = server
        self.flow = Flow(FlowControl(max_messages=max_messages))
        self.stopping = threading.Event()
        self.delivered: list[str] = []
        self.gone: list[int] = []
        self.errors: list[Exception] = []
        self.probes = 0
        self.probe_fails = probe_fails
        self.puller = Puller(
            Rpc(server),
            PATH,
            self.flow,
            self.stopping,
            threads=1,
            deliver=self.deliver,
            on_gone=self.gone.append,
            on_error=self.errors.append,
            probe=self.probe,
        )

    def deliver(self, pulled: Sequence[Pulled]) -> None:
        self.delivered.extend(pb.message.message_id for pb in pulled)

    def probe(self) -> None:
        self.probes += 1
        if self.probe_fails:
            raise exceptions.ServiceUnavailable("unreachable")

    def __enter__(self) -> "Harness":
        self.puller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.puller.cancel_pulls()
        assert self.puller.join(5) == 0


def wait(predicate: object, timeout: float = 5) -> None:
    event = threading.Event()
    deadline = threading.Timer(timeout, event.set)
    deadline.start()
    while not event.is_set() and not predicate():  # type: ignore[operator]
        event.wait(0.005)
    deadline.cancel()
    assert predicate(), "timed out"  # type: ignore[operator]


def test_a_pull_asks_for_the_room_flow_control_gives() -> None:
    server = FakeSubscriber()
    for _ in range(3):
        server.publish()
    with Harness(server, max_messages=10) as h:
        wait(lambda: len(h.delivered) == 3 and len(server.calls.pulls) >= 2)
        assert server.calls.pulls[:2] == [10, 7], "the next pull asks for the room left"


def test_an_idle_pull_held_to_its_deadline_is_an_empty_answer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(puller_module, "PULL_TIMEOUT_SECONDS", 0.05)
    server = FakeSubscriber(idle="deadline")
    with Harness(server) as h:
        wait(lambda: len(server.calls.pulls) >= 5)
        assert not h.puller.outage.down
        assert h.probes == 0, "reachability was proved at start: no probe yet"
        server.publish()
        wait(lambda: h.delivered == ["1"])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_after_a_while_without_proof_an_empty_answer_is_probed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(puller_module, "PULL_TIMEOUT_SECONDS", 0.02)
    monkeypatch.setattr(puller_module, "PROBE_SECONDS", 0.1)
    with Harness(FakeSubscriber(idle="deadline")) as h:
        wait(lambda: h.probes >= 2)
        assert not h.puller.outage.down


def test_a_failed_probe_is_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(puller_module, "PULL_TIMEOUT_SECONDS", 0.02)
    monkeypatch.setattr(puller_module, "PROBE_SECONDS", 0.0)
    with Harness(FakeSubscriber(idle="deadline"), probe_fails=True) as h:
        wait(lambda: h.puller.outage.down)
        h.probe_fails = False
        wait(lambda: not h.puller.outage.down)


def test_unavailable_is_an_outage_retried_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server = FakeSubscriber(idle="early")
    server.fail("pull", grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)
    server.publish()
    with Harness(server) as h:
        wait(lambda: h.delivered == ["1"])
        assert not h.puller.outage.down
    found = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert (found.count("unavailable"), found.count("available")) == (1, 1)
    assert h.flow.messages == 1, "failed pulls gave their room back"


def test_not_found_reports_the_generation_the_pull_began_in() -> None:
    server = FakeSubscriber(idle="early")
    server.fail("pull", grpc.StatusCode.NOT_FOUND)
    with Harness(server) as h:
        wait(lambda: h.gone == [0])


def test_a_final_error_is_reported() -> None:
    server = FakeSubscriber(idle="early")
    server.fail("pull", grpc.StatusCode.PERMISSION_DENIED)
    with Harness(server) as h:
        wait(lambda: len(h.errors) == 1)
        assert isinstance(h.errors[0], exceptions.PermissionDenied)


def test_cancel_ends_a_held_pull_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(puller_module, "PULL_TIMEOUT_SECONDS", 3600.0)
    server = FakeSubscriber(idle="deadline")
    h = Harness(server)
    h.puller.start()
    wait(lambda: len(server.calls.pulls) == 1)
    h.stopping.set()
    h.puller.cancel_pulls()
    assert h.puller.join(2) == 0, "a pull held for an hour ended when cancelled"
    assert h.errors == []
    assert h.gone == []
