"""After the handshake: join, welcome, chat through seal-once broadcasts, presence, pings,
notices, goodbyes, and every way a relayed message can be forged, replayed or reordered."""

from __future__ import annotations

import pytest

from crypto.envelope import MessageHeader, seal_message
from crypto.kdf import derive_room_keys
from crypto.transport import BroadcastSealer
from net import proto
from net.proto import ClientState, RelayState, WelcomeArgs, encode_broadcast
from net.proto._errors import LocalProtocolError
from net.proto._frames import MAX_CLIENT_FRAME, FrameType, Reason
from net.proto._messages import ChatItem, JoinedItem, LeftItem, PendingMessage
from net.proto._replay import RecentIds
from tests.net.helpers import (
    BROADCAST_KEY,
    MAX_MESSAGE_BYTES,
    PASSWORD,
    ROOM_ID,
    Pair,
    Room,
    make_client,
    make_relay,
    split_frames,
)


def messages(events) -> list[proto.ChatOpened]:
    return [e for e in events if isinstance(e, proto.ChatOpened)]


@pytest.fixture
def room(relay_secret) -> Room:
    return Room(relay_secret)


@pytest.fixture
def alice(room, room_keys) -> Pair:
    pair = room.connect(make_client("alice", room_keys))
    pair.take()
    return pair


@pytest.fixture
def bob(room, room_keys, alice) -> Pair:
    pair = room.connect(make_client("bob", room_keys))
    room.pump()
    pair.take()
    alice.take()
    return pair


def test_welcome_lists_members_and_history(room, room_keys, alice) -> None:
    alice.client.send_messages([("first", alice.client.new_message_id(), 1)])
    alice.client.send_messages([PendingMessage("second", alice.client.new_message_id(), 2)])
    room.pump()
    assert [m.text for m in messages(alice.take()[0])] == ["first", "second"]  # own echoes
    bob = room.connect(make_client("bob", room_keys))
    welcomed = [e for e in bob.client_events if isinstance(e, proto.Welcomed)]
    assert len(welcomed) == 1
    (welcome,) = welcomed
    assert welcome.your_name == "bob" and welcome.members == ("alice", "bob")
    assert welcome.max_message_bytes == MAX_MESSAGE_BYTES
    opened = messages(welcome.history)
    assert len(opened) == len(welcome.history)  # nothing forged
    assert [(m.sender, m.text, m.from_history) for m in opened] == [
        ("alice", "first", True),
        ("alice", "second", True),
    ]
    assert bob.client.state is ClientState.JOINED and bob.relay.state is RelayState.JOINED
    room.pump()
    assert alice.take()[0] == [proto.MemberArrived(name="bob")]


def test_chat_goes_through_one_broadcast_sealed_once(room, alice, bob) -> None:
    ids = [alice.client.new_message_id() for _ in range(3)]
    alice.client.send_messages([(f"hello {i}", ids[i], 100 + i) for i in range(3)])
    chat_frames = split_frames(alice.client.data_to_send())
    assert [body[0] for body in chat_frames] == [FrameType.CHAT]  # three messages, one frame
    alice.relay.receive_data(b"".join(len(b).to_bytes(4, "big") + b for b in chat_frames))
    (submitted,) = alice.relay.events_received()
    assert isinstance(submitted, proto.MessagesSubmitted) and len(submitted.messages) == 3
    sealed = room.room.broadcasts_sealed
    room.room.submit("alice", submitted.messages)  # what the relay does with them
    frame = room.flush()
    assert room.room.broadcasts_sealed == sealed + 1  # three messages, one seal
    # The very same bytes go to every member.
    assert alice.relay.data_to_send() == frame == bob.relay.data_to_send()
    for pair in (alice, bob):
        pair.client.receive_data(frame)
        received = messages(pair.client.events_received())
        assert [(m.sender, m.text, m.message_id, m.timestamp_ms) for m in received] == [
            ("alice", f"hello {i}", ids[i], 100 + i) for i in range(3)
        ]
        assert all(m.content_type == "text/plain" and not m.from_history for m in received)


def test_same_text_never_gives_the_same_ciphertext(alice) -> None:
    alice.client.send_messages([("same", bytes(16), 1), ("same", bytes(range(16)), 1)])
    (body,) = split_frames(alice.client.data_to_send())
    alice.relay.receive_data(len(body).to_bytes(4, "big") + body)
    (submitted,) = alice.relay.events_received()
    first, second = submitted.messages
    assert first.sealed != second.sealed


def test_presence_join_and_leave(room, alice, bob) -> None:
    bob.client.send_goodbye(Reason.LEAVING, "bye")
    assert bob.client.close_expected()
    room.pump()
    assert alice.take()[0] == [proto.MemberDeparted(name="bob", code=Reason.LEAVING)]
    assert bob.relay_events == [] and bob.relay.close_expected()


def test_ping_pong_both_ways(alice) -> None:
    alice.client.send_ping(7)
    alice.shuttle()
    assert alice.take() == ([proto.PongReceived(token=7)], [proto.PingReceived(token=7)])
    alice.relay.send_ping(2**64 - 1)
    alice.shuttle()
    assert alice.take() == (
        [proto.PingReceived(token=2**64 - 1)],
        [proto.PongReceived(token=2**64 - 1)],
    )


def test_ping_while_join_is_pending(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.handshake()
    pair.take()
    pair.client.send_ping(1)
    pair.relay.send_ping(2)
    pair.shuttle()
    assert pair.take() == (
        [proto.PingReceived(token=2), proto.PongReceived(token=1)],
        [proto.PingReceived(token=1), proto.PongReceived(token=2)],
    )


def test_notice_is_not_fatal(alice) -> None:
    alice.relay.send_notice(Reason.RATE_LIMITED, "slow down")
    alice.shuttle()
    assert alice.take()[0] == [proto.NoticeReceived(code=Reason.RATE_LIMITED, text="slow down")]
    assert not alice.client.close_expected()


def test_relay_goodbye_ends_the_connection(alice) -> None:
    alice.relay.send_goodbye(Reason.ROOM_CLOSING, "The host closed the room.")
    assert alice.relay.close_expected()
    alice.shuttle()
    assert alice.take()[0] == [
        proto.GoodbyeReceived(code=Reason.ROOM_CLOSING, text="The host closed the room.")
    ]
    assert alice.client.state is ClientState.CLOSED and alice.client.close_expected()
    alice.client.receive_data(b"\x00\x00\x00\x01\x99")  # ignored after the end
    assert alice.client.events_received() == []
    with pytest.raises(LocalProtocolError):
        alice.client.send_messages([("late", bytes(16), 1)])


def test_reject_join(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.handshake()
    pair.take()
    pair.relay.reject_join(Reason.NAME_TAKEN, "That name is taken in this room.")
    assert pair.relay.close_expected()
    pair.shuttle()
    assert pair.take()[0] == [
        proto.GoodbyeReceived(code=Reason.NAME_TAKEN, text="That name is taken in this room.")
    ]


def test_relay_must_not_rename_us(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.handshake()
    pair.relay.accept_join(
        WelcomeArgs(
            name="mallory",
            members=("mallory",),
            broadcast_key=bytes(32),
            next_seq=1,
            history=(),
            max_message_bytes=100,
        )
    )
    pair.shuttle()
    assert isinstance(pair.client_events[-1], proto.ProtocolViolation)


def test_send_raw_only_reaches_joined_members(room_keys, relay_secret, room) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    frame = room.seal(JoinedItem(name="x"))
    assert pair.relay.send_raw(frame) is False
    pair.handshake()
    assert pair.relay.send_raw(frame) is False  # join pending: not yet
    assert pair.relay.data_to_send() == b""


# -- sending limits ------------------------------------------------------------------------


def test_max_message_bytes_is_enforced_on_send(alice) -> None:
    client = alice.client
    client.send_messages([("é" * (MAX_MESSAGE_BYTES // 2), client.new_message_id(), 1)])
    client.data_to_send()
    with pytest.raises(LocalProtocolError, match="at most 4000"):
        client.send_messages(
            [
                ("ok", client.new_message_id(), 1),
                ("x" * (MAX_MESSAGE_BYTES + 1), client.new_message_id(), 1),
            ]
        )
    assert client.data_to_send() == b""  # nothing at all was sent
    with pytest.raises(LocalProtocolError):
        client.send_messages([("bad id", b"short", 1)])
    with pytest.raises(LocalProtocolError):
        client.send_messages([("bad time", bytes(16), -1)])
    assert client.data_to_send() == b""
    client.send_messages([])
    assert client.data_to_send() == b""


def test_message_limit_respects_the_frame_cap(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.handshake()
    pair.relay.accept_join(
        WelcomeArgs(
            name="alice",
            members=("alice",),
            broadcast_key=bytes(32),
            next_seq=1,
            history=(),
            max_message_bytes=10**6,
        )
    )
    pair.shuttle()
    pair.take()
    limit = pair.client.message_limit()
    assert limit < MAX_CLIENT_FRAME
    pair.client.send_messages([("x" * limit, bytes(16), 1)])
    pair.shuttle()
    (submitted,) = pair.take()[1]
    assert isinstance(submitted, proto.MessagesSubmitted)
    with pytest.raises(LocalProtocolError):
        pair.client.send_messages([("x" * (limit + 1), bytes(16), 1)])


def test_many_messages_split_into_frames_under_the_cap(alice) -> None:
    batch = [("y" * MAX_MESSAGE_BYTES, bytes([i]) * 16, i) for i in range(40)]
    alice.client.send_messages(batch)
    bodies = split_frames(alice.client.data_to_send())
    assert len(bodies) == 3 and all(len(b) <= MAX_CLIENT_FRAME for b in bodies)
    alice.relay.receive_data(b"".join(len(b).to_bytes(4, "big") + b for b in bodies))
    submitted = alice.relay.events_received()
    assert sum(len(e.messages) for e in submitted) == 40


def test_relay_rejects_a_message_above_the_room_limit(alice) -> None:
    alice.client.max_message_bytes = 10**5  # a client that ignores the room's limit
    alice.client.send_messages([("z" * (MAX_MESSAGE_BYTES + 1), bytes(16), 1)])
    alice.shuttle()
    client_events, relay_events = alice.take()
    assert relay_events == [proto.ProtocolViolation(reason="message larger than the room allows")]
    assert client_events == [
        proto.GoodbyeReceived(code=Reason.MESSAGE_TOO_LARGE, text="message too large")
    ]
    assert alice.relay.state is RelayState.FAILED


def test_relay_rejects_a_sealed_message_too_short_to_be_one(alice) -> None:
    from net.proto._messages import OutgoingMessage, encode_chat

    bad = OutgoingMessage(
        message_id=bytes(16), timestamp_ms=1, content_type="text/plain", sealed=b"x"
    )
    alice.client._send_sealed(FrameType.CHAT, encode_chat([bad]))
    alice.shuttle()
    client_events, relay_events = alice.take()
    assert isinstance(relay_events[0], proto.ProtocolViolation)
    assert client_events == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


def test_broadcast_too_large_is_refused_before_sealing() -> None:
    sealer = BroadcastSealer(BROADCAST_KEY, next_seq=7)
    huge = [JoinedItem(name="n" * 200)] * 6000
    with pytest.raises(LocalProtocolError, match="cap"):
        encode_broadcast(sealer, huge)
    assert sealer.next_seq == 7


def test_welcome_too_large_is_refused(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.handshake()
    item = ChatItem(
        sender="a",
        message_id=bytes(16),
        timestamp_ms=1,
        content_type="text/plain",
        sealed=bytes(60_000),
    )
    with pytest.raises(LocalProtocolError):
        pair.relay.accept_join(
            WelcomeArgs(
                name="alice",
                members=(),
                broadcast_key=bytes(32),
                next_seq=1,
                history=tuple([item] * 20),
                max_message_bytes=60_000,
            )
        )
    assert pair.relay.state is RelayState.JOIN_PENDING


# -- forged, foreign and replayed messages -------------------------------------------------


def sealed_item(
    keys,
    *,
    sender: str,
    sealed_as: str | None = None,
    room_id: bytes = ROOM_ID,
    text: bytes = b"hi",
    message_id: bytes = b"M" * 16,
) -> ChatItem:
    header = MessageHeader(
        room_id=room_id, sender=sealed_as or sender, message_id=message_id, timestamp_ms=5
    )
    return ChatItem(
        sender=sender,
        message_id=message_id,
        timestamp_ms=5,
        content_type="text/plain",
        sealed=seal_message(keys.message, header, text, nonce=message_id[:12]),  # deterministic
    )


def deliver(room: Room, pair: Pair, items) -> list:
    """``items`` in the room's next broadcast, to ``pair`` alone; returns the client's events."""
    pair.client.receive_data(room.seal(*items))
    return pair.client.events_received()


def test_attested_sender_differs_from_sealed_sender(room, room_keys, alice) -> None:
    item = sealed_item(room_keys, sender="bob", sealed_as="mallory")
    assert deliver(room, alice, [item]) == [
        proto.ChatForged(sender="bob", message_id=b"M" * 16, from_history=False)
    ]
    assert not alice.client.close_expected()  # another member's forgery does not kill us
    assert b"M" * 16 not in alice.client.seen_ids


def test_message_sealed_for_another_room_fails(room, room_keys, alice) -> None:
    other_room = bytes(16)
    other_keys = derive_room_keys(PASSWORD, room_id=other_room, n=2**10)
    for item in (
        sealed_item(other_keys, sender="bob", room_id=other_room),
        sealed_item(room_keys, sender="bob", room_id=other_room),  # right key, wrong room header
        sealed_item(other_keys, sender="bob"),  # wrong key
    ):
        (event,) = deliver(room, alice, [item])
        assert isinstance(event, proto.ChatForged)


def test_tampered_or_unreadable_message_content(room, room_keys, alice) -> None:
    good = sealed_item(room_keys, sender="bob")
    tampered = ChatItem(
        **{
            **{f: getattr(good, f) for f in ChatItem.__slots__},
            "sealed": good.sealed[:-1] + bytes([good.sealed[-1] ^ 1]),
        }
    )
    short = ChatItem(**{**{f: getattr(good, f) for f in ChatItem.__slots__}, "sealed": b"x"})
    bad_utf8 = sealed_item(room_keys, sender="bob", text=b"\xff\xfe", message_id=b"U" * 16)
    for item in (tampered, short, bad_utf8):
        (event,) = deliver(room, alice, [item])
        assert isinstance(event, proto.ChatForged)
    assert not alice.client.close_expected()


def test_duplicate_message_id_is_dropped(room, room_keys, alice) -> None:
    item = sealed_item(room_keys, sender="bob")
    # Twice in one broadcast: shown once. Again in a later broadcast: not shown at all.
    assert deliver(room, alice, [item, item]) == [
        proto.ChatOpened(
            sender="bob",
            text="hi",
            message_id=b"M" * 16,
            timestamp_ms=5,
            content_type="text/plain",
            from_history=False,
        )
    ]
    assert deliver(room, alice, [item]) == []
    assert b"M" * 16 in alice.client.seen_ids


def test_seen_ids_survive_a_reconnect(room, room_keys, alice) -> None:
    alice.client.send_messages([("before", alice.client.new_message_id(), 1)])
    room.pump()
    seen = RecentIds()
    bob = room.connect(make_client("bob", room_keys, seen_ids=seen))
    (welcome,) = [e for e in bob.client_events if isinstance(e, proto.Welcomed)]
    assert [m.text for m in messages(welcome.history)] == ["before"]
    assert len(welcome.history) == 1
    # Bob reconnects under a new name slot; the history he already saw is not shown again.
    room.disconnect("bob")
    again = room.connect(make_client("bob", room_keys, seen_ids=seen))
    (welcome,) = [e for e in again.client_events if isinstance(e, proto.Welcomed)]
    assert welcome.history == ()


def test_forged_history_item(room, room_keys, relay_secret) -> None:
    room.seal(sealed_item(room_keys, sender="bob", sealed_as="alice"))  # kept in the history
    pair = room.connect(make_client("carol", room_keys))
    (welcome,) = [e for e in pair.client_events if isinstance(e, proto.Welcomed)]
    assert welcome.history == (
        proto.ChatForged(sender="bob", message_id=b"M" * 16, from_history=True),
    )


def test_replayed_broadcast_is_a_violation(room, alice) -> None:
    frame = room.seal(JoinedItem(name="x"))
    alice.client.receive_data(frame)
    assert alice.client.events_received() == [proto.MemberArrived(name="x")]
    alice.client.receive_data(frame)
    (event,) = alice.client.events_received()
    assert isinstance(event, proto.ProtocolViolation)
    assert alice.client.state is ClientState.FAILED
    # The client told the relay, in its own channel, with a fixed reason.
    alice.shuttle()
    assert alice.take()[1] == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


def test_reordered_broadcasts_are_a_violation(room, alice) -> None:
    first = room.seal(JoinedItem(name="x"))
    second = room.seal(LeftItem(name="x", code=Reason.LEAVING))
    alice.client.receive_data(second)  # a gap is fine (we joined late) ...
    assert alice.client.events_received() == [proto.MemberDeparted(name="x", code=Reason.LEAVING)]
    alice.client.receive_data(first)  # ... going back is not
    assert isinstance(alice.client.events_received()[0], proto.ProtocolViolation)


@pytest.mark.parametrize("index", [4, 5, 12, 13, -1])
def test_tampered_broadcast_is_a_violation(room, alice, index: int) -> None:
    frame = bytearray(room.seal(JoinedItem(name="x")))
    frame[index] ^= 0x40
    alice.client.receive_data(bytes(frame))
    (event,) = alice.client.events_received()
    assert isinstance(event, proto.ProtocolViolation)


def test_broadcast_under_another_key_is_a_violation(alice) -> None:
    frame = encode_broadcast(BroadcastSealer(bytes(32), next_seq=100), [JoinedItem(name="x")])
    alice.client.receive_data(frame)
    assert isinstance(alice.client.events_received()[0], proto.ProtocolViolation)
