import pytest

from dashboard.config import LOOPBACK_HOSTS
from dashboard.limits import AddressCounts, TokenBucket, host_allowed, origin_allowed


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


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("localhost:8080", LOOPBACK_HOSTS, True),
        ("127.0.0.1", LOOPBACK_HOSTS, True),
        ("[::1]:8080", LOOPBACK_HOSTS, True),
        ("LOCALHOST:8080", LOOPBACK_HOSTS, True),
        # A DNS-rebinding page: its own name, pointed at 127.0.0.1.
        ("rebind.evil.example:8080", LOOPBACK_HOSTS, False),
        ("localhost.evil.example", LOOPBACK_HOSTS, False),
        (None, LOOPBACK_HOSTS, False),
        ("", LOOPBACK_HOSTS, False),
        ("dash.corp.example", ("*.corp.example",), True),
        ("corp.example", ("*.corp.example",), False),
        ("anything", ("*",), True),
    ],
)
def test_host_check(host: str | None, allowed: tuple[str, ...], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


def test_a_rebinding_page_fails_the_origin_check_even_when_host_and_origin_agree() -> None:
    # Behind a proxy that lets any Host through (DASHBOARD_ALLOWED_HOSTS=*), the origin
    # must still name a host the dashboard answers to.
    origin, host = "http://rebind.evil.example:8080", "rebind.evil.example:8080"
    assert not origin_allowed(origin, host, (), LOOPBACK_HOSTS)
    assert origin_allowed("http://localhost:8080", "localhost:8080", (), LOOPBACK_HOSTS)
    assert origin_allowed("https://dash.example", "dash.example", (), ("dash.example",))


def test_address_counts_admit_up_to_the_limit_per_address_and_pair_releases() -> None:
    counts = AddressCounts(limit=2)
    assert [counts.open("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert counts.open("10.0.0.2"), "another address has its own allowance"
    assert counts.first_refusal("10.0.0.1")
    assert not counts.first_refusal("10.0.0.1"), "said once, not once per connection"
    counts.release("10.0.0.1")  # the refused one closes: still at the limit
    assert not counts.first_refusal("10.0.0.1")
    counts.release("10.0.0.1")  # below it
    assert counts.open("10.0.0.1")
    assert not counts.open("10.0.0.1")
    assert counts.first_refusal("10.0.0.1"), "a new episode of refusals is said again"
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"):
        counts.release(address)
    assert (counts.counts, counts.refusing) == ({}, set())
