"""A member over its message rate, through real sockets: its leaving goes ahead of its queued
chat, every message is charged before it is stored (a frame of many is served a burst at a
time, in order, acknowledged as stored), and one sender cannot push the room's history out.

The relay's clock is a :class:`ManualClock` that stands still unless a test moves it, so a
throttled member stays throttled for as long as a test needs: whatever passes, passes because
the relay let it, not because time went by.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from net import proto
from net.proto import Reason
from net.relay import RelayConfig
from net.relay.backlog import BOUND
from tests.net.relay.support import ManualClock, wait_until
from tests.net.wire import WireClient

BURST = int(RelayConfig.message_burst)  # 20
RATE = RelayConfig.message_rate  # 5 a second
HISTORY = RelayConfig.history  # 100


def _stored_ids(client: WireClient) -> list[bytes]:
    """The message ids the relay acknowledged to ``client`` (as stored), in order."""
    return [i for e in client.events if isinstance(e, proto.MessagesStored) for i in e.message_ids]


def _opened_from(client: WireClient, sender: str) -> list[proto.ChatOpened]:
    """The messages ``client`` read from ``sender`` (live or in history), in order."""
    return [e for e in client.events if isinstance(e, proto.ChatOpened) and e.sender == sender]


def _has_id(message_id: bytes) -> Callable[[proto.Event], bool]:
    def match(event: proto.Event) -> bool:
        return isinstance(event, proto.ChatOpened) and event.message_id == message_id

    return match


def _acknowledged(message_id: bytes) -> Callable[[proto.Event], bool]:
    def match(event: proto.Event) -> bool:
        return isinstance(event, proto.MessagesStored) and message_id in event.message_ids

    return match


def _pipe(client: WireClient, count: int, *, per_frame: int = 1, pad: int = 0) -> list[bytes]:
    """Send ``count`` messages (``pad`` more letters each) as fast as the socket takes them,
    ``per_frame`` to a CHAT frame (one is how a client flushing each piped line sends them);
    their ids, in order."""
    ids: list[bytes] = []
    for start in range(0, count, per_frame):
        texts = [f"line {n} " + "x" * pad for n in range(start, min(count, start + per_frame))]
        ids += client.say(*texts)
    return ids


def _welcome(client: WireClient) -> proto.Welcomed:
    (welcomed,) = (e for e in client.events if isinstance(e, proto.Welcomed))
    return welcomed


def _arrived(*members: WireClient) -> None:
    """Wait until each of ``members`` has heard of those who joined after it (so that their
    first messages go with their sender keys, and nobody reads them late)."""
    for index, member in enumerate(members):
        for _ in members[index + 1 :]:
            member.wait_type(proto.MemberArrived)


# -- leaving ---------------------------------------------------------------------------------


def test_a_member_who_leaves_behind_300_queued_messages_is_gone_within_2_s(relays) -> None:
    clock = ManualClock()  # stands still: what waits for the piper's rate would wait for ever
    relay = relays.start(clock=clock)
    alice, bob = relays.member("alice"), relays.member("bob")
    piper = relays.member("piper")
    _arrived(alice, bob, piper)
    ids = _pipe(piper, 300)
    piper.proto.send_goodbye(Reason.LEAVING, "bye")
    piper.flush()
    for member in (alice, bob):
        left = member.wait_type(proto.MemberDeparted, timeout=2.0)
        assert left == proto.MemberDeparted(name="piper", code=Reason.LEAVING)
    piper.wait_closed()
    # What its rate let through before it left was stored and broadcast; what waited was
    # dropped (never acknowledged: its client hands it back as not sent), and nobody got any
    # of it, before or after the departure.
    assert relay.stats().members == ("alice", "bob")
    assert relay.stats().history == BURST
    bob.say("still here")
    alice.wait_for(lambda e: isinstance(e, proto.ChatOpened) and e.text == "still here")
    for member in (alice, bob):
        assert [e.message_id for e in _opened_from(member, "piper")] == ids[:BURST]
    assert set(_stored_ids(piper)) <= set(ids[:BURST])


def test_a_member_whose_connection_ends_behind_queued_chat_is_gone_within_2_s(relays) -> None:
    clock = ManualClock()
    relay = relays.start(clock=clock)
    alice = relays.member("alice")
    piper = relays.member("piper")
    _arrived(alice, piper)
    ids = _pipe(piper, 300, per_frame=3)
    piper.sock.shutdown(socket.SHUT_WR)  # EOF, as when its process is killed
    left = alice.wait_type(proto.MemberDeparted, timeout=2.0)
    assert left == proto.MemberDeparted(name="piper", code=Reason.CONNECTION_LOST)
    assert relay.stats().history == BURST
    assert [e.message_id for e in _opened_from(alice, "piper")] == ids[:BURST]


def test_a_member_far_over_its_rate_stops_being_read_and_loses_nothing(relays) -> None:
    clock = ManualClock()
    relay = relays.start(clock=clock)
    alice = relays.member("alice")
    flooder = relays.member("flooder")
    _arrived(alice, flooder)
    ids = _pipe(flooder, 400, per_frame=50, pad=800)  # about 400 KB
    flooder.wait_type(proto.NoticeReceived)

    def reading_and_waiting() -> tuple[bool, int]:
        (member,) = (m for m in relay.relay._connections if m.name == "flooder")
        assert member.transport is not None
        waiting = 0 if member.waiting is None else member.waiting.size
        return member.transport.is_reading(), waiting

    # The relay holds what waits up to its bound (and the read that passed it), then leaves
    # the rest in the sockets: TCP pushes back on the sender.
    wait_until(lambda: not relay.call(reading_and_waiting)[0], what="reading to pause")
    assert BOUND < relay.call(reading_and_waiting)[1] <= BOUND + (256 + 64) * 1024
    # Time passes: each turn serves its burst, no more, in order; reading resumes once what
    # waits is under the bound; nothing is dropped.
    for turn in range(len(ids) // BURST):
        served = (turn + 1) * BURST
        alice.wait_for(_has_id(ids[served - 1]))  # the flooder reads meanwhile
        assert len(_opened_from(alice, "flooder")) == served
        clock.advance(3600.0)
    wait_until(lambda: relay.call(reading_and_waiting) == (True, 0), what="reading to resume")
    flooder.wait_for(_acknowledged(ids[-1]))
    assert _stored_ids(flooder) == ids
    assert [e.message_id for e in _opened_from(alice, "flooder")] == ids


# -- messages, not frames ----------------------------------------------------------------------


def test_one_frame_of_many_messages_is_served_a_burst_at_a_time_in_order(relays) -> None:
    clock = ManualClock()
    relays.start(clock=clock)
    alice = relays.member("alice")
    sender = relays.member("sender")
    _arrived(alice, sender)
    ids = sender.say(*(f"batch {n}" for n in range(100)))  # one CHAT frame
    notice = sender.wait_type(proto.NoticeReceived)
    assert notice.code is Reason.RATE_LIMITED
    # Charged before they are stored: the burst and no more, exactly those acknowledged.
    sender.wait_for(_acknowledged(ids[BURST - 1]))
    assert _stored_ids(sender) == ids[:BURST]
    alice.wait_for(_has_id(ids[BURST - 1]))
    clock.advance(1.0)  # one second's tokens
    served = BURST + int(RATE)
    sender.wait_for(_acknowledged(ids[served - 1]))
    assert _stored_ids(sender) == ids[:served]
    while served < len(ids):
        clock.advance(3600.0)  # the bucket fills to its burst, never past it
        served = min(len(ids), served + BURST)
        sender.wait_for(_acknowledged(ids[served - 1]))
        assert _stored_ids(sender) == ids[:served]  # each once, in the order sent
    alice.wait_for(_has_id(ids[-1]))
    assert [e.text for e in _opened_from(alice, "sender")] == [f"batch {n}" for n in range(100)]


def test_a_flood_by_one_member_leaves_the_others_recent_history(relays) -> None:
    # The rule: one member stores at most its burst at once and then its rate, so a joiner
    # who comes t seconds after a flood began still gets at least HISTORY - BURST - RATE × t of
    # the others' newest messages (80 of 100 at once, with the defaults).
    assert BURST < HISTORY
    clock = ManualClock()
    relays.start(clock=clock)
    alice = relays.member("alice")
    flooder = relays.member("flooder")
    _arrived(alice, flooder)
    said: list[bytes] = []
    for turn in range(HISTORY // BURST):
        said += alice.say(*(f"alice {turn * BURST + n}" for n in range(BURST)))
        alice.wait_for(_acknowledged(said[-1]))
        clock.advance(3600.0)
    flooded: list[bytes] = []
    for _ in range(4):  # 1,000 messages in four frames, as fast as they go
        flooded += flooder.say(*(f"flood {n}" for n in range(250)))
    flooder.wait_for(_acknowledged(flooded[BURST - 1]))
    assert _stored_ids(flooder) == flooded[:BURST]
    history = _welcome(relays.member("newcomer")).history
    assert len(history) == HISTORY
    assert [e.message_id for e in history] == said[BURST:] + flooded[:BURST]
    clock.advance(1.0)
    flooder.wait_for(_acknowledged(flooded[BURST + int(RATE) - 1]))
    history = _welcome(relays.member("later")).history
    assert [e.message_id for e in history] == said[BURST + int(RATE) :] + flooded[: BURST + 5]
