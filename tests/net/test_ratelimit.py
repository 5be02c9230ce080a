"""Login and message rate limits, driven by an explicit clock."""

import pytest

from net.proto import LocalProtocolError
from net.proto._ratelimit import LoginLimiter, TokenBucket, source_key


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:10.0.0.7", "10.0.0.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_source_key_groups_ipv6_by_64(host, key):
    assert source_key(host) == key


def test_first_failures_are_free_then_backoff_doubles():
    limiter = LoginLimiter(free_failures=3, base_delay=1.0, max_delay=8.0)
    now = 100.0
    for _ in range(3):
        assert limiter.record_failure("a", now) == 0.0
        assert limiter.retry_after("a", now) == 0.0
    assert limiter.record_failure("a", now) == 1.0
    assert limiter.retry_after("a", now + 0.5) == pytest.approx(0.5)
    assert limiter.retry_after("a", now + 1.0) == 0.0
    assert limiter.record_failure("a", now + 1.0) == 2.0
    assert limiter.record_failure("a", now + 3.0) == 4.0
    assert limiter.record_failure("a", now + 7.0) == 8.0
    assert limiter.record_failure("a", now + 15.0) == 8.0  # capped
    assert limiter.retry_after("other", now) == 0.0


def test_quiet_sources_are_forgotten():
    limiter = LoginLimiter(free_failures=1, base_delay=1.0, forget_after=60.0)
    limiter.record_failure("b", 0.0)
    assert limiter.failures("b", 30.0) == 1
    assert limiter.failures("b", 61.0) == 0


def test_tracked_sources_are_bounded():
    limiter = LoginLimiter(max_sources=100)
    for i in range(1000):
        limiter.record_failure(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter) == 100


def test_token_bucket_allows_burst_then_asks_to_wait():
    bucket = TokenBucket(rate=2.0, burst=4, now=0.0)
    assert bucket.take(4, 0.0) == 0.0
    assert bucket.take(1, 0.0) == pytest.approx(0.5)
    assert bucket.take(1, 2.0) == 0.0  # refilled 4 tokens, debt of 1 repaid


def test_token_bucket_rejects_nonsense():
    with pytest.raises(LocalProtocolError):
        TokenBucket(rate=0, burst=1, now=0.0)
