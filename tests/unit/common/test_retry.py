import logging
import random
import threading

import pytest
from google.api_core import exceptions

from common.retry import ShutdownRequested, backoff_delays, call_until_ready

log = logging.getLogger(__name__)


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = backoff_delays(initial=0.5, maximum=4, jitter=0)
    assert [next(delays) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_backoff_jitter_stays_in_bounds() -> None:
    delays = backoff_delays(initial=1, maximum=1, jitter=0.2, rng=random.Random(3))
    samples = [next(delays) for _ in range(1000)]
    assert min(samples) >= 0.8
    assert max(samples) <= 1.2
    assert len(set(samples)) > 900


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
        call,
        what="the emulator",
        stop=threading.Event(),
        logger=log,
        delays=iter([0, 0]),
        beat=reasons.append,
    )
    assert (result, call.calls) == ("ready", 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "waiting for the emulator (attempt 1, ServiceUnavailable: 503 connection refused); "
        "retrying in 0.0s"
    ], "one line when the wait starts, not one per attempt"
    assert "attempt 2, DeadlineExceeded" in caplog.text
    assert "done waiting for the emulator after" in caplog.text
    assert reasons == ["waiting for the emulator"] * 2, "the caller's heartbeat while waiting"


def test_other_errors_propagate() -> None:
    call = Flaky(exceptions.PermissionDenied("no"))
    with pytest.raises(exceptions.PermissionDenied):
        call_until_ready(call, what="x", stop=threading.Event(), logger=log, delays=iter([0]))
    assert call.calls == 1


def test_not_found_is_retried_only_when_asked() -> None:
    call = Flaky(exceptions.NotFound("topic"))
    retry_on = (exceptions.NotFound,)
    stop = threading.Event()
    assert (
        call_until_ready(call, what="x", stop=stop, logger=log, retry_on=retry_on, delays=iter([0]))
        == "ready"
    )


def test_stop_interrupts_the_wait() -> None:
    stop = threading.Event()
    call = Flaky(*[exceptions.ServiceUnavailable("down")] * 10)
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    with pytest.raises(ShutdownRequested):
        # Without the stop event this would wait an hour.
        call_until_ready(call, what="x", stop=stop, logger=log, delays=iter([3600.0] * 10))
    timer.join()
    assert call.calls == 1


def test_stop_already_set_makes_no_call() -> None:
    stop = threading.Event()
    stop.set()
    call = Flaky()
    with pytest.raises(ShutdownRequested):
        call_until_ready(call, what="x", stop=stop, logger=log)
    assert call.calls == 0
