"""Rate limits for the relay, with the clock passed in (no time.* calls here).

* :class:`LoginLimiter` — failed logins per source address (an IPv6 /64 counts as one source),
  with exponential backoff, and relay-wide, within a budget. The relay asks it *before* running
  any PAKE work, so a password guesser costs the relay almost nothing once it is throttled.
* :class:`TokenBucket` — a member's message rate, charged per message before it is served.
* :class:`ShareBudget` — the sender key shares a member may hand out, sized by the room.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

from net.proto._errors import LocalProtocolError


def source_key(host: str) -> str:
    """The unit a login limit applies to: the IPv4 address, or the IPv6 /64 network.

    IPv4-mapped IPv6 addresses count as their IPv4 address. Anything unparsable (a Unix
    socket, say) is its own key.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Record:
    failures: int
    blocked_until: float
    last_seen: float


class LoginLimiter:
    """Counts failed logins per source and says how long a source must wait.

    The first ``free_failures`` failures cost nothing; after that each failure doubles the wait,
    from ``base_delay`` up to ``max_delay`` seconds. A source with no failure for ``forget_after``
    seconds starts afresh. A correct password erases nothing: a source is an address, not a
    person, and a guesser behind the same NAT as a member must not get fresh free guesses every
    time that member logs in.

    Relay-wide, every failure also spends one from a budget of ``global_burst`` failures that
    earns one back every ``global_refill`` seconds (a token bucket): an attacker with many
    addresses, each with its own free failures, still gets no more guesses than that. The
    relay asks :meth:`budget_wait` before any PAKE work, for every source.

    At most ``max_sources`` sources are tracked, so a spray of addresses cannot grow the relay's
    memory; but a source is never forgotten while its failures count (forgetting a throttled
    guesser to make room for a spray would set it free). When every tracked source's failures
    still count, an untracked source must wait as if throttled, until the oldest record ages
    out.
    """

    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 3600.0,
        max_sources: int = 10_000,
        global_burst: int = 30,
        global_refill: float = 60.0,
    ) -> None:
        if global_burst < 1 or global_refill <= 0:
            raise LocalProtocolError("global_burst must be >= 1 and global_refill > 0")
        self._free_failures = free_failures
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._forget_after = forget_after
        self._max_sources = max_sources
        # Oldest failure first: a record moves to the end on each failure.
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._global_burst = global_burst
        self._global_refill = global_refill
        self._budget = float(global_burst)  # as of _budget_at
        self._budget_at: float | None = None

    def budget(self, now: float) -> float:
        """Failed logins the relay-wide budget allows right now (fractional: it refills
        continuously, one every ``global_refill`` seconds, up to ``global_burst``)."""
        if self._budget_at is None:
            return self._budget
        earned = max(0.0, now - self._budget_at) / self._global_refill
        return min(float(self._global_burst), self._budget + earned)

    def budget_wait(self, now: float) -> float:
        """Seconds until the relay-wide budget allows one more failed login; 0.0 if it does."""
        return max(0.0, (1.0 - self.budget(now)) * self._global_refill)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds ``key`` must still wait before it may try a password; 0.0 if it may now."""
        record = self._lookup(key, now)
        if record is None:
            return self._wait_for_room(now)
        return max(0.0, record.blocked_until - now)

    def record_failure(self, key: str, now: float) -> float:
        """Count one failed login; returns the wait now imposed on ``key`` (0.0 if none)."""
        self._budget = max(0.0, self.budget(now) - 1.0)
        self._budget_at = now
        record = self._lookup(key, now)
        if record is None:
            wait = self._wait_for_room(now)
            if wait > 0:
                # Only a login admitted before the table filled can get here; from now on the
                # source is refused as throttled, and the relay-wide budget counted this one.
                return wait
            record = _Record(failures=0, blocked_until=now, last_seen=now)
            self._records[key] = record
        record.failures += 1
        record.last_seen = now
        self._records.move_to_end(key)
        excess = record.failures - self._free_failures
        if excess > 0:
            delay = min(self._max_delay, self._base_delay * 2 ** min(excess - 1, 32))
            record.blocked_until = max(record.blocked_until, now + delay)
        return max(0.0, record.blocked_until - now)

    def failures(self, key: str, now: float) -> int:
        """How many recent failures ``key`` has (for log lines and tests)."""
        record = self._lookup(key, now)
        return 0 if record is None else record.failures

    def __len__(self) -> int:
        return len(self._records)

    def _lookup(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now >= self._expiry(record):
            del self._records[key]
            return None
        return record

    def _expiry(self, record: _Record) -> float:
        """When ``record``'s failures stop counting (a blocked source always counts)."""
        return max(record.last_seen + self._forget_after, record.blocked_until)

    def _wait_for_room(self, now: float) -> float:
        """0.0 if a new source can be tracked, forgetting only records that no longer count;
        else the seconds until the oldest record does."""
        while len(self._records) >= self._max_sources:
            oldest = next(iter(self._records.values()))
            expiry = self._expiry(oldest)
            if now < expiry:
                return expiry - now
            self._records.popitem(last=False)
        return 0.0


class TokenBucket:
    """Allows ``rate`` events per second on average, and bursts of up to ``burst``.

    Two ways to spend: :meth:`take_up_to` charges before serving (a member's messages: what
    the bucket does not cover waits, so no more than ``burst`` pass at once, however they are
    framed); :meth:`take` charges after serving and may run into debt (the caller pauses until
    it is repaid).
    """

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, *, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise LocalProtocolError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._tokens = float(burst)
        self._updated = now

    def take(self, count: int, now: float) -> float:
        """Spend ``count`` tokens. Returns 0.0 if they were available, else how many seconds
        until the debt is repaid (the tokens are spent anyway: the caller should pause)."""
        self._refill(now)
        self._tokens -= count
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self._rate

    def take_up_to(self, count: int, now: float) -> int:
        """Spend as many whole tokens as there are, ``count`` at most; return how many were
        spent (0 while a debt from :meth:`take` is being repaid). Serve that many events now;
        the rest wait for :meth:`wait`."""
        self._refill(now)
        granted = min(count, int(self._tokens)) if self._tokens >= 1 else 0
        self._tokens -= granted
        return granted

    def wait(self, count: int, now: float) -> float:
        """Seconds until ``count`` whole tokens are there (at most ``burst``); 0.0 if they are."""
        self._refill(now)
        missing = min(float(count), self._burst) - self._tokens
        return max(0.0, missing / self._rate)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)


class ShareBudget:
    """The sender key shares (SHARES) one member may hand out: a token bucket whose size
    follows the room, ``max(minimum, per_member × members)`` shares with ``members`` the room's
    current size, and which refills in ``refill`` seconds from empty.

    Sized so that an honest member can hand a new sender key to every member of a full room
    a few times in a row (a leave, then another, then answers to WANTED) without waiting,
    while a flood of shares costs its sender that room's worth every ``refill`` seconds at
    most. Starts full.
    """

    __slots__ = ("_minimum", "_per_member", "_refill", "_tokens", "_updated")

    def __init__(
        self, *, minimum: int = 64, per_member: int = 4, refill: float = 30.0, now: float
    ) -> None:
        if minimum < 1 or per_member < 0 or refill <= 0:
            raise LocalProtocolError("minimum must be >= 1, per_member >= 0 and refill > 0")
        self._minimum = minimum
        self._per_member = per_member
        self._refill = refill
        self._tokens: float | None = None  # full, whatever the room's size turns out to be
        self._updated = now

    def capacity(self, members: int) -> int:
        """The most shares that can go out at once in a room of ``members``."""
        return max(self._minimum, self._per_member * members)

    def take(self, count: int, *, members: int, now: float) -> float:
        """Spend ``count`` shares in a room of ``members``. Returns 0.0 if they were
        available, else how many seconds until the debt is repaid (spent anyway, as
        :meth:`TokenBucket.take`: the caller should pause)."""
        capacity = self.capacity(members)
        rate = capacity / self._refill
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        tokens = capacity if self._tokens is None else self._tokens + elapsed * rate
        tokens = min(float(capacity), tokens) - count
        self._tokens = tokens
        if tokens >= 0:
            return 0.0
        return -tokens / rate
