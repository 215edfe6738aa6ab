"""What every seam does with a return that is awaitable: a failure, never a success."""

import asyncio
import inspect
import warnings

import pytest

from common.seams import not_awaitable


def test_a_plain_return_passes_through() -> None:
    result = object()
    assert not_awaitable(result, "the handler") is result
    assert not_awaitable(None, "the handler") is None


def test_a_coroutine_is_refused_and_closed_so_nothing_warns_later() -> None:
    async def handle() -> None:
        raise AssertionError("never run")

    coroutine = handle()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would raise
        with pytest.raises(TypeError, match=r"^the handler returned an awaitable \(coroutine\)"):
            _ = not_awaitable(coroutine, "the handler")
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


def test_any_awaitable_is_refused() -> None:
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        with pytest.raises(TypeError, match=r"^the task function returned an awaitable \(Future\)"):
            not_awaitable(future, "the task function")
    finally:
        loop.close()
