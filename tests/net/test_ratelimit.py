"""Login and message rate limits, driven by an explicit clock."""

import pytest

from net.proto import LocalProtocolError
from net.proto._ratelimit import LoginLimiter, ShareBudget, TokenBucket, source_key


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


def spray(limiter: LoginLimiter, count: int, now: float, net: int = 0) -> None:
    """One failure from each of ``count`` fresh addresses."""
    for i in range(count):
        limiter.record_failure(f"10.{net}.{i // 256}.{i % 256}", now)


def test_tracked_sources_are_bounded():
    limiter = LoginLimiter(max_sources=100)
    spray(limiter, 1000, 0.0)
    assert len(limiter) == 100


def test_a_throttled_source_is_not_forgotten_to_make_room_for_a_spray():
    limiter = LoginLimiter(free_failures=2, base_delay=60.0, max_sources=100)
    for _ in range(3):
        limiter.record_failure("guesser", 0.0)
    assert limiter.retry_after("guesser", 0.0) == 60.0
    spray(limiter, 10_050, 1.0, net=1)  # more fresh addresses than the table holds
    assert limiter.retry_after("guesser", 1.0) == 59.0  # still throttled
    assert limiter.failures("guesser", 1.0) == 3
    assert len(limiter) == 100


def test_sources_whose_failures_still_count_are_not_forgotten_either():
    # One failure short of the throttle is remembered too: forgetting it would hand the
    # address its free failures again.
    limiter = LoginLimiter(free_failures=2, max_sources=10, forget_after=3600.0)
    limiter.record_failure("patient", 0.0)
    spray(limiter, 50, 10.0)
    assert limiter.failures("patient", 10.0) == 1
    limiter.record_failure("patient", 20.0)
    assert limiter.record_failure("patient", 20.0) > 0  # the third failure is not free


def test_a_new_source_waits_as_if_throttled_while_the_table_is_full_of_counting_records():
    limiter = LoginLimiter(max_sources=10, forget_after=3600.0)
    spray(limiter, 10, 100.0)
    assert limiter.retry_after("newcomer", 100.0) == 3600.0  # until the oldest ages out
    assert limiter.retry_after("newcomer", 1000.0) == 2700.0
    assert limiter.record_failure("newcomer", 1000.0) == 2700.0  # uncounted here, but refused
    assert limiter.failures("newcomer", 1000.0) == 0
    assert limiter.retry_after("newcomer", 3700.0) == 0.0  # the oldest records aged out
    limiter.record_failure("newcomer", 3700.0)
    assert limiter.failures("newcomer", 3700.0) == 1
    assert len(limiter) == 10


def test_token_bucket_allows_burst_then_asks_to_wait():
    bucket = TokenBucket(rate=2.0, burst=4, now=0.0)
    assert bucket.take(4, 0.0) == 0.0
    assert bucket.take(1, 0.0) == pytest.approx(0.5)
    assert bucket.take(1, 2.0) == 0.0  # refilled 4 tokens, debt of 1 repaid


def test_token_bucket_charged_before_grants_what_it_has_and_no_more():
    bucket = TokenBucket(rate=5.0, burst=20, now=0.0)
    assert bucket.take_up_to(1000, 0.0) == 20  # a frame of a thousand: the burst
    assert bucket.take_up_to(1000, 0.0) == 0
    assert bucket.wait(1, 0.0) == pytest.approx(0.2)
    assert bucket.take_up_to(1000, 0.3) == 1  # whole tokens only: 1.5 there
    assert bucket.wait(1, 0.3) == pytest.approx(0.1)
    assert bucket.take_up_to(1000, 3600.0) == 20  # it fills to its burst, never past it
    assert bucket.wait(50, 3600.0) == pytest.approx(4.0)  # asking for more waits for the burst
    assert bucket.take_up_to(3, 3601.0) == 3
    assert bucket.take(10, 3601.0) == pytest.approx(1.6)  # a debt (charged after) ...
    assert bucket.take_up_to(1, 3602.0) == 0  # ... is repaid before anything else passes
    assert bucket.wait(1, 3602.0) == pytest.approx(0.8)


def test_token_bucket_rejects_nonsense():
    with pytest.raises(LocalProtocolError):
        TokenBucket(rate=0, burst=1, now=0.0)


def test_share_budget_follows_the_room_size():
    budget = ShareBudget(minimum=64, per_member=4, refill=30.0, now=0.0)
    assert budget.capacity(3) == 64  # small rooms get the minimum
    assert budget.capacity(200) == 800
    # A full room of 200: a new key to the 199 others, four times in a row, for free.
    for _ in range(4):
        assert budget.take(199, members=200, now=0.0) == 0.0
    # The fifth is 796 + 199 - 800 = 195 shares over: paid back at 800 per 30 s.
    assert budget.take(199, members=200, now=0.0) == pytest.approx(195 / (800 / 30))
    assert budget.take(0, members=200, now=30.0) == 0.0  # refilled (and capped) by then


def test_share_budget_starts_full_and_never_holds_more_than_the_room_allows_now():
    budget = ShareBudget(minimum=8, per_member=2, refill=10.0, now=0.0)
    assert budget.take(20, members=10, now=5.0) == 0.0  # full at 20, however late it is used
    assert budget.take(1, members=10, now=5.0) == pytest.approx(1 / 2.0)
    # The room shrank to 2 members while time passed: the capacity is the minimum again.
    assert budget.take(0, members=2, now=1000.0) == 0.0
    assert budget.take(9, members=2, now=1000.0) == pytest.approx(1 / 0.8)


def test_share_budget_rejects_nonsense():
    with pytest.raises(LocalProtocolError):
        ShareBudget(minimum=0, now=0.0)
    with pytest.raises(LocalProtocolError):
        ShareBudget(refill=0, now=0.0)
