"""The outage record and the wait for a peer: backoff, the lines they log, stopping."""

import logging
import random
import threading
from collections.abc import Iterator

import pytest
from google.api_core import exceptions

from common.outage import (
    REMINDER_SECONDS,
    Outage,
    ShutdownRequested,
    backoff_delays,
    call_until_ready,
)


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = backoff_delays(initial=0.5, maximum=4, jitter=0)
    assert [next(delays) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_backoff_jitter_stays_in_bounds() -> None:
    delays = backoff_delays(initial=1, maximum=1, jitter=0.2, rng=random.Random(3))
    samples = [next(delays) for _ in range(1000)]
    assert min(samples) >= 0.8
    assert max(samples) <= 1.2
    assert len(set(samples)) > 900


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.fields["event"] for r in caplog.records if hasattr(r, "fields")]


def no_wait() -> Iterator[float]:
    while True:
        yield 0.0


def test_an_outage_is_one_line_a_reminder_a_minute_and_one_line_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    outage = Outage("the database", clock=clock, delays=lambda: backoff_delays(jitter=0))
    assert not outage.down
    assert outage.failed("refused") == 0.5
    assert outage.down
    assert outage.next_attempt == 100.5
    for _ in range(20):  # retries within the first minute: no more warnings
        clock.now += 1
        outage.failed("refused")
    clock.now = 100 + REMINDER_SECONDS
    outage.failed("refused", "holding 3 messages")
    clock.now += 5
    outage.succeeded("stored 3 messages")
    assert not outage.down
    assert outage.next_attempt == 0.0
    assert events(caplog) == ["unavailable", "still unavailable", "available"]
    back = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "available"]
    assert back[0].fields["seconds"] == 65.0
    assert back[0].getMessage().endswith("; stored 3 messages")
    assert outage.failed("refused again") == 0.5, "the backoff starts over after a recovery"


def test_success_without_an_outage_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("Pub/Sub")
    outage.succeeded()
    assert caplog.records == []


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ready"


def test_retries_unavailable_until_ready(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    call = Flaky(
        exceptions.ServiceUnavailable("connection refused"), exceptions.DeadlineExceeded("slow")
    )
    reasons: list[str] = []
    result = call_until_ready(
        call, what="the emulator", stop=threading.Event(), delays=no_wait, beat=reasons.append
    )
    assert (result, call.calls) == ("ready", 3)
    assert events(caplog) == ["unavailable", "available"], "one line each way, not per attempt"
    assert reasons == ["waiting for the emulator"] * 2, "the caller's heartbeat while waiting"


def test_other_errors_propagate() -> None:
    call = Flaky(exceptions.PermissionDenied("no"))
    with pytest.raises(exceptions.PermissionDenied):
        call_until_ready(call, what="x", stop=threading.Event(), delays=no_wait)
    assert call.calls == 1


def test_not_found_is_retried_only_when_asked() -> None:
    retry_on = (exceptions.NotFound,)
    ready = call_until_ready(
        Flaky(exceptions.NotFound("topic")),
        what="x",
        stop=threading.Event(),
        retry_on=retry_on,
        delays=no_wait,
    )
    assert ready == "ready"


def test_stop_interrupts_the_wait() -> None:
    stop = threading.Event()
    call = Flaky(*[exceptions.ServiceUnavailable("down")] * 10)
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    with pytest.raises(ShutdownRequested):
        # Without the stop event this would wait an hour.
        call_until_ready(call, what="x", stop=stop, delays=lambda: iter([3600.0] * 10))
    timer.join()
    assert call.calls == 1


def test_stop_already_set_makes_no_call() -> None:
    stop = threading.Event()
    stop.set()
    call = Flaky()
    with pytest.raises(ShutdownRequested):
        call_until_ready(call, what="x", stop=stop)
    assert call.calls == 0
