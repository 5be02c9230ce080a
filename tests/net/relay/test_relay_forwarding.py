"""The relay forwards envelopes unread: byte for byte, whatever is inside, at one seal per
broadcast however many members receive it; it refuses an envelope by its size alone.

The real Relay and MemberConnection through in-memory transports (tests/net/relay/memory.py):
what the relay writes is read raw, and its broadcasts are opened here with the room's key, so
the test sees the CHAT items exactly as every member receives them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from crypto import epoch as epoch_keys
from crypto import transport
from crypto.envelope import MAX_OVERHEAD, MIN_SIZE, seal_message
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.transport import BroadcastOpener
from net import proto
from net.proto import MAX_MESSAGE_BYTES, Reason
from net.proto._frames import FrameType
from net.proto._messages import BroadcastItem, ChatItem, decode_items, encode_chat
from net.relay.roomfile import RoomSecret
from net.relay.server import Relay
from tests.net.helpers import split_frames, types_of
from tests.net.relay.memory import MemoryPeer
from tests.net.relay.support import BASE

pytestmark = pytest.mark.timeout(60)


def test_the_documented_envelope_bounds() -> None:
    # docs/PROTOCOL.md section 5 and docs/RELAY.md state these numbers.
    assert (MIN_SIZE, MAX_OVERHEAD) == (177, 432)


def opaque(n: int, size: int) -> bytes:
    """``size`` bytes with message id ``n``: no honest client sealed them."""
    return n.to_bytes(16, "big") + bytes([n % 256]) * (size - 16)


def broadcast_items(data: bytes, key: bytes) -> list[BroadcastItem]:
    """The items of every BROADCAST frame in ``data``, opened with the room key."""
    items: list[BroadcastItem] = []
    for body in split_frames(data):
        assert body[0] == FrameType.BROADCAST, f"not a broadcast: {body[0]:#x}"
        seq = int.from_bytes(body[1:9], "big")
        opener = BroadcastOpener(key, next_seq=seq)
        items += decode_items(opener.open(FrameType.BROADCAST, body[1:]))
    return items


class _Room:
    """A started relay and joined members, for one test body (inside ``asyncio.run``)."""

    def __init__(self, relay: Relay, members: dict[str, MemoryPeer]) -> None:
        self.relay = relay
        self.members = members

    def queue_raw(self, name: str, *envelopes: bytes) -> MemoryPeer:
        """Member ``name`` seals ``envelopes`` as given in one CHAT frame; ``send()`` it."""
        peer = self.members[name]
        peer.proto._send_sealed(FrameType.CHAT, encode_chat(list(envelopes)))
        return peer

    def send_raw(self, name: str, *envelopes: bytes) -> None:
        """Member ``name`` sends ``envelopes`` as given, in one CHAT frame."""
        self.queue_raw(name, *envelopes).send()

    async def settle(self) -> None:
        for _ in range(5):  # the read, the flush at the end of the loop iteration, closes
            await asyncio.sleep(0)


async def _with_room(
    secret: RoomSecret,
    keys: RoomKeys,
    body: Callable[[_Room], Any],
    names: tuple[str, ...] = ("alice", "bob", "carol"),
    **overrides: Any,
) -> None:
    # close_timeout: the peers stop reading when the body ends; stop() need not wait long.
    # presence_delay 0: the joins go out with the loop iteration that settle() waits for.
    config = dataclasses.replace(BASE, close_timeout=0.05, presence_delay=0)
    relay = Relay(secret, dataclasses.replace(config, **overrides))
    await relay.start()
    try:
        members = {}
        for port, name in enumerate(names, start=50000):
            members[name] = MemoryPeer(relay, name, keys, port=port)
            await members[name].join()
        await asyncio.sleep(0)
        for peer in members.values():
            peer.transport.take()  # the joins, announced: not what these tests look at
        await body(_Room(relay, members))
    finally:
        await relay.stop()


class _Counting:
    """Counts calls of a method on a class, for the span of a ``with`` block."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> None:
        self.calls = 0
        self._monkeypatch, self._cls, self._method = monkeypatch, cls, method

    def __enter__(self) -> _Counting:
        original = getattr(self._cls, self._method)

        def counting(inner: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(inner, *args, **kwargs)

        self._monkeypatch.setattr(self._cls, self._method, counting)
        return self

    def __exit__(self, *exc: object) -> None:
        self._monkeypatch.undo()


def test_envelopes_are_forwarded_byte_for_byte_whatever_they_hold(
    secret, room_keys, monkeypatch
) -> None:
    async def body(room: _Room) -> None:
        alice, bob = room.members["alice"], room.members["bob"]

        # Alice's sender key of epoch 1, as her share would have handed it to bob.
        alice_key = epoch_keys.new_sender_key()
        bob.proto.keyring.remember(alice.identity.signing_public, 1, alice_key, from_owner=True)
        alices = epoch_keys.message_key(
            alice_key, room_id=room_keys.room_id, signing_key=alice.identity.signing_public, epoch=1
        )

        def sealed(n: int, *, key: bytes, by: Identity, sender: str = "alice") -> bytes:
            return seal_message(
                key,
                identity=by,
                room_id=room_keys.room_id,
                sender=sender,
                message_id=n.to_bytes(16, "big"),
                epoch=1,
                counter=n,
                timestamp_ms=1000 + n,
                content_type="text/plain",
                body=f"message {n}".encode(),
            )

        envelopes = [
            sealed(1, key=alices, by=alice.identity),  # an honest message
            sealed(2, key=alices, by=bob.identity),  # signed by someone else
            sealed(3, key=alices, by=alice.identity, sender="carol"),  # sealed for another sender
            sealed(4, key=bytes(32), by=alice.identity),  # sealed without alice's key
            opaque(5, MIN_SIZE),  # not an envelope at all, of the smallest size
            opaque(6, MAX_MESSAGE_BYTES + MAX_OVERHEAD),  # and of the largest
            (7).to_bytes(16, "big") + bytes(MIN_SIZE),  # zeros to the end: nothing to trim
        ]
        broadcasts_before = room.relay.room.broadcasts_sealed
        sender = room.queue_raw("alice", *envelopes)  # sealed by alice's client, not counted
        with (
            _Counting(monkeypatch, transport.BroadcastSealer, "seal") as broadcast_seals,
            _Counting(monkeypatch, transport.FrameSealer, "seal") as unicast_seals,
        ):
            sender.send()
            await room.settle()
        # One seal for everyone, no per-member sealing, nothing opened or re-encoded; the one
        # unicast seal is the ACK to alice alone (all seven ids are stored, whatever they hold).
        assert broadcast_seals.calls == 1
        assert unicast_seals.calls == 1
        assert room.relay.room.broadcasts_sealed == broadcasts_before + 1
        expected = [ChatItem(sender="alice", envelope=e) for e in envelopes]
        received = {name: peer.transport.take() for name, peer in room.members.items()}
        # The same bytes for every member; alice's ACK comes after them, in a frame of its own.
        sent = received["bob"]
        assert received["carol"] == sent == received["alice"][: len(sent)]
        assert types_of(received["alice"][len(sent) :]) == [FrameType.ACK]
        alice.proto.receive_data(received["alice"])
        stored = [e for e in alice.proto.events_received() if isinstance(e, proto.MessagesStored)]
        assert stored == [proto.MessagesStored(message_ids=tuple(e[:16] for e in envelopes))]
        assert broadcast_items(received["bob"], room.relay.room.broadcast_key) == expected
        # Judging them is the members' business: one message opens, the rest are flagged.
        bob.proto.receive_data(received["bob"])
        events = bob.proto.events_received()
        assert [type(e) for e in events] == [proto.ChatOpened] + [proto.ChatForged] * 6
        # The opaque ones name keys no member has (their header is the filler): another key
        # than alice's, the name the relay attests.
        assert [e.why for e in events if isinstance(e, proto.ChatForged)] == [
            proto.Forgery.WRONG_KEY,
            proto.Forgery.UNREADABLE,
            proto.Forgery.UNREADABLE,
            *[proto.Forgery.WRONG_KEY] * 3,
        ]
        # And the history keeps the same bytes for whoever joins later.
        assert room.relay.room.history[-len(envelopes) :] == tuple(
            b"\x01\x05alice" + len(e).to_bytes(4, "big") + e for e in envelopes
        )

    asyncio.run(_with_room(secret, room_keys, body))


LIMIT = 1000  # the room's max_message_bytes in the size tests: the bound follows the setting


@pytest.mark.parametrize(
    ("size", "goodbye"),
    [
        pytest.param(MIN_SIZE - 1, Reason.PROTOCOL_ERROR, id="shorter-than-its-fixed-fields"),
        pytest.param(MIN_SIZE, None, id="smallest"),
        pytest.param(LIMIT + MAX_OVERHEAD, None, id="largest"),
        pytest.param(LIMIT + MAX_OVERHEAD + 1, Reason.MESSAGE_TOO_LARGE, id="one-byte-over"),
        pytest.param(MAX_MESSAGE_BYTES + MAX_OVERHEAD, Reason.MESSAGE_TOO_LARGE, id="default-max"),
    ],
)
def test_envelopes_outside_the_size_bounds_are_refused(
    secret, room_keys, size: int, goodbye: Reason | None
) -> None:
    async def body(room: _Room) -> None:
        alice, bob = room.members["alice"], room.members["bob"]
        key = room.relay.room.broadcast_key
        # An envelope of the right size first, in the same frame: a bad one spoils the frame.
        room.send_raw("alice", opaque(1, MIN_SIZE), opaque(2, size))
        await room.settle()
        if goodbye is None:
            assert broadcast_items(bob.transport.take(), key) == [
                ChatItem(sender="alice", envelope=opaque(1, MIN_SIZE)),
                ChatItem(sender="alice", envelope=opaque(2, size)),
            ]
            assert room.relay.room.members == ("alice", "bob")
            return
        alice.read()
        assert isinstance(alice.events[-1], proto.GoodbyeReceived)
        assert alice.events[-1].code is goodbye
        assert room.relay.room.members == ("bob",)
        items = broadcast_items(bob.transport.take(), key)
        assert items == [proto.LeftItem(name="alice", code=Reason.PROTOCOL_ERROR)]  # no chat

    asyncio.run(
        _with_room(secret, room_keys, body, names=("alice", "bob"), max_message_bytes=LIMIT)
    )
