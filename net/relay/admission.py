"""Who may log in, and when: the relay's admission policy, without I/O.

:class:`Admission` decides for every connection, from accept until its password proof is
settled. The asyncio driver (:mod:`net.relay.member`) asks and carries out the answer:

* on accept, :meth:`Admission.connect` → :class:`Admit` or :class:`Refuse` (the address is
  throttled, the relay-wide failure budget is spent, or the address already has its share of
  connections that have sent nothing). A connection that has sent nothing is *silent*: it
  holds no handshake slot. Silent connections are bounded apart, per address and relay-wide;
  at the relay-wide cap the oldest is dropped to make room (``Admit.drop``), so that no number
  of addresses can keep newcomers out with idle sockets;
* if a silent connection is still silent at the pre-hello deadline, :meth:`Admission.hello_late`
  → :class:`Refuse`;
* on the first bytes, :meth:`Admission.ready_for_pake` takes a handshake slot, then →
  :class:`Admit` (run the PAKE), :class:`Hold` (keep the bytes, stop reading: other PAKEs go
  first) or :class:`Refuse` (the address was throttled, or the budget spent, since the
  connection was accepted). If every handshake slot is taken (relay-wide, or the address's
  share) → :class:`Queue`: keep the bytes, stop reading, tell the client its place in line
  (QUEUED) and wait, at most ``queue_timeout`` (:meth:`Admission.queue_late`); only a full
  queue refuses BUSY;
* when a PAKE is settled, :meth:`Admission.pake_done` with its :class:`PakeOutcome`, and when a
  connection leaves the handshake or closes, :meth:`Admission.handshake_done` /
  :meth:`Admission.gone`. These return the decisions for held and queued connections whose
  turn came.

Why a queue: a relay restart brings a whole room back at once, and members who arrive together
must all get in, in the order they came, rather than be turned away and retry against each
other. A queued connection has sent its hello and nothing else: it costs a socket and a few
dozen bytes, and no password work is done for it until its turn.

Why turns: connections opened together all pass the throttle before any of them has failed.
An address therefore runs at most as many PAKEs at once as it has free failures left (one once
they are spent), and the relay at most as many as its failure budget has left, so parallel
connections gain no guesses over sequential ones, from one address or from many, while honest
members joining together (an office, a NAT, a reconnect storm) only wait a moment.

The clock is injected (monotonic seconds); nothing here sleeps, reads the time or touches a
socket. What to log is decided here too, and handed to the driver as lines:

* refusals are de-duplicated: a throttled guesser, or a client holding its address's handshake
  slots, may knock hundreds of times a second, and one line per address and reason per
  ``log_every`` seconds says the same; refusals that hit every address alike (the spent
  budget, silent connections dropped or timed out) get one line per window for the relay;
* failed logins are logged one by one for the first few addresses of each ``log_every``
  window; failures from further addresses are summed up in one line at the end of the window
  (handed out with the next PAKE that ends or connection that closes, and saying how long it
  covers).
"""

from __future__ import annotations

import enum
import math
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from net.proto import LoginLimiter, Reason

C = TypeVar("C", bound=Hashable)

#: Distinct (address, reason) pairs whose refusal log times are remembered; past it the memory
#: starts afresh.
_MAX_LOGGED_SOURCES = 10_000
_BUSY_RETRY_MS = 1000
_BUSY_TEXT = "The relay is busy; try again in a moment."
_SOURCE_BUSY_TEXT = (
    "Too many connections from your address are still logging in; try again in a moment."
)
#: The "source" of log lines de-duplicated for the whole relay rather than per address (no
#: address key starts with "*").
_RELAY_WIDE = "*relay"
#: Per log window, failed logins from this many addresses are logged one by one; those from
#: further addresses are summed up.
_DETAILED_SOURCES = 3


# Not slotted: on Python 3.10 a slotted generic dataclass breaks ``Admit[X]()``.
@dataclass(frozen=True, kw_only=True)
class Admit(Generic[C]):
    """Go ahead: accept the connection, or run its PAKE now.

    ``drop``: to make room for this new connection, an older silent one and its refusal, to be
    carried out now (only from :meth:`Admission.connect`; that connection is already
    forgotten here)."""

    drop: tuple[C, Refuse] | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the bytes and stop reading; a later decision from ``pake_done`` or ``gone`` says
    when this connection's turn has come (or that it is refused)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue:
    """Every handshake slot is taken: keep the bytes, stop reading, send QUEUED(position,
    wait_ms) and call :meth:`Admission.queue_late` after ``wait_ms``. A later decision from
    ``handshake_done``, ``pake_done`` or ``gone`` says when its turn came: then restart its
    handshake deadline and carry that decision out."""

    position: int  # 1: next in line
    wait_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Refuse:
    """Send REFUSED(code, text, retry_after_ms) and close. ``log`` is the line to log, or None
    when an identical refusal of this address (or, for refusals that hit every address alike,
    of any address) was logged a moment ago."""

    code: Reason
    text: str
    retry_after_ms: int = 0
    log: str | None = None


Decision = Admit | Hold | Queue | Refuse  # Admit[C], for the connection type C
#: What to do with a held or queued connection whose turn came (Hold: it left the queue, and
#: now waits for its PAKE turn).
Wake = Admit[C] | Hold | Refuse


class PakeOutcome(enum.Enum):
    """How a connection's PAKE ended, for the login throttle."""

    SUCCESS = "success"  # the client proved the password
    FAILURE = "failure"  # a wrong guess, or a hang-up after our share (its answer is inferable)
    NONE = "none"  # gone before any guess was made


@dataclass(slots=True)
class _Entry:
    source: str
    peer: str
    silent: bool = True  # nothing received yet: no handshake slot
    in_handshake: bool = False
    pake_slot: bool = False
    held: bool = False  # waiting for a PAKE turn
    queued: bool = False  # waiting for a handshake slot


class Admission(Generic[C]):
    """The admission state of one relay. Create once per relay; call from its loop only.

    ``C`` is whatever the driver uses for a connection (hashable); ``source`` is the address
    unit the limits apply to (:func:`net.proto.source_key`), ``peer`` the text for log lines.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        max_handshakes: int = 64,
        max_handshakes_per_source: int = 16,
        max_silent: int = 1024,
        max_silent_per_source: int = 16,
        max_queued: int = 2048,
        max_queued_per_source: int = 256,
        queue_timeout: float = 30.0,
        free_failures: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        global_burst: int = 30,
        global_refill: float = 60.0,
        log_every: float = 10.0,
    ) -> None:
        if max_silent < 1:
            raise ValueError("max_silent must be at least 1: a newcomer needs room")
        self._clock = clock
        self._max_handshakes = max_handshakes
        self._max_per_source = max_handshakes_per_source
        self._max_silent = max_silent
        self._max_silent_per_source = max_silent_per_source
        self._max_queued = max_queued
        self._max_queued_per_source = max_queued_per_source
        self._queue_timeout = queue_timeout
        self._free_failures = free_failures
        self._global_burst = global_burst
        self._log_every = log_every
        self.logins = LoginLimiter(
            free_failures=free_failures,
            base_delay=base_delay,
            max_delay=max_delay,
            global_burst=global_burst,
            global_refill=global_refill,
        )
        self._entries: dict[C, _Entry] = {}
        self._silent: dict[C, None] = {}  # silent connections, oldest first
        self._silent_by_source: Counter[str] = Counter()
        self._handshakes = 0
        self._by_source: Counter[str] = Counter()
        self._pakes: Counter[str] = Counter()
        self._pakes_running = 0
        self._waiting: deque[C] = deque()  # held connections, oldest first, any address
        self._queue: dict[C, None] = {}  # queued connections, oldest first
        self._queued_by_source: Counter[str] = Counter()
        # (source, reason) -> (last logged, refused since)
        self._logged: dict[tuple[str, Reason], tuple[float, int]] = {}
        # The failure log window: since when, whose failures are logged one by one, and the
        # failures from other addresses not logged yet.
        self._window_start: float | None = None
        self._detailed: set[str] = set()
        self._summed = 0
        self._summed_sources: set[str] = set()

    # -- decisions ---------------------------------------------------------------------------

    def connect(self, conn: C, *, source: str, peer: str) -> Admit[C] | Refuse:
        """A new connection: admit it (silent, no handshake slot yet) or refuse it before any
        PAKE work. Arm the pre-hello deadline for an admitted one, and carry out ``drop``."""
        throttled = self._throttled(source, peer)
        if throttled is not None:
            return throttled
        if self._silent_by_source[source] >= self._max_silent_per_source:
            return Refuse(
                code=Reason.BUSY,
                text=_SOURCE_BUSY_TEXT,
                retry_after_ms=_BUSY_RETRY_MS,
                log=self._dedup_log(
                    source,
                    Reason.BUSY,
                    f"refused {peer}: busy ({self._silent_by_source[source]} connections "
                    f"from {source} have sent nothing yet)",
                ),
            )
        drop = None
        if len(self._silent) >= self._max_silent:
            # Refusing the newcomer instead would let idle sockets from enough addresses keep
            # everyone out; the oldest silent connection has had the longest to speak.
            oldest, waiting = next(iter(self._silent)), len(self._silent)
            victim = self._entries[oldest]
            self._forget(oldest)
            drop = (
                oldest,
                Refuse(
                    code=Reason.BUSY,
                    text=_BUSY_TEXT,
                    retry_after_ms=_BUSY_RETRY_MS,
                    log=self._dedup_log(
                        _RELAY_WIDE,
                        Reason.BUSY,
                        f"dropped {victim.peer}: sent nothing, and {waiting} connections "
                        "were waiting for their first bytes",
                    ),
                ),
            )
        self._entries[conn] = _Entry(source=source, peer=peer)
        self._silent[conn] = None
        self._silent_by_source[source] += 1
        return Admit(drop=drop)

    def hello_late(self, conn: C) -> Refuse | None:
        """The pre-hello deadline passed: the refusal for ``conn`` if it is still silent (it
        keeps its entry until :meth:`gone`), or None if it has spoken (its handshake deadline
        runs on)."""
        entry = self._entries.get(conn)
        if entry is None or not entry.silent:
            return None
        # One line for all of them: an attacker's idle sockets from many addresses would
        # otherwise be a line each.
        return Refuse(
            code=Reason.HANDSHAKE_TIMEOUT,
            text="Nothing was received in time.",
            log=self._dedup_log(
                _RELAY_WIDE,
                Reason.HANDSHAKE_TIMEOUT,
                f"closing {entry.peer}: nothing received before the deadline",
            ),
        )

    def ready_for_pake(self, conn: C) -> Decision:
        """``conn`` sent bytes that may start its PAKE. Call before feeding them to the core,
        until it holds a PAKE slot (:meth:`has_pake_slot`). The first call takes a handshake
        slot."""
        entry = self._entries[conn]
        if entry.pake_slot:
            return Admit()
        throttled = self._throttled(entry.source, entry.peer)
        if throttled is not None:
            return throttled
        if entry.queued or entry.held:
            return Hold()  # a driver bug: it should not read while waiting
        if entry.silent:
            self._unsilence(conn, entry)
            if not self._slot_free(entry.source):
                return self._enqueue(conn, entry)
            self._take_handshake_slot(entry)
        return self._pake_turn(conn, entry)

    def pake_done(
        self, conn: C, outcome: PakeOutcome, *, why: str = ""
    ) -> tuple[list[str], list[tuple[C, Wake[C]]]]:
        """``conn``'s PAKE is settled: count it, free its slot, and wake the next held ones.

        Returns the lines to log (the failure's, unless summed up; a summary that is due) and,
        for held connections, what to do with each now (resume its held bytes, or refuse it).
        """
        now = self._clock()
        lines = self._summary(now)
        entry = self._entries.get(conn)
        if entry is None or not entry.pake_slot:
            return lines, []
        entry.pake_slot = False
        source = entry.source
        self._pakes[source] -= 1
        self._pakes_running -= 1
        if self._pakes[source] <= 0:
            del self._pakes[source]
        # A success erases no failure: the address may be shared (NAT) with a guesser, whose
        # failures must age out, not vanish whenever a member logs in.
        if outcome is PakeOutcome.FAILURE:
            self.logins.record_failure(source, now)
            if self._log_one_by_one(source, now):
                lines.append(
                    f"login refused from {entry.peer}: {why or 'wrong password'} "
                    f"({self.logins.failures(source, now)} recent failures)"
                )
        return lines, self._wake()

    def handshake_done(self, conn: C) -> list[tuple[C, Wake[C]]]:
        """``conn`` left the handshake (joined, failed or refused): free its handshake slot.
        Returns, for queued connections whose turn came, what to do with each now."""
        entry = self._entries.get(conn)
        if entry is None or not entry.in_handshake:
            return []
        entry.in_handshake = False
        self._handshakes -= 1
        self._by_source[entry.source] -= 1
        if self._by_source[entry.source] <= 0:
            del self._by_source[entry.source]  # the counter must not grow forever
        return self._dequeue()

    def queue_late(self, conn: C) -> Refuse | None:
        """The queue deadline passed: the refusal for ``conn`` if it is still queued (it keeps
        its entry until :meth:`gone`), or None if its turn came meanwhile."""
        entry = self._entries.get(conn)
        if entry is None or not entry.queued:
            return None
        self._unqueue(conn, entry)
        return Refuse(
            code=Reason.BUSY,
            text=_BUSY_TEXT,
            retry_after_ms=_BUSY_RETRY_MS,
            log=self._dedup_log(
                _RELAY_WIDE,
                Reason.BUSY,
                f"closing {entry.peer}: waited {self._queue_timeout:g} s in the queue "
                f"({len(self._queue)} still waiting)",
            ),
        )

    def gone(self, conn: C) -> tuple[list[str], list[tuple[C, Wake[C]]]]:
        """``conn`` is closing or closed: forget it. Idempotent. Returns what :meth:`pake_done`
        does, and the queued connections whose turn came with the handshake slot it freed.

        A PAKE it leaves unsettled counts as no guess: in v2 a guess is decided only by the
        client's confirmation, and a client that hangs up before sending one learnt nothing.
        """
        entry = self._entries.get(conn)
        if entry is None:
            return self._summary(self._clock()), []
        if entry.held:
            self._waiting.remove(conn)
            entry.held = False
        if entry.queued:
            self._unqueue(conn, entry)
        lines, wakes = self.pake_done(conn, PakeOutcome.NONE)
        wakes += self.handshake_done(conn)
        self._forget(conn)
        return lines, wakes

    # -- queries -----------------------------------------------------------------------------

    def has_pake_slot(self, conn: C) -> bool:
        entry = self._entries.get(conn)
        return entry is not None and entry.pake_slot

    @property
    def handshakes(self) -> int:
        """Connections that have sent their first bytes and are not yet out of the handshake."""
        return self._handshakes

    @property
    def silent(self) -> int:
        """Connections admitted that have sent nothing yet."""
        return len(self._silent)

    def waiting(self) -> int:
        """Connections holding their bytes until their PAKE turn comes."""
        return len(self._waiting)

    @property
    def queued(self) -> int:
        """Connections holding their bytes until a handshake slot is free."""
        return len(self._queue)

    # -- internals ---------------------------------------------------------------------------

    def _slot_free(self, source: str) -> bool:
        return (
            self._handshakes < self._max_handshakes
            and self._by_source[source] < self._max_per_source
        )

    def _take_handshake_slot(self, entry: _Entry) -> None:
        entry.in_handshake = True
        self._handshakes += 1
        self._by_source[entry.source] += 1

    def _pake_turn(self, conn: C, entry: _Entry) -> Admit[C] | Hold:
        """``conn`` holds a handshake slot: run its PAKE now, or hold it until its turn."""
        if not self._may_start(entry.source):
            entry.held = True
            self._waiting.append(conn)
            return Hold()
        self._take_pake_slot(entry)
        return Admit()

    def _enqueue(self, conn: C, entry: _Entry) -> Queue | Refuse:
        """Every handshake slot ``conn`` could take is taken: queue it, unless the queue (or
        the address's share of it) is full."""
        source = entry.source
        if len(self._queue) >= self._max_queued:
            text = _BUSY_TEXT
            why = f"{self._handshakes} handshakes in progress, {len(self._queue)} queued"
        elif self._queued_by_source[source] >= self._max_queued_per_source:
            text = _SOURCE_BUSY_TEXT
            why = (
                f"{self._by_source[source]} handshakes in progress and "
                f"{self._queued_by_source[source]} queued from {source}"
            )
        else:
            entry.queued = True
            self._queue[conn] = None
            self._queued_by_source[source] += 1
            return Queue(position=len(self._queue), wait_ms=math.ceil(self._queue_timeout * 1000))
        # Busy lines are de-duplicated like throttle lines: filling the queue costs a client
        # only idle sockets, and every further knock would be a line.
        return Refuse(
            code=Reason.BUSY,
            text=text,
            retry_after_ms=_BUSY_RETRY_MS,
            log=self._dedup_log(source, Reason.BUSY, f"refused {entry.peer}: busy ({why})"),
        )

    def _unqueue(self, conn: C, entry: _Entry) -> None:
        entry.queued = False
        del self._queue[conn]
        self._queued_by_source[entry.source] -= 1
        if self._queued_by_source[entry.source] <= 0:
            del self._queued_by_source[entry.source]  # the counter must not grow forever

    def _dequeue(self) -> list[tuple[C, Wake[C]]]:
        """A handshake slot is free: the queued connections that may take one now, oldest
        first, and what to do with each. One whose address holds its share of slots waits on
        without holding up the others."""
        decisions: list[tuple[C, Wake[C]]] = []
        for conn in list(self._queue):
            if self._handshakes >= self._max_handshakes:
                break
            entry = self._entries[conn]
            if self._by_source[entry.source] >= self._max_per_source:
                continue
            self._unqueue(conn, entry)
            throttled = self._throttled(entry.source, entry.peer)
            if throttled is not None:  # queued before the throttle (or the budget) said no
                decisions.append((conn, throttled))
                continue
            self._take_handshake_slot(entry)
            decisions.append((conn, self._pake_turn(conn, entry)))
        return decisions

    def _unsilence(self, conn: C, entry: _Entry) -> None:
        if not entry.silent:
            return
        entry.silent = False
        del self._silent[conn]
        self._silent_by_source[entry.source] -= 1
        if self._silent_by_source[entry.source] <= 0:
            del self._silent_by_source[entry.source]  # the counter must not grow forever

    def _forget(self, conn: C) -> None:
        """Drop ``conn``'s entry (it holds no handshake or PAKE slot and is not held)."""
        self._unsilence(conn, self._entries[conn])
        del self._entries[conn]

    def _may_start(self, source: str) -> bool:
        """Whether a PAKE from ``source`` may start now, if neither is throttled: each running
        PAKE may end in a failure, so the address's free failures and the relay's budget must
        cover every one of them."""
        now = self._clock()
        free = self._free_failures - self.logins.failures(source, now)
        if self._pakes[source] >= max(1, free):
            return False
        return self._pakes_running < math.floor(self.logins.budget(now))

    def _take_pake_slot(self, entry: _Entry) -> None:
        entry.pake_slot = True
        self._pakes[entry.source] += 1
        self._pakes_running += 1

    def _wake(self) -> list[tuple[C, Wake[C]]]:
        """A PAKE ended: the held connections whose turn came, in order, and what to do with
        each. Few are ever held (at most one per handshake slot), so all are looked at."""
        decisions: list[tuple[C, Wake[C]]] = []
        still: deque[C] = deque()
        for conn in self._waiting:
            entry = self._entries[conn]
            throttled = self._throttled(entry.source, entry.peer)
            if throttled is not None:
                # Opened before the throttle (or the budget) said no: its turn brings no guess.
                entry.held = False
                decisions.append((conn, throttled))
            elif self._may_start(entry.source):
                entry.held = False
                self._take_pake_slot(entry)
                decisions.append((conn, Admit()))
            else:
                still.append(conn)
        self._waiting = still
        return decisions

    def _throttled(self, source: str, peer: str) -> Refuse | None:
        """The refusal for a login from ``source`` now, if its address is throttled or the
        relay-wide failure budget is spent; None if it may try."""
        now = self._clock()
        wait = self.logins.retry_after(source, now)
        if wait > 0:
            seconds = math.ceil(wait)
            return Refuse(
                code=Reason.TOO_MANY_ATTEMPTS,
                text=f"Too many wrong passwords from your address; try again in {seconds} s.",
                retry_after_ms=math.ceil(wait * 1000),
                log=self._dedup_log(
                    source,
                    Reason.TOO_MANY_ATTEMPTS,
                    f"refused {peer}: too many attempts, retry in {seconds} s",
                ),
            )
        wait = self.logins.budget_wait(now)
        if wait > 0:
            # Every address is refused alike, so one line for them all.
            seconds = math.ceil(wait)
            return Refuse(
                code=Reason.TOO_MANY_ATTEMPTS,
                text=f"Too many wrong passwords on this relay; try again in {seconds} s.",
                retry_after_ms=math.ceil(wait * 1000),
                log=self._dedup_log(
                    _RELAY_WIDE,
                    Reason.TOO_MANY_ATTEMPTS,
                    f"refused {peer}: too many failed logins relay-wide, retry in {seconds} s",
                ),
            )
        return None

    def _log_one_by_one(self, source: str, now: float) -> bool:
        """Whether a failure from ``source`` gets its own line; if not, it is summed up."""
        if self._window_start is None or now - self._window_start >= self._log_every:
            self._window_start = now
            self._detailed.clear()
        if source in self._detailed or len(self._detailed) < _DETAILED_SOURCES:
            self._detailed.add(source)
            return True
        self._summed += 1
        self._summed_sources.add(source)
        return False

    def _summary(self, now: float) -> list[str]:
        """The summary line of a finished window whose failures were summed up, once."""
        start = self._window_start
        if not self._summed or start is None or now - start < self._log_every:
            return []
        line = (
            f"{self._summed} more failed logins from {len(self._summed_sources)} other "
            f"addresses in the last {now - start:.0f} s; relay-wide budget at "
            f"{math.floor(self.logins.budget(now))} of {self._global_burst}"
        )
        self._summed = 0
        self._summed_sources = set()
        return [line]

    def _dedup_log(self, source: str, code: Reason, line: str) -> str | None:
        """``line``, or None if a refusal of ``source`` for ``code`` was logged less than
        ``log_every`` seconds ago; the first line after that says how many went unlogged."""
        now = self._clock()
        key = (source, code)
        last = self._logged.get(key)
        if last is not None and now - last[0] < self._log_every:
            self._logged[key] = (last[0], last[1] + 1)
            return None
        more = f" ({last[1]} more refused since)" if last is not None and last[1] else ""
        if len(self._logged) >= _MAX_LOGGED_SOURCES:
            self._logged.clear()
        self._logged[key] = (now, 0)
        return line + more
