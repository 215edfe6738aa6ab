import inspect
import re

import pytest

from common.seams import Outgoing
from publisher.loop import next_due
from publisher.sources import checked


def test_next_due_keeps_a_steady_rhythm() -> None:
    assert next_due(10.0, 5.0, now=10.2) == 15.0


def test_next_due_skips_missed_slots_instead_of_bursting() -> None:
    # The loop was paused for 22 s: publish once now, then every 5 s from now.
    assert next_due(10.0, 5.0, now=32.0) == 37.0


def test_next_due_makes_up_for_jitter_at_high_rates() -> None:
    # 1,000 msgs/s, the loop woke 2.5 ms late: the missed slots are due at once.
    assert next_due(10.0, 0.001, now=10.0025) == 10.001


def test_a_sources_return_is_checked_before_the_client_sees_it() -> None:
    good = Outgoing(b"x", {"k": "v"}, "x", 1)
    assert checked(good) is good
    assert checked(None) is None
    for wrong, problem in [
        ("text", "a source must return an Outgoing or None, not str"),
        (Outgoing("x", {}, "x", 1), "Outgoing.data must be bytes, not str"),  # type: ignore[arg-type]
        (Outgoing(b"x", [("k", "v")], "x", 1), "Outgoing.attributes must be a dict"),  # type: ignore[arg-type]
        (Outgoing(b"x", {"k": 1}, "x", 1), "Outgoing.attributes must be a dict of str to str"),  # type: ignore[dict-item]
        (Outgoing(b"x", {}, None, 1), "Outgoing.description must be a str, not NoneType"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(TypeError, match=f"^{re.escape(problem)}"):
            checked(wrong)


def test_a_source_returning_a_coroutine_fails_and_the_coroutine_is_closed() -> None:
    async def later() -> Outgoing:
        raise AssertionError("never run")

    coroutine = later()
    with pytest.raises(TypeError, match=r"^the source returned an awaitable \(coroutine\)"):
        checked(coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED
