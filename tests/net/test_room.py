"""net.proto.Room: names, joins and leaves, seal-once broadcasts, history and its trimming.

No I/O: members are plain strings standing in for connections, and broadcasts are opened with
a BroadcastOpener exactly as a client would.
"""

from __future__ import annotations

import pytest

from crypto.transport import BroadcastOpener, BroadcastSealer
from net.proto import LocalProtocolError
from net.proto._frames import MAX_RELAY_FRAME, FrameType, Reason
from net.proto._messages import (
    BroadcastItem,
    ChatItem,
    JoinedItem,
    LeftItem,
    OutgoingMessage,
    Welcome,
    decode_items,
)
from net.proto._relay import encode_broadcast
from net.proto._room import JoinRejected, Room, item_size
from tests.net.helpers import split_frames

KEY = bytes(range(32))


def message(n: int, size: int = 40) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=n.to_bytes(16, "big"),
        timestamp_ms=1000 + n,
        content_type="text/plain",
        sealed=bytes([n % 256]) * size,
    )


def open_all(data: bytes, opener: BroadcastOpener) -> list[list]:
    """Every broadcast frame in ``data``, opened in order: a list of item lists."""
    out = []
    for body in split_frames(data):
        assert body[0] == FrameType.BROADCAST
        out.append(list(decode_items(opener.open(FrameType.BROADCAST, body[1:]))))
    return out


@pytest.fixture
def room() -> Room[str]:
    return Room(broadcast_key=KEY, max_members=3, history_limit=5)


def add(room: Room[str], username: str) -> str:
    name = room.check_join(username)
    room.join(name, f"conn-{name}")
    return name


# -- names and membership -------------------------------------------------------------------


def test_names_are_unique_ignoring_case(room) -> None:
    add(room, "Alice")
    for clash in ("alice", "ALICE", "Alice"):
        with pytest.raises(JoinRejected) as info:
            room.check_join(clash)
        assert info.value.code is Reason.NAME_TAKEN
        assert "already called" in info.value.text


@pytest.mark.parametrize("bad", ["", " alice", "a" * 33, "bad\x00name", "zero\u200bwidth"])
def test_invalid_names_are_rejected_in_plain_words(room, bad) -> None:
    with pytest.raises(JoinRejected) as info:
        room.check_join(bad)
    assert info.value.code is Reason.NAME_INVALID
    assert info.value.text  # validate_username's sentence, for the person joining


def test_names_are_nfc_normalised(room) -> None:
    assert add(room, "Jose\u0301") == "Jos\u00e9"
    with pytest.raises(JoinRejected):
        room.check_join("JOS\u00c9")


def test_room_full_at_max_members(room) -> None:
    for name in ("a", "b", "c"):
        add(room, name)
    with pytest.raises(JoinRejected) as info:
        room.check_join("d")
    assert info.value.code is Reason.ROOM_FULL
    room.leave("b", Reason.LEAVING)
    assert room.check_join("d") == "d"


def test_join_twice_without_check_is_a_bug(room) -> None:
    add(room, "alice")
    with pytest.raises(LocalProtocolError):
        room.join("ALICE", "conn-2")


def test_leave_with_a_stale_handle_keeps_the_new_member(room) -> None:
    room.join("alice", "old-conn")
    assert room.leave("alice", Reason.CONNECTION_LOST, handle="old-conn")
    room.flush()
    room.join("alice", "new-conn")
    # The old connection finishes closing later: it must not remove the reconnected alice.
    assert not room.leave("alice", Reason.CONNECTION_LOST, handle="old-conn")
    assert room.members == ("alice",)
    assert room.handles() == ["new-conn"]
    assert not room.leave("nobody", Reason.LEAVING)


# -- broadcasts -----------------------------------------------------------------------------


def test_flush_with_nothing_pending_seals_nothing(room) -> None:
    assert room.flush() is None
    assert room.broadcasts_sealed == 0


def test_everything_pending_goes_out_in_one_sealed_broadcast(room) -> None:
    add(room, "alice")
    add(room, "bob")
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    room.submit("alice", [message(1), message(2)])
    room.submit("bob", [message(3)])
    room.leave("bob", Reason.LEAVING)
    before = room.broadcasts_sealed
    data = room.flush()
    assert room.broadcasts_sealed == before + 1
    (items,) = open_all(data, opener)
    assert [type(item) for item in items] == [ChatItem, ChatItem, ChatItem, LeftItem]
    assert [item.sender for item in items[:3]] == ["alice", "alice", "bob"]  # attested
    assert items[3] == LeftItem(name="bob", code=Reason.LEAVING)
    assert room.flush() is None


def test_a_joiner_is_announced_to_the_others_before_it_is_added(room) -> None:
    add(room, "alice")
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    room.submit("alice", [message(1)])
    name = room.check_join("bob")
    others = room.handles()
    data = room.join(name, "conn-bob")
    assert others == ["conn-alice"]  # who gets ``data``: not the joiner
    (items,) = open_all(data, opener)
    assert [type(item) for item in items] == [ChatItem, JoinedItem]
    assert items[1] == JoinedItem(name="bob")
    welcome = room.welcome("bob")
    # The message was flushed before the welcome: bob gets it in history, and only there.
    assert [item.message_id for item in welcome.history] == [message(1).message_id]
    assert welcome.next_seq == room.next_seq
    room.submit("bob", [message(2)])
    joiner = BroadcastOpener(KEY, next_seq=welcome.next_seq)
    (later,) = open_all(room.flush(), joiner)  # the first broadcast bob is written opens
    assert [item.sender for item in later] == ["bob"]
    assert welcome.members == ("alice", "bob")
    assert welcome.broadcast_key == KEY
    assert welcome.max_message_bytes == room.max_message_bytes


def test_history_is_added_at_flush_in_broadcast_order(room) -> None:
    add(room, "alice")
    room.submit("alice", [message(1)])
    assert room.history == ()  # pending is not history yet: a joiner gets it by broadcast
    room.flush()
    room.submit("alice", [message(2), message(3)])
    room.flush()
    assert [item.timestamp_ms for item in room.history] == [1001, 1002, 1003]


def test_history_keeps_the_last_n_chat_items_only(room) -> None:
    add(room, "alice")
    for n in range(1, 9):
        room.submit("alice", [message(n)])
        room.flush()
    assert [item.timestamp_ms for item in room.history] == [1004, 1005, 1006, 1007, 1008]
    assert all(isinstance(item, ChatItem) for item in room.history)


def test_history_zero_keeps_nothing() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=0)
    room.join("alice", "a")
    room.submit("alice", [message(1)])
    room.flush()
    assert room.history == ()


def test_broadcast_over_the_frame_cap_is_split_in_order() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=100)
    room.join("alice", "a")
    room.flush()
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    # 40 messages of 60 KB: ~2.4 MB, over the 1 MiB client cap.
    room.submit("alice", [message(n, size=60_000) for n in range(40)])
    data = room.flush()
    assert data is not None
    groups = open_all(data, opener)
    assert len(groups) == 3
    assert all(len(body) <= MAX_RELAY_FRAME for body in split_frames(data))
    flat = [item.timestamp_ms for group in groups for item in group]
    assert flat == [1000 + n for n in range(40)]


def test_welcome_history_is_trimmed_to_fit_the_client_cap() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=100, max_members=300)
    for n in range(200):
        room.join(f"member number {n:03d} with a long name"[:32], f"c{n}")
    for n in range(100):
        room.submit("member number 000 with a long na", [message(n, size=30_000)])
        room.flush()
    # 100 × 30 KB would be 3 MB; what is kept is bounded, and the welcome fits 1 MiB.
    assert sum(item_size(item) for item in room.history) <= MAX_RELAY_FRAME
    welcome = room.welcome("member number 199 with a long na")
    encoded = Welcome(
        your_name=welcome.name,
        members=welcome.members,
        broadcast_key=welcome.broadcast_key,
        next_seq=welcome.next_seq,
        max_message_bytes=welcome.max_message_bytes,
        history=tuple(welcome.history),
    ).encode()
    assert 1 + len(encoded) + 16 <= MAX_RELAY_FRAME
    history = welcome.history
    assert 20 < len(history) < 100
    assert history[-1].timestamp_ms == 1099  # the newest ones are the ones kept
    assert [h.timestamp_ms for h in history] == sorted(h.timestamp_ms for h in history)


def test_item_size_matches_the_encoding() -> None:
    sealer_items: list[BroadcastItem] = [
        ChatItem.from_outgoing(message(7, size=123), sender="Zoë"),
        JoinedItem(name="Zoë"),
        LeftItem(name="bob", code=Reason.SLOW_READER),
    ]
    frame = encode_broadcast(BroadcastSealer(KEY), sealer_items)
    body_len = int.from_bytes(frame[:4], "big")
    assert body_len == 1 + 8 + 2 + sum(item_size(i) for i in sealer_items) + 16


def test_each_room_gets_its_own_random_broadcast_key() -> None:
    assert Room().broadcast_key != Room().broadcast_key
    assert len(Room().broadcast_key) == 32


def test_member_list_follows_joins_and_leaves_and_sizes_the_welcome() -> None:
    room: Room[str] = Room(broadcast_key=KEY)
    for name in ("alice", "Zoë", "bob"):
        room.join(name, name)
    assert room.members == ("alice", "Zoë", "bob")
    assert room.members is room.members  # cached between changes
    room.leave("zoë", Reason.LEAVING)
    assert room.members == ("alice", "bob")
    room.join("Ünïcødé", "u")
    assert room.members == ("alice", "bob", "Ünïcødé")
    welcome = room.welcome("Ünïcødé")
    encoded = Welcome(
        your_name=welcome.name,
        members=welcome.members,
        broadcast_key=welcome.broadcast_key,
        next_seq=welcome.next_seq,
        max_message_bytes=welcome.max_message_bytes,
        history=(),
    ).encode()
    assert Welcome.decode(encoded).members == ("alice", "bob", "Ünïcødé")
    # The running byte count equals what the member list encodes to.
    assert room._name_bytes == sum(1 + len(n.encode()) for n in room.members)
