"""The relay hands out sender key shares and asks for keys on a member's behalf: each share to
the member it names, once, attested with its sender's key, unopened; WANT as a WANTED
broadcast item, presence-like (never in the history); both within the member's limits.

The real Relay and MemberConnection through in-memory transports (tests/net/relay/memory.py),
with bare client cores (tests/net/raw_client.py) that send exactly what a test says and record
what the relay sends back, unjudged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from crypto import transport
from crypto.envelope import MIN_SIZE
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.proto import ChatItem, JoinedItem, LeftItem, MemberInfo, Reason, WantedItem
from net.proto._messages import SHARE_BLOB_SIZE
from net.relay.roomfile import RoomSecret
from net.relay.server import Relay
from tests.net.raw_client import Ack, Notice, Share
from tests.net.relay.memory import RawPeer
from tests.net.relay.support import BASE, ManualClock

pytestmark = pytest.mark.timeout(60)

NOBODY = Identity.generate().signing_public  # a key no member of these rooms has


def blob(n: int) -> bytes:
    """Share number ``n``: opaque to the relay, as every share is."""
    return n.to_bytes(4, "big") * (SHARE_BLOB_SIZE // 4)


class _Room:
    """A started relay and joined members, for one test body (inside ``asyncio.run``)."""

    def __init__(self, relay: Relay, members: dict[str, RawPeer], keys: RoomKeys) -> None:
        self.relay = relay
        self.members = members
        self.keys = keys
        self._seen = dict.fromkeys(members, 0)

    def __getitem__(self, name: str) -> RawPeer:
        return self.members[name]

    async def settle(self) -> None:
        for _ in range(5):  # the read, the flush at the end of the loop iteration, closes
            await asyncio.sleep(0)

    def new(self, name: str) -> list[object]:
        """What the relay sent ``name`` since the last call (reading it now)."""
        peer = self.members[name]
        peer.read()
        received = peer.client.received
        fresh, self._seen[name] = received[self._seen[name] :], len(received)
        return fresh

    async def join(self, name: str, **kwargs: Any) -> RawPeer:
        peer = RawPeer(self.relay, name, self.keys, port=50000 + len(self.members), **kwargs)
        await peer.join()
        self.members[name] = peer
        self._seen[name] = len(peer.client.received)  # from the welcome on
        return peer

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Let the loop run (real timers included) until ``condition``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {condition}")
            await asyncio.sleep(0.005)


async def _with_room(
    secret: RoomSecret,
    keys: RoomKeys,
    body: Callable[[_Room], Awaitable[None]],
    names: tuple[str, ...] = ("alice", "bob", "carol"),
    **overrides: Any,
) -> None:
    # presence_delay 0 unless overridden: the joins go out with the iteration settle() waits for.
    config = dataclasses.replace(BASE, close_timeout=0.05, presence_delay=0)
    relay = Relay(secret, dataclasses.replace(config, **overrides))
    await relay.start()
    try:
        room = _Room(relay, {}, keys)
        for name in names:
            await room.join(name)
        relay._flush()  # the joins, announced (at once, whatever presence_delay says)
        await room.settle()
        for name in names:
            room.new(name)  # not what these tests look at
        await body(room)
    finally:
        await relay.stop()


def _run(secret: RoomSecret, keys: RoomKeys, body: Callable[[_Room], Awaitable[None]], **kw: Any):
    asyncio.run(_with_room(secret, keys, body, **kw))


class _Counting:
    """Counts FrameSealer.seal calls (one per unicast frame) for the span of a ``with``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._monkeypatch = monkeypatch

    def __enter__(self) -> _Counting:
        original = transport.FrameSealer.seal

        def counting(inner: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(inner, *args, **kwargs)

        self._monkeypatch.setattr(transport.FrameSealer, "seal", counting)
        return self

    def __exit__(self, *exc: object) -> None:
        self._monkeypatch.undo()


# -- routing -------------------------------------------------------------------------------


def test_a_share_reaches_its_recipient_from_the_attested_sender_unchanged(
    secret, room_keys, monkeypatch
) -> None:
    async def body(room: _Room) -> None:
        alice, bob = room["alice"], room["bob"]
        broadcasts = room.relay.room.broadcasts_sealed
        alice.client.send_shares([(bob.signing_key, blob(1))])  # sealed here, not counted
        with _Counting(monkeypatch) as seals:
            alice.send()
            await room.settle()
        assert seals.calls == 1  # one share in, one SHARE out: sealed for bob alone
        assert room.new("bob") == [Share(distributor=alice.signing_key, blob=blob(1))]
        assert room.new("alice") == []
        assert room.new("carol") == []
        assert room.relay.room.broadcasts_sealed == broadcasts  # shares are unicast

    _run(secret, room_keys, body)


def test_shares_to_an_unknown_key_to_the_sender_or_to_someone_gone_go_nowhere(
    secret, room_keys
) -> None:
    async def body(room: _Room) -> None:
        alice, bob, carol = room["alice"], room["bob"], room["carol"]
        carol.client.send_goodbye()
        carol.send()
        await room.settle()
        assert room.relay.room.members == ("alice", "bob")
        room.new("alice"), room.new("bob")
        alice.client.send_shares(
            [(NOBODY, blob(1)), (alice.signing_key, blob(2)), (carol.signing_key, blob(3))]
        )
        alice.send()
        await room.settle()
        assert room.new("alice") == []  # no complaint either: a member may have just left
        assert room.new("bob") == []
        assert carol.client.shares == []
        assert room.relay.room.members == ("alice", "bob")
        alice.client.send_shares([(bob.signing_key, blob(4))])  # and she goes on as before
        alice.send()
        await room.settle()
        assert room.new("bob") == [Share(distributor=alice.signing_key, blob=blob(4))]

    _run(secret, room_keys, body)


def test_a_mix_of_recipients_each_get_their_own_in_order(secret, room_keys, monkeypatch) -> None:
    async def body(room: _Room) -> None:
        alice, bob, carol = room["alice"], room["bob"], room["carol"]
        alice.client.send_shares(
            [
                (bob.signing_key, blob(1)),
                (carol.signing_key, blob(2)),
                (NOBODY, blob(3)),
                (bob.signing_key, blob(4)),
                (alice.signing_key, blob(5)),
            ]
        )
        with _Counting(monkeypatch) as seals:
            alice.send()
            await room.settle()
        assert seals.calls == 3
        assert room.new("bob") == [
            Share(alice.signing_key, blob(1)),
            Share(alice.signing_key, blob(4)),
        ]
        assert room.new("carol") == [Share(alice.signing_key, blob(2))]
        assert room.new("alice") == []
        # And the other way round: the relay attests whoever sent the frame.
        carol.client.send_shares([(alice.signing_key, blob(6)), (bob.signing_key, blob(7))])
        carol.send()
        await room.settle()
        assert room.new("alice") == [Share(carol.signing_key, blob(6))]
        assert room.new("bob") == [Share(carol.signing_key, blob(7))]

    _run(secret, room_keys, body)


def test_a_joiners_shares_wait_for_the_broadcast_that_announces_it(secret, room_keys) -> None:
    async def body(room: _Room) -> None:
        alice, bob = room["alice"], room["bob"]
        dave = await room.join("dave", tag=bytes([4]) * 32)
        # Dave knows everyone from his welcome and hands out his key at once; nobody knows
        # him yet (his JOINED item waits for the presence broadcast).
        dave.client.send_shares([(alice.signing_key, blob(1)), (bob.signing_key, blob(2))])
        dave.client.send_want([(alice.signing_key, 9)])
        dave.send()
        await room.settle()
        assert room.new("alice") == [] and room.new("bob") == []
        room.relay._flush()  # presence_delay later
        await room.settle()
        dave_info = MemberInfo(
            name="dave",
            signing_key=dave.signing_key,
            dh_key=dave.client.identity.dh_public,
            tag=bytes([4]) * 32,
        )
        wanted = WantedItem(requester=dave.signing_key, wanted=((alice.signing_key, 9),))
        assert room.new("alice") == [
            JoinedItem(member=dave_info),
            wanted,
            Share(dave.signing_key, blob(1)),
        ]
        assert room.new("bob") == [
            JoinedItem(member=dave_info),
            wanted,
            Share(dave.signing_key, blob(2)),
        ]
        # Announced, he is handed on at once like anyone.
        dave.client.send_shares([(alice.signing_key, blob(3))])
        dave.send()
        await room.settle()
        assert room.new("alice") == [Share(dave.signing_key, blob(3))]

    _run(secret, room_keys, body, presence_delay=3600.0)


def test_the_membership_tag_is_listed_as_the_join_carried_it(secret, room_keys) -> None:
    async def body(room: _Room) -> None:
        tag = bytes(range(32))
        dave = await room.join("dave", tag=tag)
        assert dave.client.welcome is not None
        listed = {m.name: m for m in dave.client.welcome.members}
        assert listed["dave"].tag == tag
        assert listed["alice"].tag == room["alice"].client.tag
        await room.settle()
        (joined,) = [i for i in room.new("alice") if isinstance(i, JoinedItem)]
        assert joined.member.tag == tag

    _run(secret, room_keys, body)


# -- WANT ------------------------------------------------------------------------------------


def test_want_reaches_every_member_as_wanted_attested_and_never_enters_the_history(
    secret, room_keys
) -> None:
    async def body(room: _Room) -> None:
        alice, bob, carol = room["alice"], room["bob"], room["carol"]
        envelope = bytes(16) + bytes([7]) * (MIN_SIZE - 16)
        alice.client.send_chat(envelope)
        alice.send()
        bob.client.send_want([(alice.signing_key, 3), (carol.signing_key, 1)])
        bob.send()
        await room.settle()
        wanted = WantedItem(
            requester=bob.signing_key, wanted=((alice.signing_key, 3), (carol.signing_key, 1))
        )
        chat = ChatItem(sender="alice", envelope=envelope)
        for name in ("alice", "bob", "carol"):  # bob's own copy too, as with chat
            stored = [Ack((envelope[:16],))] if name == "alice" else []  # hers, once stored
            assert room.new(name) == [chat, wanted, *stored]
        assert room.relay.room.history == (
            b"\x01\x05alice" + len(envelope).to_bytes(4, "big") + envelope,
        )
        dave = await room.join("dave")
        assert dave.client.history == (chat,)  # the message, not the request
        await room.settle()
        assert not [i for i in room.new("dave") if isinstance(i, WantedItem)]

    _run(secret, room_keys, body)


def test_wants_count_against_the_message_rate(secret, room_keys) -> None:
    clock = ManualClock()

    async def body(room: _Room) -> None:
        bob = room["bob"]
        for epoch in range(1, 5):
            bob.client.send_want([(room["alice"].signing_key, epoch)])
        bob.send()
        await room.settle()
        received = room.new("bob")
        assert Notice(Reason.RATE_LIMITED, "You are sending too fast; slow down.") in received
        # Charged before they are served: the burst's three, and the fourth waits its turn.
        assert len([i for i in received if isinstance(i, WantedItem)]) == 3
        assert bob.connection.throttled

    _run(secret, room_keys, body, clock=clock, message_rate=1.0, message_burst=3.0)


# -- the share budget ----------------------------------------------------------------------


def test_an_honest_member_rekeys_a_full_room_several_times_in_a_row(secret, room_keys) -> None:
    clock = ManualClock()  # frozen: nothing is earned back during the test
    names = ("alice", "bob", "carol", "dave", "erin")

    async def body(room: _Room) -> None:
        alice = room["alice"]
        others = [room[name].signing_key for name in names[1:]]
        # Four shares per member of the room, five members: five re-keys of the whole room.
        for n in range(5):
            alice.client.send_shares([(key, blob(n)) for key in others])
            alice.send()
            await room.settle()
            assert room.new("alice") == []
            assert not alice.connection.throttled
        for name in names[1:]:
            shares = room.new(name)
            assert shares == [Share(alice.signing_key, blob(n)) for n in range(5)]
        alice.client.send_shares([(key, blob(5)) for key in others])  # one more: past it
        alice.send()
        await room.settle()
        assert room.new("alice") == [
            Notice(Reason.RATE_LIMITED, "You are sending too fast; slow down.")
        ]
        assert alice.connection.throttled
        assert room.new("bob") == [Share(alice.signing_key, blob(5))]  # served, not dropped

    _run(
        secret,
        room_keys,
        body,
        names=names,
        clock=clock,
        max_members=5,
        share_burst_min=1,
        share_burst_per_member=4,
    )


def test_a_flood_of_shares_is_served_then_its_sender_paused_not_dropped(secret, room_keys) -> None:
    clock = ManualClock()

    async def body(room: _Room) -> None:
        alice, bob = room["alice"], room["bob"]
        # The default budget in a room of three: 64 shares. One frame of 300.
        alice.client.send_shares([(bob.signing_key, blob(n)) for n in range(300)])
        alice.send()
        await room.settle()
        assert len(room.new("bob")) == 300  # one in, one out: the frame in hand is served
        assert room.new("alice") == [
            Notice(Reason.RATE_LIMITED, "You are sending too fast; slow down.")
        ]
        assert alice.connection.throttled
        assert room.relay.stats().throttled == 1
        # What she sends now waits its turn (the relay holds a little of it, then stops
        # reading her socket: TCP pushes back).
        alice.client.send_shares([(bob.signing_key, blob(300))])
        alice.send()
        await room.settle()
        assert room.new("bob") == []
        assert room.relay.room.members == ("alice", "bob", "carol")
        clock.advance(29.0)  # 236 shares of debt at 64 per 30 s: not yet
        alice.connection._unthrottle()  # what its timer does
        assert alice.connection.throttled
        clock.advance(90.0)
        alice.connection._unthrottle()
        await room.settle()
        assert not alice.connection.throttled
        assert room.new("bob") == [Share(alice.signing_key, blob(300))]

    _run(secret, room_keys, body, clock=clock)


def test_a_recipient_who_does_not_read_its_shares_is_dropped_as_a_slow_reader(
    secret, room_keys
) -> None:
    async def body(room: _Room) -> None:
        alice, bob = room["alice"], room["bob"]
        for frame in range(2):  # about 23 KB each once sealed for bob, who reads none
            first = frame * 100
            alice.client.send_shares(
                [(bob.signing_key, blob(n)) for n in range(first, first + 100)]
            )
            alice.send()
            await room.settle()
        await room.until(lambda: room.relay.room.members == ("alice", "carol"))
        assert bob.transport.peak < 2 * 24 * 1024  # dropped once past the limit, not buffered on
        await room.settle()
        assert LeftItem(name="bob", code=Reason.SLOW_READER) in room.new("carol")
        assert not alice.connection.throttled  # the sender was within her budget
        assert room.new("alice") == [LeftItem(name="bob", code=Reason.SLOW_READER)]

    _run(secret, room_keys, body, write_buffer_limit=32 * 1024, share_burst_min=1000)
