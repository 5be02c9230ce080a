"""net.relay fan-out: what is pending goes out sealed once, in one write per member.

Driven without sockets: members are recording fakes, and the flush (at the end of a loop
iteration, or a moment later for presence) is ``Relay._flush()`` called by hand. What matters
is that coalescing never changes what a member receives: everyone in the room gets every
broadcast sealed after its WELCOME, in order, and nothing sealed before it.
"""

from __future__ import annotations

import os

from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from crypto.transport import BroadcastOpener
from net.proto import JoinRequested, MemberInfo, Reason
from net.proto._frames import FrameType
from net.proto._messages import BroadcastItem, ChatItem, JoinedItem, WelcomeArgs, decode_items
from net.relay import Relay, RelayConfig
from net.relay.roomfile import RoomSecret
from tests.net.helpers import split_frames

KEYS = derive_room_keys("fan-out test password", room_id=bytes(16), n=2**4)
ENVELOPE = bytes(range(16)) + bytes(4) + b"sealed, never opened by the relay" * 6


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class _Protocol:
    def __init__(self) -> None:
        self.welcome: WelcomeArgs | None = None
        self.rejected: tuple[Reason | int, str] | None = None
        self.acks: list[list[bytes]] = []  # each send_ack's message ids

    def send_ack(self, message_ids: list[bytes]) -> bool:
        self.acks.append(list(message_ids))
        return True

    def accept_join(self, welcome: WelcomeArgs) -> None:
        self.welcome = welcome

    def reject_join(self, code: Reason | int, text: str) -> None:
        self.rejected = (code, text)


class _Member:
    def __init__(self, name: str) -> None:
        self.identity = Identity.generate()
        self.transport = _Transport()
        self.protocol = _Protocol()
        self.peer = "test"
        self.name: str | None = None
        self.request = JoinRequested(
            username=name,
            signing_key=self.identity.signing_public,
            dh_key=self.identity.dh_public,
            tag=os.urandom(32),  # the relay cannot check it: it lists what it was given
        )
        self.ended: list[Reason] = []
        self.unicast_flushes = 0

    @property
    def info(self) -> MemberInfo:
        return MemberInfo(
            name=self.request.username,
            signing_key=self.identity.signing_public,
            dh_key=self.identity.dh_public,
            tag=self.request.tag,
        )

    def joined(self, name: str) -> None:
        self.name = name

    def flush(self) -> None:
        """What the protocol queued (an ACK) is written: a unicast write, not a broadcast."""
        self.unicast_flushes += 1

    def end(self, code: Reason, text: str, *, announce: bool = True) -> None:
        self.ended.append(code)

    def received(self) -> list[list[BroadcastItem]]:
        welcome = self.protocol.welcome
        assert welcome is not None, "not joined"
        opener = BroadcastOpener(welcome.broadcast_key, next_seq=welcome.next_seq)
        return [
            list(decode_items(opener.open(FrameType.BROADCAST, body[1:])))
            for data in self.transport.writes
            for body in split_frames(data)
        ]


def _relay() -> Relay:
    return Relay(RoomSecret.from_room_keys(KEYS), RelayConfig(port=0))


def _join(relay: Relay, member: _Member) -> None:
    relay.join(member, member.request)  # type: ignore[arg-type]  # a recording fake


def test_joins_and_chat_between_flushes_go_out_in_one_write_per_member_the_joiners_too():
    relay = _relay()
    alice, bob, carol = _Member("alice"), _Member("bob"), _Member("carol")
    _join(relay, alice)
    relay._flush()
    alice.transport.writes.clear()  # her own JOINED item
    _join(relay, bob)
    _join(relay, carol)
    relay.submit(bob, (memoryview(ENVELOPE),))
    assert alice.transport.writes == []  # nothing written before the flush
    relay._flush()
    for member in (alice, bob, carol):
        assert len(member.transport.writes) == 1
    assert alice.transport.writes[0] is bob.transport.writes[0]  # the same bytes, sealed once
    chat = ChatItem(sender="bob", envelope=ENVELOPE)  # the envelope as sent, attested
    everything = [JoinedItem(member=bob.info), JoinedItem(member=carol.info), chat]
    assert alice.received() == [everything]
    # The joiners open it from their welcome's next_seq: it is the first broadcast for them.
    assert bob.received() == [everything]
    assert carol.received() == [everything]
    assert carol.protocol.welcome is not None
    assert carol.protocol.welcome.members == (alice.info, bob.info, carol.info)
    # Alice's join (sealed with nobody else to get it), then one seal for everything else.
    assert relay.room.broadcasts_sealed == 2
    # The message was stored before the seal: its sender alone is told (ACK), after it.
    assert bob.protocol.acks == [[ENVELOPE[:16]]] and bob.unicast_flushes == 1
    assert alice.protocol.acks == carol.protocol.acks == []


def test_a_joiner_gets_the_broadcast_that_announces_it():
    relay = _relay()
    alice, bob = _Member("alice"), _Member("bob")
    _join(relay, alice)
    _join(relay, bob)
    relay._flush()
    joined = [JoinedItem(member=alice.info), JoinedItem(member=bob.info)]
    assert alice.received() == [joined]
    assert bob.received() == [joined]
    relay._flush()  # nothing pending: nothing written
    assert len(alice.transport.writes) == len(bob.transport.writes) == 1
