"""The relay's admission policy, driven directly: no event loop, no sockets, no sleeps.

:class:`Admission` is called here the way :mod:`net.relay.member` calls it: ``connect`` on
accept, ``ready_for_pake`` on the first bytes, ``pake_done`` when a PAKE is settled,
``handshake_done`` on joining and ``gone`` on closing. Connections are plain strings,
``"<address>:<port>"``, which also serve as the peer text in log lines. The clock is a fake that
tests move in whole milliseconds.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from net.proto import Reason
from net.relay.admission import Admission, Admit, Hold, PakeOutcome, Queue, Refuse

A = "10.0.0.1"
B = "10.0.0.2"

Wakes = list[tuple[str, Admit | Hold | Refuse]]


#: A queued connection's place, with the default queue_timeout (30 s).
def queued(position: int) -> Queue:
    return Queue(position=position, wait_ms=30_000)


BUSY = "The relay is busy; try again in a moment."
SOURCE_BUSY = "Too many connections from your address are still logging in; try again in a moment."


class Clock:
    """Monotonic seconds that move only when a test says so, in milliseconds."""

    def __init__(self, start_ms: int = 1_000_000) -> None:
        self.ms = start_ms

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, ms: int) -> None:
        self.ms += ms


class Door:
    """An :class:`Admission` with its clock, and the driver's side of the conversation."""

    def __init__(self, **limits: Any) -> None:
        self.clock = Clock()
        self.admission: Admission[str] = Admission(clock=self.clock, **limits)
        self._ports = itertools.count(40001)

    def connect(self, source: str = A) -> tuple[str, Admit | Refuse]:
        """A new connection from ``source``, and what accepting it decided."""
        conn = f"{source}:{next(self._ports)}"
        return conn, self.admission.connect(conn, source=source, peer=conn)

    def admitted(self, source: str = A) -> str:
        """A connection accepted that has sent nothing yet (silent: no handshake slot)."""
        conn, decision = self.connect(source)
        assert decision == Admit()
        return conn

    def running(self, source: str = A) -> str:
        """A connection whose first bytes started its PAKE at once."""
        conn = self.admitted(source)
        assert self.admission.ready_for_pake(conn) == Admit()
        assert self.admission.has_pake_slot(conn)
        return conn

    def held(self, source: str = A) -> str:
        """A connection whose first bytes wait for its address's turn."""
        conn = self.admitted(source)
        assert self.admission.ready_for_pake(conn) == Hold()
        assert not self.admission.has_pake_slot(conn)
        return conn

    def wrong_guesses(self, count: int, source: str = A) -> None:
        """``count`` whole failed logins from ``source``, one after another, each closing."""
        for _ in range(count):
            conn = self.running(source)
            _, wakes = self.admission.pake_done(conn, PakeOutcome.FAILURE)
            assert wakes == []
            assert self.admission.gone(conn) == ([], [])

    def failures(self, source: str = A) -> int:
        return self.admission.logins.failures(source, self.clock())


def throttled(conn: str, seconds: int, retry_ms: int | None = None, *, logged: bool) -> Refuse:
    """The refusal of ``conn`` while its address must wait ``seconds`` (rounded up)."""
    return Refuse(
        code=Reason.TOO_MANY_ATTEMPTS,
        text=f"Too many wrong passwords from your address; try again in {seconds} s.",
        retry_after_ms=seconds * 1000 if retry_ms is None else retry_ms,
        log=f"refused {conn}: too many attempts, retry in {seconds} s" if logged else None,
    )


def over_budget(conn: str, seconds: int, retry_ms: int | None = None, *, logged: bool) -> Refuse:
    """The refusal of ``conn`` while the relay-wide failure budget is spent for ``seconds``."""
    return Refuse(
        code=Reason.TOO_MANY_ATTEMPTS,
        text=f"Too many wrong passwords on this relay; try again in {seconds} s.",
        retry_after_ms=seconds * 1000 if retry_ms is None else retry_ms,
        log=(
            f"refused {conn}: too many failed logins relay-wide, retry in {seconds} s"
            if logged
            else None
        ),
    )


def addresses(count: int, start: int = 0) -> list[str]:
    """``count`` distinct source addresses: 10.9.0.0, 10.9.0.1 …"""
    return [f"10.9.{i // 256}.{i % 256}" for i in range(start, start + count)]


def refused(decision: Admit | Hold | Queue | Refuse | None) -> Refuse:
    assert isinstance(decision, Refuse), decision
    return decision


def assert_nothing_left(door: Door) -> None:
    """Every count is back to zero and no per-address record outlives its connections.

    The private tables are looked at on purpose: a counter that keeps one zero entry per
    address ever seen is a leak the public counts cannot show.
    """
    admission = door.admission
    assert admission.handshakes == 0
    assert admission.waiting() == 0
    assert admission.silent == 0
    assert not admission._entries
    assert not admission._silent_by_source
    assert not admission._by_source
    assert not admission._pakes
    assert not admission._waiting
    assert admission.queued == 0
    assert not admission._queue
    assert not admission._queued_by_source


@pytest.fixture
def door() -> Door:
    """Admission with the relay's default limits: 1024 silent connections, 16 per address; 64
    handshakes, 16 per address; then a queue of 2048, 256 per address, 30 s; 5 free failures,
    then 1 s doubling up to 300 s, 30 failures relay-wide and one more per 60 s; one refusal
    line per address per 10 s."""
    return Door()


# -- silent connections and handshake slots --------------------------------------------------


def test_a_connection_takes_a_handshake_slot_only_with_its_first_bytes(door: Door) -> None:
    conn, decision = door.connect()
    assert decision == Admit()
    assert (door.admission.silent, door.admission.handshakes) == (1, 0)
    assert door.admission.ready_for_pake(conn) == Admit()
    assert (door.admission.silent, door.admission.handshakes) == (0, 1)
    assert door.admission.has_pake_slot(conn)


def test_silent_connections_do_not_keep_members_out(door: Door) -> None:
    # Sixteen idle sockets from each of four addresses used to hold all 64 handshake slots.
    for source in addresses(4):
        for _ in range(16):
            door.admitted(source)
    assert (door.admission.silent, door.admission.handshakes) == (64, 0)
    member = door.running(B)  # joins at once
    assert door.admission.pake_done(member, PakeOutcome.SUCCESS) == ([], [])


def test_past_the_relay_wide_handshake_limit_connections_queue_in_order() -> None:
    door = Door(max_handshakes=3)
    first, second, _ = door.running(A), door.running(B), door.running("10.0.0.3")
    one, two = door.admitted("10.0.0.4"), door.admitted("10.0.0.5")  # silent: no slot needed
    assert door.admission.ready_for_pake(one) == queued(1)
    assert door.admission.ready_for_pake(two) == queued(2)
    assert (door.admission.handshakes, door.admission.queued, door.admission.silent) == (3, 2, 0)
    assert not door.admission.has_pake_slot(one)  # no password work while queued
    # A PAKE ending frees no handshake slot; joining does, and the first in line takes it.
    assert door.admission.pake_done(first, PakeOutcome.SUCCESS) == ([], [])
    assert door.admission.handshake_done(first) == [(one, Admit())]
    assert door.admission.has_pake_slot(one)
    assert door.admission.queued == 1
    # A connection closing mid-handshake frees its slot for the next one too.
    assert door.admission.gone(second) == ([], [(two, Admit())])
    assert (door.admission.handshakes, door.admission.queued) == (3, 0)


def test_one_address_waits_for_its_share_without_holding_up_the_others() -> None:
    door = Door(max_handshakes=64, max_handshakes_per_source=2, free_failures=5)
    first, _ = door.running(A), door.running(A)
    mine = door.admitted(A)
    assert door.admission.ready_for_pake(mine) == queued(1)
    other = door.running(B)  # other addresses go first: their share is free
    assert door.admission.handshake_done(other) == []  # not A's slot: A still waits
    assert door.admission.gone(first) == ([], [(mine, Admit())])
    assert door.admission.has_pake_slot(mine)


def test_out_of_the_queue_a_connection_may_still_wait_for_its_pake_turn() -> None:
    # One free failure left: the address runs one PAKE at a time, whatever its slots.
    door = Door(max_handshakes=2, free_failures=1)
    first = door.running(A)
    second = door.held(A)  # a handshake slot, but not the PAKE turn
    third = door.admitted(A)
    assert door.admission.ready_for_pake(third) == queued(1)
    assert door.admission.pake_done(first, PakeOutcome.SUCCESS) == ([], [(second, Admit())])
    assert door.admission.handshake_done(first) == [(third, Hold())]  # a slot, not the turn
    assert door.admission.pake_done(second, PakeOutcome.SUCCESS) == ([], [(third, Admit())])


def test_a_full_queue_refuses_busy() -> None:
    door = Door(max_handshakes=1, max_queued=2)
    door.running(A)
    for position in (1, 2):
        assert door.admission.ready_for_pake(door.admitted(B)) == queued(position)
    conn = door.admitted("10.0.0.3")
    assert door.admission.ready_for_pake(conn) == Refuse(
        code=Reason.BUSY,
        text=BUSY,
        retry_after_ms=1000,
        log=f"refused {conn}: busy (1 handshakes in progress, 2 queued)",
    )
    assert door.admission.queued == 2  # the refused one took no place
    assert door.admission.gone(conn) == ([], [])


def test_an_address_may_queue_only_so_many_connections() -> None:
    door = Door(max_handshakes_per_source=1, max_queued_per_source=1)
    door.running(A)
    assert door.admission.ready_for_pake(door.admitted(A)) == queued(1)
    conn = door.admitted(A)
    assert door.admission.ready_for_pake(conn) == Refuse(
        code=Reason.BUSY,
        text=SOURCE_BUSY,
        retry_after_ms=1000,
        log=f"refused {conn}: busy (1 handshakes in progress and 1 queued from {A})",
    )
    assert door.admission.ready_for_pake(door.admitted(B)) == Admit()  # others unaffected


def test_a_connection_still_queued_at_its_deadline_is_refused_busy() -> None:
    door = Door(max_handshakes=1)
    first = door.running(A)
    late, woken = door.admitted(B), door.admitted("10.0.0.3")
    assert door.admission.ready_for_pake(late) == queued(1)
    assert door.admission.ready_for_pake(woken) == queued(2)
    assert door.admission.queue_late(late) == Refuse(
        code=Reason.BUSY,
        text=BUSY,
        retry_after_ms=1000,
        log=f"closing {late}: waited 30 s in the queue (1 still waiting)",
    )
    assert door.admission.queued == 1  # out of the line at once, though not yet closed
    assert door.admission.handshake_done(first) == [(woken, Admit())]  # the next one's turn
    assert door.admission.queue_late(woken) is None  # its turn came in time
    assert door.admission.queue_late("never connected") is None
    for conn in (first, late, woken):
        door.admission.gone(conn)
    assert_nothing_left(door)


def test_a_queued_connection_leaving_gives_up_its_place() -> None:
    door = Door(max_handshakes=1)
    first = door.running(A)
    leaving, staying = door.admitted(B), door.admitted("10.0.0.3")
    door.admission.ready_for_pake(leaving)
    door.admission.ready_for_pake(staying)
    assert door.admission.gone(leaving) == ([], [])  # it held no slot: nobody else goes yet
    assert door.admission.gone(first) == ([], [(staying, Admit())])
    door.admission.gone(staying)
    assert_nothing_left(door)


def test_a_connection_queued_before_its_address_was_throttled_is_refused_on_its_turn() -> None:
    door = Door(max_handshakes=1, free_failures=0)
    guesser = door.running(A)
    waiting = door.admitted(A)
    assert door.admission.ready_for_pake(waiting) == queued(1)
    door.admission.pake_done(guesser, PakeOutcome.FAILURE)  # A must wait 1 s now
    (wake,) = door.admission.handshake_done(guesser)
    assert wake == (waiting, throttled(waiting, 1, logged=True))
    assert door.admission.handshakes == 0  # the refused one took no slot


def test_an_address_may_hold_only_so_many_silent_connections() -> None:
    door = Door(max_silent_per_source=2)
    first, _ = door.admitted(A), door.admitted(A)
    conn, decision = door.connect(A)
    assert decision == Refuse(
        code=Reason.BUSY,
        text="Too many connections from your address are still logging in; try again in a moment.",
        retry_after_ms=1000,
        log=f"refused {conn}: busy (2 connections from {A} have sent nothing yet)",
    )
    assert refused(door.connect(A)[1]).log is None  # one line per address per window
    door.admitted(B)  # other addresses are not affected
    assert door.admission.ready_for_pake(first) == Admit()  # it spoke: no longer silent
    door.admitted(A)


def test_the_oldest_silent_connection_makes_room_for_a_new_one() -> None:
    # A relay-wide cap that refused newcomers would let enough addresses keep everyone out.
    door = Door(max_silent=3)
    spoke = door.running("10.0.0.4")  # has sent its first bytes: never dropped
    oldest, second, third = door.admitted(A), door.admitted(B), door.admitted("10.0.0.3")
    conn, decision = door.connect("10.0.0.5")
    drop = Refuse(
        code=Reason.BUSY,
        text="The relay is busy; try again in a moment.",
        retry_after_ms=1000,
        log=f"dropped {oldest}: sent nothing, and 3 connections were waiting for their first bytes",
    )
    assert decision == Admit(drop=(oldest, drop))
    assert door.admission.silent == 3
    assert door.admission.gone(oldest) == ([], [])  # already forgotten: the close is a no-op
    newest, decision = door.connect("10.0.0.6")  # one line per window for the whole relay
    assert decision == Admit(drop=(second, dataclasses.replace(drop, log=None)))
    assert door.admission.ready_for_pake(third) == Admit()
    assert door.admission.has_pake_slot(spoke)
    for leaving in (second, third, spoke, conn, newest):
        door.admission.gone(leaving)
    assert_nothing_left(door)


def test_a_connection_still_silent_at_the_pre_hello_deadline_is_refused(door: Door) -> None:
    quiet, spoke = door.admitted(A), door.running(A)
    assert door.admission.hello_late(quiet) == Refuse(
        code=Reason.HANDSHAKE_TIMEOUT,
        text="Nothing was received in time.",
        log=f"closing {quiet}: nothing received before the deadline",
    )
    assert door.admission.hello_late(spoke) is None  # its handshake deadline runs on
    assert door.admission.hello_late("never connected") is None
    assert door.admission.silent == 1  # the entry stays until the connection is gone
    # Idle sockets from many addresses: one line per window for them all.
    others = [door.admitted(source) for source in addresses(50)]
    assert [refused(door.admission.hello_late(conn)).log for conn in others] == [None] * 50
    door.clock.advance(10_000)
    assert refused(door.admission.hello_late(others[0])).log == (
        f"closing {others[0]}: nothing received before the deadline (50 more refused since)"
    )
    for conn in [quiet, spoke, *others]:
        door.admission.gone(conn)
    assert_nothing_left(door)


def test_the_relay_wide_silent_cap_must_leave_room_for_a_newcomer() -> None:
    with pytest.raises(ValueError, match="max_silent"):
        Door(max_silent=0)


@pytest.mark.parametrize("leave", ["handshake_done", "gone"])
def test_a_handshake_slot_is_freed_once_however_often_it_is_given_back(
    door: Door, leave: str
) -> None:
    keep, conn = door.running(A), door.running(A)
    getattr(door.admission, leave)(conn)
    getattr(door.admission, leave)(conn)
    door.admission.handshake_done(conn)
    door.admission.gone(conn)
    assert door.admission.handshakes == 1  # only ``keep`` is left
    assert door.admission._by_source == {A: 1}
    door.admission.gone(keep)
    assert_nothing_left(door)


def test_joined_members_hold_no_handshake_slot() -> None:
    door = Door(max_handshakes=2, max_handshakes_per_source=2)
    for _ in range(10):  # ten members join from one address through two slots
        conn = door.running(A)
        assert door.admission.pake_done(conn, PakeOutcome.SUCCESS) == ([], [])
        door.admission.handshake_done(conn)
    assert door.admission.handshakes == 0
    assert door.connect(A)[1] == Admit()


def test_per_address_counts_do_not_grow_with_every_address_ever_seen(door: Door) -> None:
    for index in range(500):
        source = f"10.1.{index // 256}.{index % 256}"
        conn = door.running(source)
        door.admission.pake_done(conn, PakeOutcome.SUCCESS)
        door.admission.handshake_done(conn)  # joined
        door.admission.gone(conn)  # later left
    for index in range(500):
        conn, _ = door.connect(f"10.2.{index // 256}.{index % 256}")
        door.admission.gone(conn)  # closed before sending anything
    assert_nothing_left(door)


# -- PAKE turns per address (ready_for_pake) --------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "at_once"), [(0, 3), (1, 2), (2, 1), (3, 1), (4, 1)], ids=lambda v: str(v)
)
def test_an_address_runs_as_many_pakes_at_once_as_it_has_free_failures_left(
    failures: int, at_once: int
) -> None:
    door = Door(free_failures=3, base_delay=1.0)
    door.wrong_guesses(min(failures, 3))
    if failures > 3:  # the fourth failure throttled the address: wait it out
        door.wrong_guesses(failures - 3)
        door.clock.advance(1000 * 2 ** (failures - 4))
    assert door.failures() == failures
    for _ in range(at_once):
        door.running(A)
    door.held(A)
    door.held(A)
    assert door.admission.waiting() == 2
    door.running(B)  # another address takes its own turns


def test_asking_again_keeps_the_answer(door: Door) -> None:
    door.wrong_guesses(5)  # one PAKE at a time from here
    running, held = door.running(), door.held()
    assert door.admission.ready_for_pake(running) == Admit()  # later bytes of a running PAKE
    assert door.admission.ready_for_pake(held) == Hold()  # not queued twice
    assert door.admission.waiting() == 1


def test_held_connections_are_woken_in_order_as_turns_free() -> None:
    door = Door(free_failures=2)
    door.wrong_guesses(2)  # no free failure left: one PAKE at a time
    first = door.running()
    queue = [door.held() for _ in range(3)]
    other = door.running(B)
    assert door.admission.waiting() == 3
    lines, wakes = door.admission.pake_done(first, PakeOutcome.NONE)
    assert (lines, wakes) == ([], [(queue[0], Admit())])  # one turn freed, one woken
    assert door.admission.has_pake_slot(queue[0])
    assert door.admission.ready_for_pake(queue[0]) == Admit()
    assert door.admission.pake_done(other, PakeOutcome.SUCCESS) == ([], [])  # not A's turn
    _, wakes = door.admission.gone(queue[0])  # left before guessing: nothing counted
    assert wakes == [(queue[1], Admit())]
    assert door.failures() == 2
    _, wakes = door.admission.pake_done(queue[1], PakeOutcome.SUCCESS)
    assert wakes == [(queue[2], Admit())]
    assert door.admission.waiting() == 0


def test_a_success_wakes_the_next_held_connection() -> None:
    door = Door(free_failures=3)
    door.wrong_guesses(2)  # one free failure left: one PAKE at a time
    first = door.running()
    queue = [door.held() for _ in range(4)]
    lines, wakes = door.admission.pake_done(first, PakeOutcome.SUCCESS)
    assert lines == []
    assert wakes == [(queue[0], Admit())]  # the failures still count: still one at a time
    assert door.admission.waiting() == 3


def test_a_held_connection_that_goes_away_leaves_the_queue(door: Door) -> None:
    door.wrong_guesses(5)
    first = door.running()
    leaving, staying = door.held(), door.held()
    assert door.admission.gone(leaving) == ([], [])  # held: it freed no PAKE turn
    assert door.admission.waiting() == 1
    assert door.admission.gone(leaving) == ([], [])  # idempotent
    _, wakes = door.admission.pake_done(first, PakeOutcome.SUCCESS)
    assert wakes == [(staying, Admit())]
    for conn in (first, staying):
        door.admission.gone(conn)
    assert_nothing_left(door)


def test_the_last_held_connection_leaving_drops_its_address_from_the_queue(door: Door) -> None:
    door.wrong_guesses(5)
    first, held = door.running(), door.held()
    door.admission.gone(held)
    assert not door.admission._waiting
    assert door.admission.pake_done(first, PakeOutcome.FAILURE)[1] == []


# -- PAKE outcomes and the login throttle -----------------------------------------------------


def test_a_failed_pake_is_counted_and_logged(door: Door) -> None:
    conn = door.running()
    lines, wakes = door.admission.pake_done(conn, PakeOutcome.FAILURE)
    assert lines == [f"login refused from {conn}: wrong password (1 recent failures)"]
    assert wakes == []
    assert not door.admission.has_pake_slot(conn)
    conn = door.running()
    lines, _ = door.admission.pake_done(conn, PakeOutcome.FAILURE, why="bad confirmation")
    assert lines == [f"login refused from {conn}: bad confirmation (2 recent failures)"]
    assert door.failures() == 2


def test_hanging_up_during_a_pake_counts_nothing(door: Door) -> None:
    # Version 2: a guess is decided by the client's confirmation alone, which the relay counts
    # (pake_done FAILURE) when it fails; a client that hangs up before sending one (after the
    # relay's signed share, for instance) has learnt nothing, and the driver calls gone() only.
    door.wrong_guesses(4)  # one free failure left: a counted hang-up would start the backoff
    for _ in range(3):
        conn = door.running()
        assert door.admission.gone(conn) == ([], [])
    assert door.failures() == 4
    assert door.connect()[1] == Admit()


def test_a_pake_that_ends_without_a_guess_counts_nothing(door: Door) -> None:
    door.wrong_guesses(2)
    conn = door.running()
    assert door.admission.pake_done(conn, PakeOutcome.NONE) == ([], [])
    assert door.failures() == 2
    assert door.admission.gone(door.running()) == ([], [])  # hung up before our share
    assert door.failures() == 2


def test_a_success_does_not_erase_the_failures_of_others_from_the_address(door: Door) -> None:
    # A guesser behind the same NAT as a member: each time the member logs in, the guesser
    # must not get fresh free guesses.
    door.wrong_guesses(5)
    for seconds in (1, 2, 4):
        member = door.running()
        assert door.admission.pake_done(member, PakeOutcome.SUCCESS) == ([], [])
        door.admission.handshake_done(member)
        door.wrong_guesses(1)  # the guesser's next failure is not free
        conn, decision = door.connect()
        assert dataclasses.replace(refused(decision), log=None) == throttled(
            conn, seconds, logged=False
        )
        door.clock.advance(seconds * 1000)  # the member waits it out too
    assert door.failures() == 8


def test_failures_age_out_only_after_an_hour_without_one(door: Door) -> None:
    door.wrong_guesses(5)
    door.clock.advance(3_599_000)
    member = door.running()
    door.admission.pake_done(member, PakeOutcome.SUCCESS)  # a success is not a failure...
    door.admission.gone(member)
    assert door.failures() == 5
    door.clock.advance(1001)  # ...and does not keep them alive either: an hour since the last
    assert door.failures() == 0


def test_a_pake_is_settled_once(door: Door) -> None:
    conn = door.running()
    assert door.admission.pake_done(conn, PakeOutcome.FAILURE)[0] != []
    # The driver may report again (a deadline, then the close): nothing more is counted.
    assert door.admission.pake_done(conn, PakeOutcome.FAILURE) == ([], [])
    assert door.admission.gone(conn) == ([], [])
    assert door.failures() == 1
    never_asked = door.admitted()  # accepted, no bytes yet
    assert door.admission.pake_done(never_asked, PakeOutcome.FAILURE) == ([], [])
    assert door.admission.pake_done("never connected", PakeOutcome.FAILURE) == ([], [])
    assert door.failures() == 1


def test_the_throttle_starts_after_the_free_failures_and_doubles_up_to_its_cap() -> None:
    door = Door(free_failures=2, base_delay=1.0, max_delay=4.0)
    door.wrong_guesses(2)
    assert door.connect()[1] == Admit()  # free failures cost nothing
    for seconds in (1, 2, 4, 4):
        door.wrong_guesses(1)
        conn, decision = door.connect()
        assert isinstance(decision, Refuse)
        assert dataclasses.replace(decision, log=None) == throttled(conn, seconds, logged=False)
        door.clock.advance(seconds * 500)  # halfway: the wait is rounded up to whole seconds
        conn, decision = door.connect()
        assert isinstance(decision, Refuse)
        assert decision.code is Reason.TOO_MANY_ATTEMPTS
        assert decision.retry_after_ms == seconds * 500
        assert decision.text.endswith(f"try again in {max(1, seconds // 2)} s.")
        door.clock.advance(seconds * 500 - 1)
        conn, decision = door.connect()
        assert isinstance(decision, Refuse) and decision.retry_after_ms == 1
        assert decision.text.endswith("try again in 1 s.")
        door.clock.advance(1)  # expired to the millisecond
        conn, decision = door.connect()
        assert decision == Admit()
        door.admission.gone(conn)


def test_a_throttled_address_does_not_hold_back_another_one(door: Door) -> None:
    door.wrong_guesses(6)
    assert isinstance(door.connect(A)[1], Refuse)
    assert door.connect(B)[1] == Admit()
    door.running(B)


# -- the relay-wide failure budget ------------------------------------------------------------


def test_many_addresses_share_one_failure_budget(door: Door) -> None:
    # Each address has five free failures of its own; the relay as a whole has thirty.
    for source in addresses(30):
        door.wrong_guesses(1, source=source)
    first, *others = addresses(20, start=30)
    conn, decision = door.connect(first)
    assert decision == over_budget(conn, 60, logged=True)  # before any PAKE work
    for source in [*others, A]:  # every address alike, even one that never failed
        conn, decision = door.connect(source)
        assert decision == over_budget(conn, 60, logged=False)
    assert door.admission.handshakes == 0
    door.clock.advance(59_999)
    assert refused(door.connect(B)[1]).retry_after_ms == 1
    door.clock.advance(1)  # one failure earned back: one more guess, from any address
    door.wrong_guesses(1, source=B)
    conn, decision = door.connect(A)
    assert dataclasses.replace(refused(decision), log=None) == over_budget(conn, 60, logged=False)


def test_the_budget_refills_one_failure_per_interval_up_to_its_burst() -> None:
    door = Door(global_burst=3, global_refill=10.0)
    for source in addresses(3):
        door.wrong_guesses(1, source=source)
    door.clock.advance(25_000)  # two and a half failures earned back: two guesses
    for source in addresses(2, start=3):
        door.wrong_guesses(1, source=source)
    assert refused(door.connect(A)[1]).retry_after_ms == 5000  # the half is still owed
    door.clock.advance(3_600_000)  # a quiet hour refills the burst, not more
    for source in addresses(3, start=5):
        door.wrong_guesses(1, source=source)
    assert isinstance(door.connect(A)[1], Refuse)


def test_successes_do_not_spend_the_budget() -> None:
    door = Door(global_burst=2)
    for source in addresses(50):
        conn = door.running(source)
        door.admission.pake_done(conn, PakeOutcome.SUCCESS)
        door.admission.gone(conn)
    door.wrong_guesses(2, source=A)
    assert isinstance(door.connect(B)[1], Refuse)


def test_pakes_at_once_from_many_addresses_get_no_more_guesses_than_the_budget() -> None:
    # Connections from many addresses all pass the budget before any of them has failed: the
    # relay runs at most as many PAKEs at once as the budget has failures left.
    door = Door(global_burst=3)
    sources = addresses(8)
    running = [door.running(source) for source in sources[:3]]
    held = [door.held(source) for source in sources[3:]]
    assert door.admission.waiting() == 5
    lines, wakes = door.admission.pake_done(running[0], PakeOutcome.SUCCESS)
    assert (lines, wakes) == ([], [(held[0], Admit())])  # a success leaves the budget whole
    _, wakes = door.admission.pake_done(running[1], PakeOutcome.FAILURE)
    assert wakes == []  # two failures left, two PAKEs running: no turn for anyone
    _, wakes = door.admission.pake_done(running[2], PakeOutcome.FAILURE)
    assert wakes == []
    _, wakes = door.admission.pake_done(held[0], PakeOutcome.FAILURE)
    # The budget is spent: every held connection's turn brings a refusal, one line for all.
    assert wakes == [
        (held[1], over_budget(held[1], 60, logged=True)),
        *[(conn, over_budget(conn, 60, logged=False)) for conn in held[2:]],
    ]
    assert door.admission.waiting() == 0
    for conn in running + held:
        door.admission.gone(conn)
    assert_nothing_left(door)


def test_a_connection_accepted_before_the_budget_ran_out_is_refused_at_its_first_bytes(
    door: Door,
) -> None:
    early = door.admitted(A)
    for source in addresses(30):
        door.wrong_guesses(1, source=source)
    assert door.admission.ready_for_pake(early) == over_budget(early, 60, logged=True)
    assert not door.admission.has_pake_slot(early)


def test_budget_refusals_from_many_addresses_share_one_log_line_per_window() -> None:
    door = Door(global_burst=1, global_refill=3600.0)
    door.wrong_guesses(1, source=B)
    decisions = [door.connect(source) for source in addresses(100)]
    logged = [refused(d).log for _, d in decisions if refused(d).log is not None]
    assert logged == [
        f"refused {decisions[0][0]}: too many failed logins relay-wide, retry in 3600 s"
    ]
    door.clock.advance(10_000)
    conn, decision = door.connect(A)
    assert refused(decision).log == (
        f"refused {conn}: too many failed logins relay-wide, retry in 3590 s "
        "(99 more refused since)"
    )


def test_an_address_throttled_on_its_own_is_told_so_while_the_budget_is_spent() -> None:
    door = Door(free_failures=1, global_burst=2)
    door.wrong_guesses(2, source=A)  # the second failure throttles A for 1 s, and spends all
    conn, decision = door.connect(A)
    assert decision == throttled(conn, 1, logged=True)
    assert refused(door.connect(B)[1]).text.startswith("Too many wrong passwords on this relay")


# -- a connection opened before its address was throttled ------------------------------------


def test_a_connection_opened_before_the_throttle_is_refused_when_it_asks_for_its_pake(
    door: Door,
) -> None:
    early = door.admitted()  # accepted; its first bytes come later
    door.wrong_guesses(6)  # meanwhile: five free failures, and the sixth starts a 1 s wait
    # A PAKE turn is free (nothing runs from A), so only the throttle stands in the way.
    assert door.admission.ready_for_pake(early) == throttled(early, 1, logged=True)
    assert not door.admission.has_pake_slot(early)
    assert door.admission.gone(early) == ([], [])
    assert door.failures() == 6
    assert_nothing_left(door)


def test_a_connection_opened_before_the_throttle_gets_its_pake_once_the_wait_is_over(
    door: Door,
) -> None:
    early, patient = door.admitted(), door.admitted()
    door.wrong_guesses(6)
    door.clock.advance(250)
    assert door.admission.ready_for_pake(early) == throttled(early, 1, 750, logged=True)
    door.clock.advance(750)
    assert door.admission.ready_for_pake(patient) == Admit()


@pytest.mark.parametrize(
    ("end", "why"),
    [
        pytest.param(
            lambda door, conn: door.admission.pake_done(conn, PakeOutcome.FAILURE),
            "wrong password",
            id="wrong-guess",
        ),
        pytest.param(
            lambda door, conn: door.admission.pake_done(
                conn, PakeOutcome.FAILURE, why="invalid handshake share"
            ),
            "invalid handshake share",
            id="invalid-share",
        ),
    ],
)
def test_held_connections_are_refused_when_woken_into_a_throttled_address(
    door: Door, end, why: str
) -> None:
    door.wrong_guesses(5)  # the free failures are spent: one PAKE at a time
    ahead = door.running()
    first, second = door.held(), door.held()
    lines, wakes = end(door, ahead)  # the sixth wrong guess: the address must wait 1 s
    assert lines == [f"login refused from {ahead}: {why} (6 recent failures)"]
    # Their turn came, but it brings no guess; one log line for both.
    assert wakes == [
        (first, throttled(first, 1, logged=True)),
        (second, throttled(second, 1, logged=False)),
    ]
    assert door.admission.waiting() == 0
    assert not door.admission.has_pake_slot(first)
    for conn in (first, second, ahead):
        assert door.admission.gone(conn) == ([], [])
    assert door.failures() == 6
    assert_nothing_left(door)


# -- failed-login log lines -------------------------------------------------------------------


def fail(door: Door, source: str) -> tuple[str, list[str]]:
    """One failed login from ``source``; the connection and the lines to log."""
    conn = door.running(source)
    lines, _ = door.admission.pake_done(conn, PakeOutcome.FAILURE)
    assert door.admission.gone(conn) == ([], [])
    return conn, lines


def wrong(conn: str, failures: int) -> str:
    return f"login refused from {conn}: wrong password ({failures} recent failures)"


def test_failures_from_a_few_addresses_are_logged_one_by_one(door: Door) -> None:
    logged = []
    for source, failures in [(A, 1), (B, 1), (A, 2), ("10.0.0.3", 1), (A, 3), (B, 2)]:
        conn, lines = fail(door, source)
        assert lines == [wrong(conn, failures)]
        logged += lines
        door.clock.advance(1000)
    assert len(logged) == 6


def test_failures_from_many_addresses_are_summed_up_once_per_window(door: Door) -> None:
    sources = addresses(20)
    logged = []
    for source in sources:  # twenty addresses, one guess each, within two seconds
        logged += fail(door, source)[1]
        door.clock.advance(100)
    # The first three addresses are logged as before; the others are counted.
    assert logged == [
        wrong(f"{source}:{40001 + index}", 1) for index, source in enumerate(sources[:3])
    ]
    door.clock.advance(8000)  # ten seconds since the first failure: the window is over
    conn, lines = fail(door, A)
    assert lines == [
        "17 more failed logins from 17 other addresses in the last 10 s; "
        "relay-wide budget at 10 of 30",
        wrong(conn, 1),  # the first of a new window
    ]


def test_an_address_logged_one_by_one_stays_so_for_the_window(door: Door) -> None:
    for source in addresses(3):
        fail(door, source)
    for source in addresses(5, start=3):
        assert fail(door, source)[1] == []
    conn, lines = fail(door, addresses(1)[0])  # one of the first three: still its own line
    assert lines == [wrong(conn, 2)]


def test_the_summary_comes_with_the_next_connection_that_closes(door: Door) -> None:
    for source in addresses(6):
        fail(door, source)
    idle = door.admitted(A)
    door.clock.advance(9999)
    assert door.admission.gone(idle) == ([], [])  # the window is not over yet
    door.clock.advance(20_001)
    lines, _ = door.admission.gone(door.admitted(B))  # never spoke: but the window is over
    assert lines == [
        "3 more failed logins from 3 other addresses in the last 30 s; "
        "relay-wide budget at 24 of 30"
    ]
    assert door.admission.gone(door.admitted(B)) == ([], [])  # said once


# -- refusal log lines ------------------------------------------------------------------------


def test_refusal_lines_are_logged_once_per_address_per_window() -> None:
    door = Door(free_failures=0, base_delay=60.0)  # one wrong guess: a minute's wait
    door.wrong_guesses(1, source=A)
    door.wrong_guesses(1, source=B)
    logs = []
    for _ in range(4):  # a guesser knocking fast
        conn, decision = door.connect(A)
        assert isinstance(decision, Refuse)
        logs.append((conn, decision.log))
        door.clock.advance(1000)
    assert logs[0][1] == f"refused {logs[0][0]}: too many attempts, retry in 60 s"
    assert [log for _, log in logs[1:]] == [None, None, None]
    conn, decision = door.connect(B)  # another address has its own line
    assert isinstance(decision, Refuse)
    assert decision.log == f"refused {conn}: too many attempts, retry in 56 s"
    door.clock.advance(5999)  # 9.999 s after A's line
    assert refused(door.connect(A)[1]).log is None
    door.clock.advance(1)  # 10 s after it: a new line says how many went unlogged
    conn, decision = door.connect(A)
    assert isinstance(decision, Refuse)
    assert (
        decision.log == f"refused {conn}: too many attempts, retry in 50 s (4 more refused since)"
    )
    door.clock.advance(10_000)  # nothing refused in between: no count
    conn, decision = door.connect(A)
    assert isinstance(decision, Refuse)
    assert decision.log == f"refused {conn}: too many attempts, retry in 40 s"


def test_the_log_window_is_configurable() -> None:
    door = Door(free_failures=0, base_delay=60.0, log_every=2.0)
    door.wrong_guesses(1)
    assert refused(door.connect()[1]).log is not None
    door.clock.advance(1999)
    assert refused(door.connect()[1]).log is None
    door.clock.advance(1)
    log = refused(door.connect()[1]).log
    assert log is not None and log.endswith("(1 more refused since)")


def test_refusals_at_the_pake_turn_share_the_address_log_window(door: Door) -> None:
    early = door.admitted()
    door.wrong_guesses(6)
    conn, decision = door.connect()
    assert decision == throttled(conn, 1, logged=True)
    assert door.admission.ready_for_pake(early) == throttled(early, 1, logged=False)


def test_busy_refusal_lines_are_logged_once_per_address_per_window() -> None:
    # Holding its share of handshake slots and of the queue costs a client nothing but
    # stalled sockets; the next knocks from its address must not cost a log line each.
    door = Door(max_handshakes=64, max_handshakes_per_source=1, max_queued_per_source=0)
    door.running(A)
    knocks = [door.admitted(A) for _ in range(3)]
    decision = door.admission.ready_for_pake(knocks[0])
    assert isinstance(decision, Refuse) and decision.code is Reason.BUSY
    line = f"busy (1 handshakes in progress and 0 queued from {A})"
    assert decision.log == f"refused {knocks[0]}: {line}"
    assert [refused(door.admission.ready_for_pake(c)).log for c in knocks[1:]] == [None, None]
    door.clock.advance(10_000)
    conn = door.admitted(A)
    assert refused(door.admission.ready_for_pake(conn)).log == (
        f"refused {conn}: {line} (2 more refused since)"
    )


def test_relay_wide_busy_lines_are_logged_once_per_refused_address_per_window() -> None:
    door = Door(max_handshakes=1, max_queued=0)
    door.running(A)
    conn = door.admitted(B)
    assert refused(door.admission.ready_for_pake(conn)).log == (
        f"refused {conn}: busy (1 handshakes in progress, 0 queued)"
    )
    assert refused(door.admission.ready_for_pake(door.admitted(B))).log is None
    conn = door.admitted("10.0.0.3")
    assert refused(door.admission.ready_for_pake(conn)).log == (
        f"refused {conn}: busy (1 handshakes in progress, 0 queued)"
    )


def test_a_busy_line_does_not_hide_the_first_throttle_line() -> None:
    door = Door(max_handshakes_per_source=1, max_queued_per_source=0, free_failures=0)
    guesser = door.running(A)
    assert refused(door.admission.ready_for_pake(door.admitted(A))).log is not None  # busy
    door.admission.pake_done(guesser, PakeOutcome.FAILURE)  # throttled now
    door.admission.gone(guesser)
    conn, decision = door.connect(A)
    assert decision == throttled(conn, 1, logged=True)
