"""net.relay fan-out: broadcasts sealed in one loop iteration go out in one write per member.

Driven without sockets: members are recording fakes, and the end of the loop iteration is
``Relay._flush()`` called by hand. What matters is that coalescing never changes what a member
receives: everyone in the room gets every broadcast sealed after its WELCOME, in order, and
nothing sealed before it.
"""

from __future__ import annotations

from crypto.kdf import derive_room_keys
from crypto.transport import BroadcastOpener
from net.proto._frames import FrameType
from net.proto._messages import JoinedItem, OutgoingMessage, WelcomeArgs, decode_items
from net.relay import Relay, RelayConfig
from net.relay.roomfile import RoomSecret
from tests.net.helpers import split_frames

KEYS = derive_room_keys("fan-out test password", room_id=bytes(16), n=2**4)


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

    def accept_join(self, welcome: WelcomeArgs) -> None:
        self.welcome = welcome


class _Member:
    def __init__(self) -> None:
        self.transport = _Transport()
        self.protocol = _Protocol()
        self.peer = "test"
        self.name: str | None = None

    def joined(self, name: str) -> None:
        self.name = name

    def received(self) -> list[list]:
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


def test_joins_in_one_iteration_are_written_once_per_member_and_only_after_each_welcome():
    relay = _relay()
    alice, bob, carol = _Member(), _Member(), _Member()
    relay.join(alice, "alice")
    relay._flush()
    relay.join(bob, "bob")
    relay.join(carol, "carol")
    relay.submit(
        bob,
        (
            OutgoingMessage(
                message_id=bytes(16), timestamp_ms=1, content_type="text/plain", sealed=bytes(40)
            ),
        ),
    )
    assert alice.transport.writes == []  # nothing written before the iteration ends
    relay._flush()
    assert len(alice.transport.writes) == 1
    assert len(bob.transport.writes) == 1
    assert len(carol.transport.writes) == 1
    flat = [[type(item).__name__ for item in items] for items in alice.received()]
    assert flat == [["JoinedItem"], ["JoinedItem"], ["ChatItem"]]
    assert [items[0].name for items in alice.received()[:2]] == ["bob", "carol"]
    assert [[type(i).__name__ for i in items] for items in bob.received()] == [
        ["JoinedItem"],
        ["ChatItem"],
    ]
    assert bob.received()[0] == [JoinedItem(name="carol")]
    assert [[type(i).__name__ for i in items] for items in carol.received()] == [["ChatItem"]]
    assert carol.protocol.welcome.members == ("alice", "bob", "carol")


def test_a_joiner_with_nothing_after_its_welcome_gets_no_write():
    relay = _relay()
    alice, bob = _Member(), _Member()
    relay.join(alice, "alice")
    relay.join(bob, "bob")
    relay._flush()
    assert bob.transport.writes == []
    assert [items for items in alice.received()] == [[JoinedItem(name="bob")]]
