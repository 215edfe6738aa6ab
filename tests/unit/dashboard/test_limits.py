import pytest

from dashboard.limits import TokenBucket, origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        ("http://localhost:8080", "localhost:8080", (), True),  # the page's own origin
        ("http://LOCALHOST:8080/", "localhost:8080", (), True),
        ("http://evil.example", "localhost:8080", (), False),
        ("http://localhost:9999", "localhost:8080", (), False),  # another port, another origin
        ("null", "localhost:8080", (), False),  # a sandboxed or file: page
        (None, "localhost:8080", (), True),  # not a browser: no cross-site page involved
        ("http://evil.example", "localhost:8080", ("*",), True),
        ("https://ops.example", "dash:8080", ("https://ops.example",), True),
        # With a list, only the list: the same origin too must be on it.
        ("http://dash:8080", "dash:8080", ("https://ops.example",), False),
        ("http://localhost:8080", None, (), False),
    ],
)
def test_origin_check(
    origin: str | None, host: str | None, allowed: tuple[str, ...], expected: bool
) -> None:
    assert origin_allowed(origin, host, allowed) is expected


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.wait_time(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.wait_time(0.0) == pytest.approx(0.1)  # the next token, in 1/rate
    assert bucket.wait_time(0.05) == pytest.approx(0.05)
    assert bucket.wait_time(0.1) == 0.0
    # A long pause refills to the burst, not beyond it.
    assert [bucket.wait_time(100.0) for _ in range(4)][-1] > 0


def test_token_bucket_sustained_rate() -> None:
    bucket = TokenBucket(rate=50, burst=50)
    sent, now = 0, 0.0
    while now < 10:
        if bucket.wait_time(now) == 0:
            sent += 1
        now += 0.001
    assert 540 <= sent <= 551  # the burst plus 50 a second for 10 s
