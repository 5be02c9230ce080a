"""After the handshake: join, welcome, chat through seal-once broadcasts, presence, pings,
notices, goodbyes, sending limits, counters, sender keys (shares, held messages, requests for
keys, membership tags) and every way a relayed message can be forged, moved, replayed or
reordered (docs/PROTOCOL.md 3.2, 3.3, 5 and 8)."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from typing import Any

import pytest

from crypto import aead
from crypto.envelope import MIN_SIZE, envelope_header, message_aad, open_message, seal_message
from crypto.epoch import message_key, next_sender_key
from crypto.errors import AuthenticationError
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from crypto.transport import BroadcastOpener, BroadcastSealer
from net import proto
from net.proto import ClientState, Keyring, RelayState, WelcomeArgs, encode_broadcast
from net.proto._errors import LocalProtocolError
from net.proto._frames import MAX_CLIENT_FRAME, FrameType, Reason
from net.proto._messages import (
    BroadcastItem,
    ChatItem,
    JoinedItem,
    LeftItem,
    MemberInfo,
    PendingMessage,
    decode_items,
    encode_chat,
    encode_item,
    encode_wanted,
    encode_wanted_item,
)
from net.proto._replay import RecentIds
from tests.crypto import _reference as ref
from tests.crypto._reference import xchacha20_poly1305_seal
from tests.net.helpers import (
    BROADCAST_KEY,
    MAX_MESSAGE_BYTES,
    ROOM_ID,
    Pair,
    Room,
    credentials,
    identity,
    make_client,
    make_relay,
    member_info,
    seal_share_to,
    split_frames,
    types_of,
)

OTHER_ROOM = bytes(16)
MID = b"M" * 16
MAX_ENVELOPE = MAX_MESSAGE_BYTES + 432  # PROTOCOL.md 5: the relay's upper bound
HEADER = 16 + 32 + 4  # PROTOCOL.md 5.1: message_id, signing_key, u32 epoch (in the clear)
EPOCH = 1  # a member's first sender key


def member(name: str) -> MemberInfo:
    """``name``'s entry in a member list: the test identity of that name, with the membership
    tag its client sends (it knows the room password)."""
    return member_info(name)


def messages(events) -> list[proto.ChatOpened]:
    return [e for e in events if isinstance(e, proto.ChatOpened)]


def welcomed(pair: Pair) -> proto.Welcomed:
    (event,) = [e for e in pair.client_events if isinstance(e, proto.Welcomed)]
    return event


@pytest.fixture
def room(relay_secret: Spake2Secret) -> Room:
    return Room(relay_secret)


@pytest.fixture
def alice(room: Room, room_keys: RoomKeys) -> Pair:
    pair = room.connect(make_client("alice", room_keys))
    pair.take()
    return pair


@pytest.fixture
def bob(room: Room, room_keys: RoomKeys, alice: Pair) -> Pair:
    pair = room.connect(make_client("bob", room_keys))
    room.pump()
    pair.take()
    alice.take()
    return pair


def send(pair: Pair, *texts: str, timestamp_ms: int = 1) -> list[bytes]:
    """``pair``'s member sends ``texts`` in one batch; returns their message ids."""
    ids = [pair.client.new_message_id() for _ in texts]
    pair.client.send_messages(
        [(text, message_id, timestamp_ms) for text, message_id in zip(texts, ids, strict=True)]
    )
    return ids


def said(events) -> list[tuple[str, str]]:
    """(sender, text) of each message shown."""
    return [(m.sender, m.text) for m in messages(events)]


def locked(
    sender: str, message_id: bytes, *, position: int, history: bool = False
) -> proto.ChatLocked:
    """A placeholder for a message the room stored at ``position`` (PROTOCOL.md 3.5)."""
    return proto.ChatLocked(
        sender=sender, message_id=message_id, from_history=history, position=position
    )


def broadcast_items(data: bytes) -> list[BroadcastItem]:
    """The items of broadcast frames, opened as any member would (the seq check aside)."""
    opener = BroadcastOpener(BROADCAST_KEY, next_seq=0)
    return [
        item
        for body in split_frames(data)
        for item in decode_items(opener.open(FrameType.BROADCAST, body[1:]))
    ]


def chat_item(room: Room, message_id: bytes) -> ChatItem:
    """The CHAT item with ``message_id`` as the room broadcast it."""
    for data in reversed(room.broadcasts):
        for item in broadcast_items(data):
            if isinstance(item, ChatItem) and item.message_id == message_id:
                return item
    raise AssertionError(f"no message {message_id!r} was broadcast")


def joined_pair(room_keys: RoomKeys, relay_secret: Spake2Secret, **changes: Any) -> Pair:
    """alice alone, welcomed by hand (no Room) with ``changes`` to an honest WELCOME."""
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    welcome = WelcomeArgs(
        name="alice",
        members=(member("alice"),),
        broadcast_key=BROADCAST_KEY,
        next_seq=1,
        next_position=1000,
        history=(),
        max_message_bytes=MAX_MESSAGE_BYTES,
    )
    pair.relay.accept_join(dataclasses.replace(welcome, **changes))
    pair.shuttle()
    return pair


# -- join, welcome, chat ------------------------------------------------------------------------


def test_welcome_lists_members_with_their_keys_and_history(room, room_keys, alice) -> None:
    alice.client.send_messages([("first", alice.client.new_message_id(), 1)])
    alice.client.send_messages([PendingMessage("second", alice.client.new_message_id(), 2)])
    room.pump()
    first, second = messages(alice.take()[0])  # own echoes
    assert (first.text, second.text) == ("first", "second")
    bob = room.connect(make_client("bob", room_keys))
    welcome = welcomed(bob)
    assert welcome.your_name == "bob"
    assert welcome.members == (member("alice"), member("bob"))  # in join order, joiner last
    assert bob.client.members == {"alice": member("alice"), "bob": member("bob")}
    assert welcome.max_message_bytes == MAX_MESSAGE_BYTES == bob.client.max_message_bytes
    # Alice's key was made before bob was here: her messages wait for it, as placeholders,
    # and bob asks the room for it (WANT) right after the WELCOME.
    # The room stored them at positions 1 and 2 (one flush, in order): what bob resumes after.
    assert welcome.history == (
        locked("alice", first.message_id, history=True, position=1),
        locked("alice", second.message_id, history=True, position=2),
    )
    assert (welcome.history_start, welcome.next_position) == (1, 3)
    assert bob.client.last_position == 2
    assert bob.sent_by_client()[-2:] == [FrameType.JOIN, FrameType.WANT]
    assert bob.client.state is ClientState.JOINED and bob.relay.state is RelayState.JOINED
    bob.take()
    room.pump()
    # Alice sees bob arrive, answers his request with her key, and the history opens.
    assert alice.take()[0] == [proto.MemberArrived(member=member("bob"))]
    assert alice.client.members["bob"] == member("bob")
    ((owner, epoch),) = {(a.owner, a.epoch) for a in room.shares_to(member("bob").signing_key)}
    assert (owner, epoch) == (member("alice").signing_key, EPOCH)
    opened = messages(bob.take()[0])
    assert [(m.sender, m.text, m.epoch, m.counter, m.from_history) for m in opened] == [
        ("alice", "first", EPOCH, 1, True),
        ("alice", "second", EPOCH, 2, True),
    ]
    assert [m.message_id for m in opened] == [first.message_id, second.message_id]
    assert all(m.signing_key == identity("alice").signing_public for m in opened)


def test_chat_goes_through_one_broadcast_sealed_once(room, alice, bob) -> None:
    ids = [alice.client.new_message_id() for _ in range(3)]
    alice.client.send_messages([(f"hello {i}", ids[i], 100 + i) for i in range(3)])
    bodies = split_frames(alice.client.data_to_send())
    # Bob has no key of alice's yet: its share goes first, then the three messages, one frame.
    assert [body[0] for body in bodies] == [FrameType.SHARES, FrameType.CHAT]
    alice.relay.receive_data(b"".join(len(b).to_bytes(4, "big") + b for b in bodies))
    shared, submitted = alice.relay.events_received()
    assert isinstance(shared, proto.SharesSubmitted) and isinstance(
        submitted, proto.MessagesSubmitted
    )
    ((recipient, share),) = shared.shares
    assert recipient == identity("bob").signing_public and len(submitted.envelopes) == 3
    assert bob.relay.send_share(identity("alice").signing_public, share)  # what the relay does
    bob.shuttle()
    assert bob.take()[0] == []  # a key alone is no news
    sealed = room.room.broadcasts_sealed
    room.room.submit("alice", submitted.envelopes)
    frame = room.flush()
    assert room.room.broadcasts_sealed == sealed + 1  # three messages, one seal
    # The very same bytes go to every member; then alice, their sender, gets one ACK for them
    # (they were stored before the seal).
    assert frame is not None
    assert bob.relay.data_to_send() == frame
    to_alice = alice.relay.data_to_send()
    assert to_alice[: len(frame)] == frame and types_of(to_alice[len(frame) :]) == [FrameType.ACK]
    for pair, data in ((alice, to_alice), (bob, frame)):
        pair.client.receive_data(data)
        events = pair.client.events_received()
        stored = [e for e in events if isinstance(e, proto.MessagesStored)]
        assert stored == ([proto.MessagesStored(message_ids=tuple(ids))] if pair is alice else [])
        assert messages(events) == [
            proto.ChatOpened(
                sender="alice",
                signing_key=identity("alice").signing_public,
                text=f"hello {i}",
                message_id=ids[i],
                timestamp_ms=100 + i,
                content_type="text/plain",
                epoch=EPOCH,
                counter=i + 1,
                from_history=False,
                position=i + 1,  # the room's first three stored messages
                body=f"hello {i}".encode(),
            )
            for i in range(3)
        ]


def test_the_relay_forwards_envelopes_exactly_as_sent(room, alice, bob) -> None:
    alice.client.send_messages([("as sent", alice.client.new_message_id(), 1)])
    alice.shuttle()
    (submitted,) = [e for e in alice.relay_events if isinstance(e, proto.MessagesSubmitted)]
    (sent,) = [bytes(envelope) for envelope in submitted.envelopes]
    room.room.submit("alice", submitted.envelopes)
    room.flush()
    assert room.room.history[-1] == encode_item(ChatItem(sender="alice", envelope=sent))


def test_same_text_never_gives_the_same_envelope(alice) -> None:
    alice.client.send_messages([("same", bytes(16), 1), ("same", bytes(16), 1)])
    (body,) = split_frames(alice.client.data_to_send())
    alice.relay.receive_data(len(body).to_bytes(4, "big") + body)
    (submitted,) = alice.relay.events_received()
    first, second = submitted.envelopes
    assert first[:HEADER] == second[:HEADER]  # same id, signing key and epoch ...
    assert bytes(first[HEADER : HEADER + 24]) != bytes(second[HEADER : HEADER + 24])  # ... nonces
    assert bytes(first[HEADER + 24 :]) != bytes(second[HEADER + 24 :])


def test_presence_join_and_leave(room, alice, bob) -> None:
    bob.client.send_goodbye(Reason.LEAVING, "bye")
    assert bob.client.close_expected()
    room.pump()
    assert alice.take()[0] == [proto.MemberDeparted(name="bob", code=Reason.LEAVING)]
    assert "bob" not in alice.client.members
    assert bob.relay_events == [] and bob.relay.close_expected()


def test_the_same_identity_joining_again_replaces_its_old_connection(
    room, room_keys, alice
) -> None:
    again = room.connect(make_client("alice", room_keys, label=b"alice again"))
    assert welcomed(again).members == (member("alice"),)
    assert alice.client_events[-1] == proto.GoodbyeReceived(
        code=Reason.REPLACED, text="You joined this room again."
    )


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
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
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


@pytest.mark.parametrize("code", [Reason.NAME_TAKEN, Reason.NAME_LOOKALIKE, Reason.ROOM_FULL])
def test_reject_join(room_keys, relay_secret, code: Reason) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    pair.relay.reject_join(code, "Choose another name.")
    assert pair.relay.close_expected()
    pair.shuttle()
    assert pair.take()[0] == [proto.GoodbyeReceived(code=code, text="Choose another name.")]


def test_a_name_held_by_another_identity_is_refused(room, room_keys, alice) -> None:
    # Another device asking for "alice" (the real Room decides; the core carries the keys).
    impostor = room.connect(make_client("alice", room_keys, device=identity("mallory")))
    goodbye = impostor.client_events[-1]
    assert isinstance(goodbye, proto.GoodbyeReceived) and goodbye.code is Reason.NAME_TAKEN
    assert room.room.member_infos == (member("alice"),)


@pytest.mark.parametrize(
    ("your_name", "members"),
    [
        ("mallory", (member("mallory"),)),  # renamed
        ("alice", (member("bob"),)),  # not listed
        (  # listed with another identity's keys
            "alice",
            (MemberInfo(name="alice", signing_key=member("bob").signing_key, dh_key=bytes(32)),),
        ),
        # Listed with our keys, but without the tag our JOIN carried (PROTOCOL.md 5.2).
        ("alice", (dataclasses.replace(member("alice"), tag=bytes(32)),)),
        ("alice", (dataclasses.replace(member("alice"), tag=member("bob").tag),)),
    ],
    ids=["renamed", "not listed", "other keys", "no tag", "another member's tag"],
)
def test_relay_must_not_rename_us_or_swap_our_keys(
    room_keys, relay_secret, your_name: str, members: tuple[MemberInfo, ...]
) -> None:
    pair = joined_pair(room_keys, relay_secret, name=your_name, members=members)
    assert isinstance(pair.client_events[-1], proto.ProtocolViolation)
    assert pair.client.state is ClientState.FAILED


def test_send_raw_only_reaches_joined_members(room_keys, relay_secret, room) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    frame = room.seal(JoinedItem(member=member("x")))
    assert pair.relay.send_raw(frame) is False
    pair.handshake()
    assert pair.relay.send_raw(frame) is False  # join pending: not yet
    assert pair.relay.data_to_send() == b""


# -- sending limits ------------------------------------------------------------------------


def sent_envelopes(pair: Pair) -> list[bytes]:
    """What ``pair``'s client queued, through its relay core: the envelopes it submitted."""
    pair.relay.receive_data(pair.client.data_to_send())
    return [
        bytes(envelope)
        for event in pair.relay.events_received()
        if isinstance(event, proto.MessagesSubmitted)
        for envelope in event.envelopes
    ]


def own_counters(pair: Pair, envelopes: list[bytes]) -> list[tuple[int, int]]:
    """(epoch, counter) of each of ``pair``'s own envelopes, opened with its own sender key."""
    out = []
    for envelope in envelopes:
        header = envelope_header(envelope)
        found = pair.client.keyring.sender_key(header.signing_key, header.epoch, room_id=ROOM_ID)
        assert found is not None and found[1]  # its own key, held
        key = message_key(
            found[0], room_id=ROOM_ID, signing_key=header.signing_key, epoch=header.epoch
        )
        opened = open_message(key, envelope, room_id=ROOM_ID, sender=pair.client.username)
        out.append((opened.epoch, opened.counter))
    return out


def test_max_message_bytes_is_enforced_on_send(alice) -> None:
    client = alice.client
    client.send_messages([("é" * (MAX_MESSAGE_BYTES // 2), client.new_message_id(), 1)])
    assert own_counters(alice, sent_envelopes(alice)) == [(EPOCH, 1)]
    stored = client.keyring.state()
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
    # No counter and no epoch spent on a refused batch.
    assert not client.keyring.changed and client.keyring.state() == stored
    client.send_messages([("next", client.new_message_id(), 2)])
    assert own_counters(alice, sent_envelopes(alice)) == [(EPOCH, 2)]


def test_an_empty_batch_sends_nothing(alice) -> None:
    alice.client.send_messages([])
    assert alice.client.data_to_send() == b""
    assert alice.client.keyring.own_epoch == 0  # no key made for nothing


@pytest.mark.parametrize(
    "bad",
    [
        PendingMessage("x", MID, 1, content_type="t" * 256),  # longer than its str8
        PendingMessage("\ud800", MID, 1),  # a lone surrogate: no UTF-8 for it
        PendingMessage("x", MID, 1, content_type="text/\udfff"),
    ],
    ids=["long content type", "unencodable text", "unencodable content type"],
)
def test_a_message_that_cannot_be_encoded_is_refused_before_anything_is_sealed(
    alice, bob, bad: PendingMessage
) -> None:
    # The core's error policy: local misuse is LocalProtocolError, and nothing is spent:
    # no key is made or shared, no epoch or counter used.
    client = alice.client
    stored = client.keyring.state()
    with pytest.raises(LocalProtocolError):
        client.send_messages([("fine", client.new_message_id(), 1), bad])
    assert client.data_to_send() == b""
    assert client.keyring.own_epoch == 0 and client.keyring.state() == stored
    client.send_messages([("fine", client.new_message_id(), 1)])
    bodies = split_frames(client.data_to_send())
    assert [body[0] for body in bodies] == [FrameType.SHARES, FrameType.CHAT]
    alice.relay.receive_data(b"".join(len(b).to_bytes(4, "big") + b for b in bodies))
    envelopes = [
        bytes(e)
        for event in alice.relay.events_received()
        if isinstance(event, proto.MessagesSubmitted)
        for e in event.envelopes
    ]
    assert own_counters(alice, envelopes) == [(EPOCH, 1)]


def test_message_limit_respects_the_frame_cap(room_keys, relay_secret) -> None:
    pair = joined_pair(room_keys, relay_secret, max_message_bytes=10**6)
    pair.take()
    limit = pair.client.message_limit()
    assert limit < MAX_CLIENT_FRAME
    pair.client.send_messages([("x" * limit, bytes(16), 1)])
    (body,) = split_frames(pair.client.data_to_send())
    assert len(body) == MAX_CLIENT_FRAME  # exactly the relay's cap: accepted
    pair.relay.receive_data(len(body).to_bytes(4, "big") + body)
    (submitted,) = pair.relay.events_received()
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
    assert sum(len(e.envelopes) for e in submitted) == 40


@pytest.mark.parametrize(
    ("size", "accepted"),
    [(MIN_SIZE - 1, False), (MIN_SIZE, True), (MAX_ENVELOPE, True), (MAX_ENVELOPE + 1, False)],
)
def test_relay_checks_envelope_sizes_without_opening_them(alice, size: int, accepted: bool) -> None:
    alice.client._send_sealed(FrameType.CHAT, encode_chat([bytes(size)]))
    alice.shuttle()
    client_events, relay_events = alice.take()
    if accepted:
        assert relay_events == [proto.MessagesSubmitted(envelopes=(memoryview(bytes(size)),))]
        return
    assert isinstance(relay_events[0], proto.ProtocolViolation)
    assert alice.relay.state is RelayState.FAILED
    if size > MAX_ENVELOPE:
        assert client_events == [
            proto.GoodbyeReceived(code=Reason.MESSAGE_TOO_LARGE, text="message too large")
        ]
    else:
        assert client_events == [
            proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
        ]


def test_relay_rejects_a_text_above_the_room_limit(alice) -> None:
    alice.client.max_message_bytes = 10**5  # a client that ignores the room's limit
    # text/plain leaves 245 of the 255 bytes reserved for the content type to the body.
    alice.client.send_messages([("z" * (MAX_MESSAGE_BYTES + 246), bytes(16), 1)])
    alice.shuttle()
    client_events, relay_events = alice.take()
    assert relay_events == [proto.ProtocolViolation(reason="message larger than the room allows")]
    assert client_events == [
        proto.GoodbyeReceived(code=Reason.MESSAGE_TOO_LARGE, text="message too large")
    ]


def test_broadcast_too_large_is_refused_before_sealing() -> None:
    sealer = BroadcastSealer(BROADCAST_KEY, next_seq=7)
    huge = [encode_item(JoinedItem(member=member("n" * 200)))] * 6000
    with pytest.raises(LocalProtocolError, match="cap"):
        encode_broadcast(sealer, huge)
    assert sealer.next_seq == 7


def test_welcome_too_large_is_refused(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    item = encode_item(ChatItem(sender="a", envelope=bytes(60_000)))
    with pytest.raises(LocalProtocolError):
        pair.relay.accept_join(
            WelcomeArgs(
                name="alice",
                members=(member("alice"),),
                broadcast_key=bytes(32),
                next_seq=1,
                next_position=1000,
                history=tuple([item] * 20),
                max_message_bytes=60_000,
            )
        )
    assert pair.relay.state is RelayState.JOIN_PENDING


# -- counters ----------------------------------------------------------------------------------


def test_counters_increase_strictly_across_calls_and_connections(room, room_keys, alice, bob):
    client = alice.client
    client.send_messages([(f"m{i}", client.new_message_id(), i) for i in range(2)])
    client.send_messages([("m2", client.new_message_id(), 2)])
    big = [("y" * MAX_MESSAGE_BYTES, client.new_message_id(), 3) for _ in range(20)]
    client.send_messages(big)  # more than one CHAT frame
    room.pump()
    first = [(m.epoch, m.counter) for m in messages(bob.take()[0])]
    assert first == [(EPOCH, n) for n in range(1, 24)]
    # A new connection (a reconnect) of the same device moves on one ratchet step and hands
    # that key to everyone again (a share sealed on the old connection may have died with it):
    # counters start again from 1 under the new epoch, and the key reaches bob once more.
    room.disconnect("alice")
    again = room.connect(
        make_client("alice", room_keys, keyring=client.keyring, label=b"alice again")
    )
    again.client.send_messages([("after", again.client.new_message_id(), 9)])
    again.client.send_messages([("later", again.client.new_message_id(), 10)])
    room.pump()
    assert [(m.epoch, m.counter) for m in messages(bob.take()[0])] == [
        (EPOCH + 1, 1),
        (EPOCH + 1, 2),
    ]
    bob_key = identity("bob").signing_public
    assert [a.recipient for a in room.addressed] == [bob_key, bob_key]  # once per connection
    # A restart keeps only what the device stored: the next epoch it may use. The key is new
    # and so is its epoch, never one used before; its counters start again from 1.
    stored = client.keyring.state()
    room.disconnect("alice")
    restarted = room.connect(
        make_client(
            "alice",
            room_keys,
            keyring=Keyring(identity("alice"), state=stored),
            label=b"alice restarted",
        )
    )
    restarted.client.send_messages([("restarted", restarted.client.new_message_id(), 11)])
    room.pump()
    assert [(m.text, m.epoch, m.counter) for m in messages(bob.take()[0])] == [
        ("restarted", EPOCH + 2, 1)
    ]


# -- forged, moved, foreign and replayed messages --------------------------------------------


def _str8(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data)]) + data


def sender_key(name: str, epoch: int = EPOCH, *, variant: bytes = b"") -> bytes:
    """A sender key the test makes for ``name``'s ``epoch`` (``variant``: another such key).
    Its client never made it: a member holds it only if a share gave it (:func:`give_key`)."""
    return hashlib.sha256(b"test sender key|%s|%d|%s" % (name.encode(), epoch, variant)).digest()


def msg_key(
    name: str, epoch: int = EPOCH, *, key: bytes | None = None, room_id: bytes = ROOM_ID
) -> bytes:
    """The message key of ``name``'s test sender key of ``epoch`` (or of ``key``)."""
    return message_key(
        key if key is not None else sender_key(name, epoch),
        room_id=room_id,
        signing_key=identity(name).signing_public,
        epoch=epoch,
    )


def give_key(
    pair: Pair,
    owner: str,
    epoch: int = EPOCH,
    *,
    key: bytes | None = None,
    distributor: str | None = None,
) -> list[proto.Event]:
    """Hand ``pair``'s member ``owner``'s test sender key of ``epoch`` through a real share:
    sealed to it and signed by ``distributor`` (default: the owner), delivered by the relay as
    SHARE attested from the distributor. Returns (and takes) the client's events it caused:
    the held messages it opens."""
    by = identity(distributor or owner)
    share = seal_share_to(
        identity(pair.client.username),
        key if key is not None else sender_key(owner, epoch),
        owner=identity(owner),
        epoch=epoch,
        distributor=by,
    )
    assert pair.relay.send_share(by.signing_public, share)
    before = len(pair.client_events)
    pair.shuttle()
    caused, pair.client_events[before:] = pair.client_events[before:], []
    return caused


@pytest.fixture
def bobs_key(alice: Pair, bob: Pair) -> bytes:
    """Bob's (test) sender key of epoch 1, which bob shared with alice."""
    assert give_key(alice, "bob") == []  # nothing was waiting for it
    return sender_key("bob")


def spelled_message_key(key: bytes, *, signing_key: bytes, epoch: int) -> bytes:
    """message_key = derive(sender_key, "messages", room_id ‖ signing_key ‖ u32 epoch), written
    out from PROTOCOL.md 4.1 and 5.1 with the reference HKDF."""
    info = b"SocketChat v2|messages|" + ROOM_ID + signing_key + struct.pack(">I", epoch)
    return ref.hkdf_sha256(key, salt=b"", info=info, length=32)


def spelled_envelope(
    key: bytes,
    *,
    signer: Identity,
    sender: str,
    signed_sender: str | None = None,
    signing_key: bytes | None = None,
    room_id: bytes = ROOM_ID,
    signed_room: bytes | None = None,
    message_id: bytes = MID,
    epoch: int = EPOCH,
    counter: int = 1,
    timestamp_ms: int = 5,
    content_type: str = "text/plain",
    body: bytes = b"hi",
    nonce: bytes = bytes(24),
) -> bytes:
    """An envelope written out from PROTOCOL.md 5.1 (reference XChaCha20-Poly1305) under the
    message key ``key``, with every field the AEAD and the signature cover under the test's
    control: ``sender`` goes into the aad, ``signed_sender`` / ``signed_room`` into the
    signature (default: the same), and the header (hence aad and signature) names
    ``signing_key`` (default: the signer's)."""
    signing_key = signing_key or signer.signing_public
    header = message_id + signing_key + struct.pack(">I", epoch)
    signed = (
        (signed_room or room_id)
        + message_id
        + struct.pack(">I", epoch)
        + _str8(signed_sender or sender)
        + signing_key
        + struct.pack(">QQ", counter, timestamp_ms)
        + _str8(content_type)
        + struct.pack(">I", len(body))
        + body
    )
    signature = signer.sign(signed, context="message")
    plaintext = (
        struct.pack(">QQ", counter, timestamp_ms)
        + _str8(content_type)
        + struct.pack(">I", len(body))
        + body
        + signature
    )
    aad = b"SocketChat v2 message" + room_id + header + _str8(sender)
    return header + nonce + xchacha20_poly1305_seal(key, nonce, plaintext, aad)


def genuine(name: str, *, key: bytes | None = None, **fields) -> bytes:
    """``name``'s own message as its client would seal it, under the message key ``key``
    (default: that of ``name``'s test sender key for the envelope's epoch and room)."""
    epoch = fields.pop("epoch", EPOCH)
    room_id = fields.pop("room_id", ROOM_ID)
    return seal_message(
        key if key is not None else msg_key(name, epoch, room_id=room_id),
        identity=identity(name),
        room_id=room_id,
        sender=name,
        message_id=fields.pop("message_id", MID),
        epoch=epoch,
        counter=fields.pop("counter", 1),
        timestamp_ms=5,
        content_type="text/plain",
        body=fields.pop("body", b"hi"),
        nonce=bytes(24),
    )


def deliver(room: Room, pair: Pair, items) -> list:
    """``items`` in the room's next broadcast, to ``pair`` alone; returns the client's events."""
    pair.client.receive_data(room.seal(*items))
    return pair.client.events_received()


def forged(
    sender: str,
    why: proto.Forgery,
    *,
    position: int,
    message_id: bytes = MID,
    history: bool = False,
) -> proto.ChatForged:
    return proto.ChatForged(
        sender=sender, message_id=message_id, from_history=history, why=why, position=position
    )


def test_the_spelled_out_envelope_is_what_clients_send() -> None:
    bob_key = identity("bob").signing_public
    key = spelled_message_key(sender_key("bob"), signing_key=bob_key, epoch=EPOCH)
    assert key == msg_key("bob")
    assert spelled_envelope(key, signer=identity("bob"), sender="bob") == genuine("bob")


def test_the_spelled_out_envelope_is_what_a_client_core_sends(room, alice, bob) -> None:
    # The real thing: alice's client seals with its own sender key; the spelled envelope under
    # the key bob received in alice's share is byte for byte the same.
    (message_id,) = send(alice, "spelled")
    alice.shuttle()
    shared, submitted = alice.relay_events
    assert isinstance(shared, proto.SharesSubmitted)
    assert isinstance(submitted, proto.MessagesSubmitted)
    ((_, share),) = shared.shares
    envelopes = [bytes(envelope) for envelope in submitted.envelopes]
    got = bob.client.keyring.sender_key(identity("alice").signing_public, EPOCH, room_id=ROOM_ID)
    assert got is None  # not before the share
    assert bob.relay.send_share(identity("alice").signing_public, share)
    bob.shuttle()
    got = bob.client.keyring.sender_key(identity("alice").signing_public, EPOCH, room_id=ROOM_ID)
    assert got is not None and got[1]
    key = spelled_message_key(got[0], signing_key=identity("alice").signing_public, epoch=EPOCH)
    (nonce,) = [envelope[HEADER : HEADER + 24] for envelope in envelopes]
    assert envelopes == [
        spelled_envelope(
            key,
            signer=identity("alice"),
            sender="alice",
            message_id=message_id,
            timestamp_ms=1,
            body=b"spelled",
            nonce=nonce,
        )
    ]


def test_a_genuine_message_opens(room, alice, bobs_key) -> None:
    assert deliver(room, alice, [ChatItem(sender="bob", envelope=genuine("bob"))]) == [
        proto.ChatOpened(
            sender="bob",
            signing_key=identity("bob").signing_public,
            text="hi",
            message_id=MID,
            timestamp_ms=5,
            content_type="text/plain",
            epoch=EPOCH,
            counter=1,
            from_history=False,
            position=1,
            body=b"hi",
        )
    ]


def test_a_key_the_ratchet_reaches_opens_without_a_share(room, alice, bobs_key) -> None:
    # Bob moved on by the ratchet (members only arrived): alice follows it from the key she
    # holds (PROTOCOL.md 5.3), and keeps the step she confirmed.
    bob_pub = identity("bob").signing_public
    third = next_sender_key(
        next_sender_key(bobs_key, room_id=ROOM_ID, signing_key=bob_pub, epoch=1),
        room_id=ROOM_ID,
        signing_key=bob_pub,
        epoch=2,
    )
    item = ChatItem(
        sender="bob", envelope=genuine("bob", key=msg_key("bob", 3, key=third), epoch=3)
    )
    (event,) = deliver(room, alice, [item])
    assert isinstance(event, proto.ChatOpened) and (event.epoch, event.text) == (3, "hi")
    assert alice.client.keyring.sender_key(bob_pub, 3, room_id=ROOM_ID) == (third, True)


def test_a_member_signing_in_another_members_name(room, alice, bob) -> None:
    # Mallory knows the password and seals under her own sender key; the relay attests her
    # message as bob's. Her signature verifies, but under her key, not the one the member list
    # gives for bob: refused before any key is looked for.
    item = ChatItem(
        sender="bob",
        envelope=spelled_envelope(msg_key("mallory"), signer=identity("mallory"), sender="bob"),
    )
    assert deliver(room, alice, [item]) == [forged("bob", proto.Forgery.WRONG_KEY, position=1)]
    assert not alice.client.close_expected()  # another member's forgery does not kill us
    assert MID not in alice.client.seen_ids  # the genuine message with this id still shows


@pytest.mark.parametrize(
    "case",
    ["signature by another key", "flipped signature", "signed for another sender", "other room"],
)
def test_a_signature_that_does_not_verify(room, alice, bobs_key, case: str) -> None:
    # Whoever made these holds bob's sender key (every member does): the AEAD opens, and only
    # bob's signature tells his messages from theirs.
    key, bob_id = msg_key("bob"), identity("bob")
    if case == "signature by another key":  # names bob's key, signed by mallory
        envelope = spelled_envelope(
            key, signer=identity("mallory"), sender="bob", signing_key=bob_id.signing_public
        )
    elif case == "flipped signature":
        signed = spelled_envelope(key, signer=bob_id, sender="bob")
        plaintext = aead.open_random(key, signed[HEADER:], aad=_aad("bob"))
        plaintext = plaintext[:-1] + bytes([plaintext[-1] ^ 1])
        envelope = signed[:HEADER] + aead.seal_random(
            key, plaintext, aad=_aad("bob"), nonce=bytes(24)
        )
    elif case == "signed for another sender":  # carol's signed message, sealed as bob's
        envelope = spelled_envelope(key, signer=bob_id, sender="bob", signed_sender="carol")
    else:
        envelope = spelled_envelope(key, signer=bob_id, sender="bob", signed_room=OTHER_ROOM)
    item = ChatItem(sender="bob", envelope=envelope)
    assert deliver(room, alice, [item]) == [forged("bob", proto.Forgery.BAD_SIGNATURE, position=1)]
    assert not alice.client.close_expected()


def _aad(
    sender: str,
    *,
    name: str = "bob",
    room_id: bytes = ROOM_ID,
    message_id: bytes = MID,
    epoch: int = EPOCH,
) -> bytes:
    """The aad of an envelope whose header names ``name``'s signing key."""
    return message_aad(
        room_id=room_id,
        message_id=message_id,
        signing_key=identity(name).signing_public,
        epoch=epoch,
        sender=sender,
    )


def _moved(case: str) -> ChatItem:
    env = genuine("bob")
    if case == "another room (its key)":  # bob's message in another room, under its key there
        other = msg_key("bob", key=sender_key("bob", variant=b"other room"), room_id=OTHER_ROOM)
        return ChatItem(sender="bob", envelope=genuine("bob", key=other, room_id=OTHER_ROOM))
    if case == "another room (same key)":
        return ChatItem(
            sender="bob", envelope=genuine("bob", key=msg_key("bob"), room_id=OTHER_ROOM)
        )
    if case == "another id":
        return ChatItem(sender="bob", envelope=b"N" * 16 + env[16:])
    if case == "another epoch":  # sealed with this epoch's key as epoch 5, relabelled
        sealed = genuine("bob", key=msg_key("bob"), epoch=5)
        return ChatItem(sender="bob", envelope=sealed[:48] + struct.pack(">I", EPOCH) + sealed[52:])
    if case == "epoch 0":  # no sender key has epoch 0 (it was version 2's password key)
        return ChatItem(sender="bob", envelope=genuine("bob", key=msg_key("bob"), epoch=0))
    if case == "tampered":
        return ChatItem(sender="bob", envelope=env[:-1] + bytes([env[-1] ^ 1]))
    if case == "another key":  # bob's epoch, but not the key bob shared
        never_shared = msg_key("bob", key=sender_key("bob", variant=b"never shared"))
        return ChatItem(sender="bob", envelope=genuine("bob", key=never_shared))
    if case == "malformed inside":  # opens, but the lengths inside do not add up
        return ChatItem(
            sender="bob",
            envelope=env[:HEADER]
            + aead.seal_random(msg_key("bob"), b"\x00" * 200, aad=_aad("bob"), nonce=bytes(24)),
        )
    assert case == "text that is not UTF-8"
    return ChatItem(sender="bob", envelope=genuine("bob", body=b"\xff\xfe"))


MOVED = [
    "another room (its key)",
    "another room (same key)",
    "another id",
    "another epoch",
    "epoch 0",
    "tampered",
    "another key",
    "malformed inside",
    "text that is not UTF-8",
]


@pytest.mark.parametrize("case", MOVED)
def test_a_moved_or_unreadable_message(room, alice, bobs_key, case: str) -> None:
    item = _moved(case)
    message_id = bytes(item.envelope[:16])
    assert deliver(room, alice, [item]) == [
        forged(item.sender, proto.Forgery.UNREADABLE, message_id=message_id, position=1)
    ]
    assert not alice.client.close_expected()
    assert message_id not in alice.client.seen_ids


def test_a_message_attested_for_another_sender(room, alice, bobs_key) -> None:
    # Live: to a listed member with another key (alice herself), or to a name not listed.
    # Each is stored (the relay cannot tell), at positions 1 and 2.
    for position, (sender, why) in enumerate(
        (("alice", proto.Forgery.WRONG_KEY), ("zed", proto.Forgery.NOT_A_MEMBER)), start=1
    ):
        item = ChatItem(sender=sender, envelope=genuine("bob"))
        assert deliver(room, alice, [item]) == [forged(sender, why, position=position)]
    assert MID not in alice.client.seen_ids


def test_a_history_message_attested_for_another_name_is_unreadable(room, room_keys, bob):
    # In history a sender need not be listed (it may have left), so the name is checked by the
    # AEAD: bob's envelope attested as "zed"'s does not open, once bob's key is there.
    room.seal(ChatItem(sender="zed", envelope=genuine("bob")))
    carol = room.connect(make_client("carol", room_keys))
    assert welcomed(carol).history == (locked("zed", MID, history=True, position=1),)
    assert give_key(carol, "bob") == [
        forged("zed", proto.Forgery.UNREADABLE, message_id=MID, history=True, position=1)
    ]
    assert MID not in carol.client.seen_ids


@pytest.mark.parametrize("epoch", [2, 7, 64, 65, 2**32 - 1])
def test_a_message_under_an_epoch_without_a_key_is_held_not_a_crash(
    room, alice, bobs_key, epoch: int
) -> None:
    # Alice holds bob's epoch 1: epochs up to 65 are in reach of the ratchet, but these were
    # fresh keys (not its steps), so the computed key does not open them: held, like the last.
    envelope = genuine("bob", key=msg_key("bob", epoch), epoch=epoch)
    item = ChatItem(sender="bob", envelope=envelope)
    assert deliver(room, alice, [item]) == [locked("bob", MID, position=1)]
    assert alice.client.state is ClientState.JOINED
    assert MID not in alice.client.seen_ids
    # Its key arrives, and it opens by itself.
    (opened,) = give_key(alice, "bob", epoch)
    assert isinstance(opened, proto.ChatOpened)
    assert (opened.epoch, opened.message_id, opened.position) == (epoch, MID, 1)


def test_a_host_controlled_relay_cannot_make_a_message_anothers(room, room_keys, alice, bob):
    # The host runs the relay and is a member: it knows the password, holds its own identity
    # and, like every member, the sender keys of bob and carol. It takes bob's genuine message
    # and tries to show it to alice as carol's (a member too).
    carol = room.connect(make_client("carol", room_keys))
    room.pump()
    alice.take()
    carol.take()
    for owner in ("bob", "carol"):
        assert give_key(alice, owner) == []
    carol_pub = identity("carol").signing_public
    original = genuine("bob", body=b"pay the bill")
    plaintext = aead.open_random(msg_key("bob"), original[HEADER:], aad=_aad("bob"))  # readable
    carols_header = MID + carol_pub + struct.pack(">I", EPOCH)
    attempts = {
        # The very bytes, attested for carol: the header names bob's key.
        "re-attested": ChatItem(sender="carol", envelope=original),
        # The header relabelled as carol's, the rest as it was.
        "relabelled": ChatItem(sender="carol", envelope=carols_header + original[HEADER:]),
        # Re-sealed under carol's key with bob's signed plaintext: the signature names bob.
        "re-sealed": ChatItem(
            sender="carol",
            envelope=carols_header
            + aead.seal_random(
                msg_key("carol"), plaintext, aad=_aad("carol", name="carol"), nonce=bytes(24)
            ),
        ),
        # Re-signed by the host as carol.
        "re-signed": ChatItem(
            sender="carol",
            envelope=spelled_envelope(
                msg_key("host"), signer=identity("host"), sender="carol", body=b"pay the bill"
            ),
        ),
        # Re-signed by the host, naming carol's key, under carol's sender key.
        "re-signed naming carol's key": ChatItem(
            sender="carol",
            envelope=spelled_envelope(
                msg_key("carol"),
                signer=identity("host"),
                sender="carol",
                signing_key=carol_pub,
                body=b"pay the bill",
            ),
        ),
    }
    events = deliver(room, alice, list(attempts.values()))
    assert [e.why for e in events] == [
        proto.Forgery.WRONG_KEY,
        proto.Forgery.UNREADABLE,
        proto.Forgery.BAD_SIGNATURE,
        proto.Forgery.WRONG_KEY,
        proto.Forgery.BAD_SIGNATURE,
    ]
    assert messages(events) == []
    # The genuine message, attested as bob's, is still shown (nothing was marked seen).
    (shown,) = deliver(room, alice, [ChatItem(sender="bob", envelope=original)])
    assert isinstance(shown, proto.ChatOpened) and (shown.sender, shown.text) == (
        "bob",
        "pay the bill",
    )


def test_a_live_message_from_someone_not_listed_is_refused(room, alice, bob) -> None:
    # Dave is not (or no longer) a member. His own share is ignored (he is not listed), a key
    # of his passed on by bob is ignored too (nothing waits for it), and a live message of his
    # is refused: only members speak in the room now.
    assert give_key(alice, "dave") == []
    dave_pub = identity("dave").signing_public
    assert alice.client.keyring.sender_key(dave_pub, EPOCH, room_id=ROOM_ID) is None
    item = ChatItem(sender="dave", envelope=genuine("dave"))
    assert deliver(room, alice, [item]) == [forged("dave", proto.Forgery.NOT_A_MEMBER, position=1)]
    assert give_key(alice, "dave", distributor="bob") == []
    assert alice.client.keyring.sender_key(dave_pub, EPOCH, room_id=ROOM_ID) is None
    assert deliver(room, alice, [item]) == [forged("dave", proto.Forgery.NOT_A_MEMBER, position=2)]
    assert MID not in alice.client.seen_ids


def test_a_runt_envelope_from_the_relay_is_a_violation(room, alice) -> None:
    # The relay checks sizes itself: forwarding a runt is the relay breaking the protocol.
    (event,) = deliver(room, alice, [ChatItem(sender="bob", envelope=bytes(MIN_SIZE - 1))])
    assert isinstance(event, proto.ProtocolViolation)


def test_duplicate_message_id_is_dropped(room, alice, bobs_key) -> None:
    item = ChatItem(sender="bob", envelope=genuine("bob"))
    # Twice in one broadcast: shown once. Again in a later broadcast: not shown at all.
    events = deliver(room, alice, [item, item])
    assert [(m.sender, m.message_id) for m in messages(events)] == [("bob", MID)]
    assert len(events) == 1
    assert deliver(room, alice, [item]) == []
    assert MID in alice.client.seen_ids
    # Nor under another envelope with the same id (a resend after a reconnect, or a copy).
    again = ChatItem(sender="bob", envelope=genuine("bob", counter=2, body=b"hi again"))
    assert deliver(room, alice, [again]) == []


def test_seen_ids_survive_a_reconnect(room, room_keys, alice) -> None:
    alice.client.send_messages([("before", alice.client.new_message_id(), 1)])
    room.pump()
    seen = RecentIds()
    bob = room.connect(make_client("bob", room_keys, seen_ids=seen))
    assert [type(e) for e in welcomed(bob).history] == [proto.ChatLocked]
    room.pump()  # bob asked for alice's key; she answers and the history opens
    assert said(bob.take()[0]) == [("alice", "before")]
    # Bob reconnects; the history he already saw is not shown again.
    room.disconnect("bob")
    again = room.connect(
        make_client("bob", room_keys, seen_ids=seen, keyring=bob.client.keyring, label=b"again")
    )
    assert welcomed(again).history == ()
    room.pump()
    assert messages(again.take()[0]) == []


def test_history_is_verified_like_live_messages(room, room_keys, alice, bob) -> None:
    # Sent while nobody of these was connected, with keys that members hand on by shares.
    mallory, bob_pub = identity("mallory"), identity("bob").signing_public
    room.seal(
        ChatItem(sender="alice", envelope=genuine("alice", message_id=b"1" * 16)),
        ChatItem(  # signed by mallory, under her own key: not bob's
            sender="bob",
            envelope=spelled_envelope(
                msg_key("mallory"), signer=mallory, sender="bob", message_id=b"2" * 16
            ),
        ),
        ChatItem(sender="alice", envelope=genuine("bob", message_id=b"3" * 16)),
        ChatItem(  # names bob's key, signed by mallory, sealed with bob's
            sender="bob",
            envelope=spelled_envelope(
                msg_key("bob"),
                signer=mallory,
                signing_key=bob_pub,
                sender="bob",
                message_id=b"4" * 16,
            ),
        ),
        ChatItem(sender="bob", envelope=genuine("bob", message_id=b"5" * 16)),
        ChatItem(sender="bob", envelope=genuine("bob", message_id=b"6" * 16)[:-1] + b"\x00"),
        ChatItem(sender="dave", envelope=genuine("dave", message_id=b"7" * 16)),  # has left
    )
    carol = room.connect(make_client("carol", room_keys))
    # What the member list decides at once; the rest waits for its key.
    # Stored at positions 1 to 7, in the order sealed.
    assert welcomed(carol).history == (
        locked("alice", b"1" * 16, history=True, position=1),
        forged("bob", proto.Forgery.WRONG_KEY, message_id=b"2" * 16, history=True, position=2),
        forged("alice", proto.Forgery.WRONG_KEY, message_id=b"3" * 16, history=True, position=3),
        locked("bob", b"4" * 16, history=True, position=4),
        locked("bob", b"5" * 16, history=True, position=5),
        locked("bob", b"6" * 16, history=True, position=6),
        locked("dave", b"7" * 16, history=True, position=7),
    )
    assert carol.client.keyring.waiting_for() == [
        (identity(name).signing_public, EPOCH) for name in ("alice", "bob", "dave")
    ]
    # The keys come (alice's and bob's from their owners, dave's passed on by bob): each held
    # message is then checked exactly as a live one.
    assert said(give_key(carol, "alice")) == [("alice", "hi")]
    events = give_key(carol, "bob")
    # Opened (or found forged) once the key came, each keeps the position it was held at.
    assert events[0] == forged(
        "bob", proto.Forgery.BAD_SIGNATURE, message_id=b"4" * 16, history=True, position=4
    )
    assert isinstance(events[1], proto.ChatOpened)
    assert (events[1].message_id, events[1].position) == (b"5" * 16, 5)
    assert events[2] == forged(
        "bob", proto.Forgery.UNREADABLE, message_id=b"6" * 16, history=True, position=6
    )
    assert len(events) == 3
    (dave,) = give_key(carol, "dave", distributor="bob")
    # A sender who is not listed (it left) opens under its own key: the core checks the
    # signature; the driver compares the key with what the device remembers for the name.
    assert isinstance(dave, proto.ChatOpened) and dave.from_history and dave.position == 7
    assert (dave.sender, dave.signing_key) == ("dave", identity("dave").signing_public)
    assert all(m.from_history for m in messages(events))
    assert carol.client.keyring.pending_count == 0
    assert not any(n * 16 in carol.client.seen_ids for n in (b"2", b"3", b"4", b"6"))
    assert carol.client.state is ClientState.JOINED


# -- sender keys: shares, held messages, requests for keys, membership tags --------------------


def test_a_message_reaches_a_member_after_its_share_in_one_pump(room, alice, bob) -> None:
    (first,) = send(alice, "hello bob")
    room.pump()
    # Alice sealed her new key to bob (SHARES) before the message (CHAT), on one connection;
    # the relay handed the share on (SHARE) before it broadcast the message.
    assert alice.sent_by_client()[-2:] == [FrameType.SHARES, FrameType.CHAT]
    assert bob.sent_by_relay()[-2:] == [FrameType.SHARE, FrameType.BROADCAST]
    (share,) = room.addressed
    assert (share.sender, share.recipient) == ("alice", identity("bob").signing_public)
    assert (share.owner, share.epoch) == (identity("alice").signing_public, EPOCH)
    # Bob never saw a placeholder: the key was there when the message came.
    events = bob.take()[0]
    assert [type(e) for e in events] == [proto.ChatOpened]
    assert (events[0].message_id, events[0].text) == (first, "hello bob")
    # The next message needs no share: bob holds the key.
    send(alice, "again")
    room.pump()
    assert alice.sent_by_client()[-1] == FrameType.CHAT
    assert len(room.addressed) == 1
    assert said(bob.take()[0]) == [("alice", "again")]


def test_a_held_message_opens_by_itself_when_its_share_comes_late(room, alice, bob) -> None:
    room.hold_shares = True  # a relay slow to hand shares on
    (message_id,) = send(alice, "wait for it")
    room.pump()
    assert bob.take()[0] == [locked("alice", message_id, position=1)]
    assert bob.client.keyring.waiting_for() == [(identity("alice").signing_public, EPOCH)]
    room.hold_shares = False
    room.release_shares()
    (opened,) = bob.take()[0]
    assert isinstance(opened, proto.ChatOpened)
    assert (opened.message_id, opened.text, opened.from_history, opened.position) == (
        message_id,
        "wait for it",
        False,
        1,  # where it was held
    )
    assert bob.client.keyring.pending_count == 0 and message_id in bob.client.seen_ids


@pytest.mark.parametrize("tag", ["made up", "bob's, copied"])
def test_a_relay_in_the_middle_gets_no_key_and_cannot_speak(
    room, room_keys, alice, bob, tag: str
) -> None:
    # The relay (this harness) lists a member of its own: its own keys, and a tag it made up
    # or copied from another member's JOIN. Without the password it cannot make a valid one.
    ghost = identity("ghost")
    made = hashlib.sha256(b"a tag without the password").digest()
    ghost_info = member_info("ghost", tag=made if tag == "made up" else member("bob").tag)
    never_joined = Pair(make_client("ghost", room_keys), make_relay(label=b"ghost"))
    room.room.join(ghost_info, never_joined)  # listed by the relay; nobody is behind it
    room.pump()
    for pair in (alice, bob):
        assert pair.take()[0] == [proto.MemberUnproven(member=ghost_info)]
        assert "ghost" not in pair.client.members
    carol = room.connect(make_client("carol", room_keys))
    assert "ghost" in [m.name for m in room.room.member_infos]
    assert [m.name for m in welcomed(carol).members] == ["alice", "bob", "carol"]
    assert proto.MemberUnproven(member=ghost_info) in carol.client_events
    room.pump()
    carol.take()
    # Members send: their keys go to each other, never to the ghost.
    for pair in (alice, bob, carol):
        send(pair, f"from {pair.client.username}")
    room.pump()
    assert {a.recipient for a in room.addressed} == {
        identity(name).signing_public for name in ("alice", "bob", "carol")
    }
    assert ghost.signing_public not in {a.recipient for a in room.addressed}
    for pair in (alice, bob, carol):
        assert len(messages(pair.take()[0])) == 3
    # The ghost asks for keys: nobody answers.
    before = len(room.addressed)
    wanted = encode_wanted([(identity("alice").signing_public, EPOCH)])
    room.room.queue(encode_wanted_item(ghost.signing_public, wanted))
    room.pump()
    assert len(room.addressed) == before
    # It hands out a key of its own and speaks: the share is ignored, the message refused.
    ghost_message = ChatItem(sender="ghost", envelope=genuine("ghost"))
    # The room stores it three times (positions 4, 5, 6), each copy sealed for one member
    # only: each member counts its copy as the next after the three messages it saw.
    for pair in (alice, bob, carol):
        assert give_key(pair, "ghost") == []
        assert pair.client.keyring.sender_key(ghost.signing_public, EPOCH, room_id=ROOM_ID) is None
        assert deliver(room, pair, [ghost_message]) == [
            forged("ghost", proto.Forgery.NOT_A_MEMBER, position=4)
        ]
    # In a newcomer's history its messages never open either: nobody holds its key to hand on.
    dave = room.connect(make_client("dave", room_keys))
    history = welcomed(dave).history
    assert [e for e in history if e.sender == "ghost"] == [
        locked("ghost", MID, history=True, position=position) for position in (4, 5, 6)
    ]
    assert proto.MemberUnproven(member=ghost_info) in dave.client_events
    room.pump()  # the members' own history opens: they hand dave their keys
    assert give_key(dave, "ghost") == []
    assert sorted(m.sender for m in messages(dave.take()[0])) == ["alice", "bob", "carol"]
    assert dave.client.keyring.waiting_for() == [(ghost.signing_public, EPOCH)]


def test_a_departed_member_gets_no_share_of_the_next_epoch(room, room_keys, alice, bob) -> None:
    carol = room.connect(make_client("carol", room_keys))
    room.pump()
    (before,) = send(alice, "all three of us")
    room.pump()
    assert said(bob.take()[0]) == [("alice", "all three of us")]
    alice_pub = identity("alice").signing_public
    assert {a.recipient for a in room.addressed} == {
        identity(name).signing_public for name in ("bob", "carol")
    }
    held = carol.client.keyring.sender_key(alice_pub, EPOCH, room_id=ROOM_ID)
    assert held is not None and held[1]
    old_key = held[0]
    carol.client.send_goodbye(Reason.LEAVING, "bye")
    room.pump()
    assert proto.MemberDeparted(name="carol", code=Reason.LEAVING) in alice.take()[0]
    assert bob.take()[0] == [proto.MemberDeparted(name="carol", code=Reason.LEAVING)]
    shared = len(room.addressed)
    (after,) = send(alice, "just the two of us")
    room.pump()
    # A fresh key, under the next epoch, sealed to bob alone.
    (share,) = room.addressed[shared:]
    assert share.recipient == identity("bob").signing_public
    assert (share.owner, share.epoch) == (alice_pub, EPOCH + 1)
    (heard,) = messages(bob.take()[0])
    assert (heard.message_id, heard.epoch) == (after, EPOCH + 1)
    # Carol's old key opened what she was there for, and opens nothing after it: neither as
    # it is nor by following the ratchet (it is a fresh key, not a step).
    old, new = chat_item(room, before), chat_item(room, after)
    assert (
        open_message(
            message_key(old_key, room_id=ROOM_ID, signing_key=alice_pub, epoch=EPOCH),
            old.envelope,
            room_id=ROOM_ID,
            sender="alice",
        ).body
        == b"all three of us"
    )
    ratchet = carol.client.keyring.sender_key(alice_pub, EPOCH + 1, room_id=ROOM_ID)
    assert ratchet == (
        next_sender_key(old_key, room_id=ROOM_ID, signing_key=alice_pub, epoch=1),
        False,
    )
    for key, epoch in ((old_key, EPOCH), (old_key, EPOCH + 1), (ratchet[0], EPOCH + 1)):
        with pytest.raises(AuthenticationError):
            open_message(
                message_key(key, room_id=ROOM_ID, signing_key=alice_pub, epoch=epoch),
                new.envelope,
                room_id=ROOM_ID,
                sender="alice",
            )


@pytest.mark.parametrize("restart", [True, False], ids=["restarted", "ids forgotten"])
def test_a_message_replayed_as_new_is_refused(relay_secret, room_keys, restart: bool) -> None:
    # No history here: what a member learns of a message is only what arrives live.
    room = Room(relay_secret, history_limit=0)
    alice = room.connect(make_client("alice", room_keys))
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    (message_id,) = send(alice, "pay carol 10 euros")
    room.pump()
    assert said(bob.take()[0]) == [("alice", "pay carol 10 euros")]
    original = chat_item(room, message_id)
    if restart:
        # Bob's device restarts: no seen ids, no keys; only what its keyring stored.
        keyring = Keyring(identity("bob"), state=bob.client.keyring.state())
        room.disconnect("bob")
        bob = room.connect(make_client("bob", room_keys, keyring=keyring, label=b"bob restarted"))
        room.pump()
        bob.take()
    else:
        bob.client.seen_ids = RecentIds()  # the same device, its seen ids forgotten
    alice_pub = identity("alice").signing_public
    assert bob.client.keyring.already_accepted(alice_pub, EPOCH, 1)
    # The relay sends alice's genuine message again, as new: a fresh broadcast, same envelope.
    events = deliver(room, bob, [original])
    if restart:  # the restart lost alice's key: held until a share brings it ...
        assert events == [locked("alice", message_id, position=2)]  # stored again, after it
        room.connect(make_client("carol", room_keys))
        room.pump()  # ... bob asks once carol arrives, and alice answers
        events = bob.take()[0]
        latest = room.shares_to(identity("bob").signing_public)[-1]
        assert (latest.sender, latest.owner, latest.epoch) == ("alice", alice_pub, EPOCH)
    assert [e for e in events if isinstance(e, proto.ChatForged | proto.ChatOpened)] == [
        forged("alice", proto.Forgery.REPLAYED, message_id=message_id, position=2)
    ]
    assert message_id not in bob.client.seen_ids


def test_a_newcomer_gets_a_departed_members_key_from_one_who_saw_its_message(
    room, room_keys, alice, bob
) -> None:
    (message_id,) = send(bob, "for whoever comes")
    room.pump()
    assert said(alice.take()[0]) == [("bob", "for whoever comes")]
    bob.client.send_goodbye(Reason.LEAVING, "bye")
    room.pump()
    alice.take()
    carol = room.connect(make_client("carol", room_keys))
    # Bob has left: his message is history, waiting for his key; carol asks for it.
    assert welcomed(carol).history == (locked("bob", message_id, history=True, position=1),)
    bob_pub = identity("bob").signing_public
    assert carol.client.keyring.waiting_for() == [(bob_pub, EPOCH)]
    assert carol.sent_by_client()[-1] == FrameType.WANT
    room.pump()
    # Alice saw that message and bob is away: she passes bob's key on, sealed to carol.
    (share,) = room.shares_to(identity("carol").signing_public)
    assert (share.sender, share.owner, share.epoch) == ("alice", bob_pub, EPOCH)
    (opened,) = messages(carol.take()[0])
    assert (opened.sender, opened.signing_key, opened.text) == ("bob", bob_pub, "for whoever comes")
    assert opened.from_history and opened.message_id == message_id


def test_an_owner_present_answers_for_its_own_key(room, room_keys, alice, bob) -> None:
    (message_id,) = send(bob, "bob is still here")
    room.pump()
    carol = room.connect(make_client("carol", room_keys))
    assert welcomed(carol).history == (locked("bob", message_id, history=True, position=1),)
    room.pump()
    # Bob answers for his key himself; alice, who holds it too, leaves it to him.
    assert [(a.sender, a.owner) for a in room.shares_to(identity("carol").signing_public)] == [
        ("bob", identity("bob").signing_public)
    ]
    assert said(carol.take()[0]) == [("bob", "bob is still here")]


def test_a_message_queued_before_a_join_opens_for_the_joiner(room, room_keys, alice) -> None:
    # PROTOCOL.md 3.3: chat items queued before a joiner was added reach it only in the
    # broadcast after its WELCOME. Alice's first key went to nobody (she was alone), so the
    # newcomer holds the message locked and must be able to get the key for it.
    (message_id,) = send(alice, "just before bob")
    alice.shuttle()
    (submitted,) = alice.relay_events
    assert isinstance(submitted, proto.MessagesSubmitted)
    room.room.submit("alice", submitted.envelopes)  # queued, not flushed yet
    alice.relay_events.clear()
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    events = bob.take()[0]
    welcome = welcomed_in(events)
    # Not stored yet when bob was welcomed: it takes the WELCOME's next position, live.
    assert (welcome.history, welcome.next_position) == ((), 1)
    assert locked("alice", message_id, position=1) in events  # held at first ...
    assert said(events) == [("alice", "just before bob")]  # ... then opened


def test_a_member_cannot_plant_a_false_key_for_another(room, room_keys, alice, bob) -> None:
    # Carol knows the password, so her shares verify and open. She hands alice a key of her
    # own making for bob's first epochs before bob ever sends (a member may pass on another's
    # key, for history). Bob's own share must still count: his messages are his to key.
    carol = room.connect(make_client("carol", room_keys))
    room.pump()
    alice.take()
    for epoch in (EPOCH, EPOCH + 1):
        assert give_key(alice, "bob", epoch, key=bytes(32), distributor="carol") == []
    send(bob, "hello alice")
    room.pump()
    assert said(carol.take()[0]) == [("bob", "hello alice")]
    events = alice.take()[0]
    assert said(events) == [("bob", "hello alice")], events


def welcomed_in(events) -> proto.Welcomed:
    (event,) = [e for e in events if isinstance(e, proto.Welcomed)]
    return event


def _share_cases(wrong_keys: RoomKeys) -> dict[str, tuple[bytes, bytes]]:
    alice, bob = identity("alice"), identity("bob")
    good = seal_share_to(alice, sender_key("bob"), owner=bob, epoch=EPOCH)
    return {
        # (the distributor the relay attests, the share)
        "from someone not listed": (
            identity("dave").signing_public,
            seal_share_to(
                alice, sender_key("bob"), owner=bob, epoch=EPOCH, distributor=identity("dave")
            ),
        ),
        "attested from another member": (identity("carol").signing_public, good),
        "sealed to another member": (
            bob.signing_public,
            seal_share_to(identity("carol"), sender_key("bob"), owner=bob, epoch=EPOCH),
        ),
        "altered": (bob.signing_public, good[:40] + bytes([good[40] ^ 1]) + good[41:]),
        "relabelled epoch": (bob.signing_public, good[:32] + struct.pack(">I", 2) + good[36:]),
        "sealed without the password": (
            bob.signing_public,
            seal_share_to(alice, sender_key("bob"), owner=bob, epoch=EPOCH, keys=wrong_keys),
        ),
    }


SHARE_CASES = [
    "from someone not listed",
    "attested from another member",
    "sealed to another member",
    "altered",
    "relabelled epoch",
    "sealed without the password",
]


@pytest.mark.parametrize("case", SHARE_CASES)
def test_a_share_that_does_not_hold_is_ignored(
    room, room_keys, wrong_keys, alice, bob, case: str
) -> None:
    room.connect(make_client("carol", room_keys))  # a member too: a distributor alice knows
    room.pump()
    alice.take()
    item = ChatItem(sender="bob", envelope=genuine("bob"))
    assert deliver(room, alice, [item]) == [locked("bob", MID, position=1)]
    distributor, share = _share_cases(wrong_keys)[case]
    assert alice.relay.send_share(distributor, share)
    alice.shuttle()
    assert alice.take()[0] == []  # ignored: nothing opens, and the connection goes on
    assert alice.client.state is ClientState.JOINED
    assert (
        alice.client.keyring.sender_key(identity("bob").signing_public, EPOCH, room_id=ROOM_ID)
        is None
    )
    assert said(give_key(alice, "bob")) == [("bob", "hi")]  # the genuine share still opens it


# -- broadcasts: replayed, reordered, tampered ---------------------------------------------------


def test_presence_the_welcome_already_told_is_no_news(room, alice, bob) -> None:
    # Presence is flushed a moment after a join, so a broadcast may repeat what a joiner's
    # WELCOME listed (PROTOCOL.md 3.3): its own JOINED, a member listed as it is, the LEFT of
    # someone it never saw. Only what changes its list is an event.
    other = member_info("bob", device=identity("x"))
    frame = room.seal(
        JoinedItem(member=member("alice")),  # ourselves, as listed
        JoinedItem(member=member("bob")),  # listed, same keys
        LeftItem(name="zed", code=Reason.LEAVING),  # never listed
        JoinedItem(member=member("carol")),  # news
        LeftItem(name="carol", code=Reason.LEAVING),  # news: carol was listed a moment ago
        JoinedItem(member=other),  # bob's name with other keys: news, whatever the relay means
    )
    alice.client.receive_data(frame)
    assert alice.client.events_received() == [
        proto.MemberArrived(member=member("carol")),
        proto.MemberDeparted(name="carol", code=Reason.LEAVING),
        proto.MemberArrived(member=other),
    ]
    assert alice.client.members == {"alice": member("alice"), "bob": other}


def test_replayed_broadcast_is_a_violation(room, alice) -> None:
    frame = room.seal(JoinedItem(member=member("x")))
    alice.client.receive_data(frame)
    assert alice.client.events_received() == [proto.MemberArrived(member=member("x"))]
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
    first = room.seal(JoinedItem(member=member("x")))
    second = room.seal(JoinedItem(member=member("y")))
    alice.client.receive_data(second)  # a gap is fine (we joined late) ...
    assert alice.client.events_received() == [proto.MemberArrived(member=member("y"))]
    alice.client.receive_data(first)  # ... going back is not
    assert isinstance(alice.client.events_received()[0], proto.ProtocolViolation)


def test_a_broadcast_sealed_before_we_joined_is_a_violation(room, room_keys, alice) -> None:
    old = room.seal(JoinedItem(member=member("x")))
    bob = room.connect(make_client("bob", room_keys))
    bob.take()
    bob.client.receive_data(old)
    assert isinstance(bob.client.events_received()[0], proto.ProtocolViolation)


@pytest.mark.parametrize("index", [4, 5, 12, 13, -1])
def test_tampered_broadcast_is_a_violation(room, alice, index: int) -> None:
    frame = bytearray(room.seal(JoinedItem(member=member("x"))))
    frame[index] ^= 0x40
    alice.client.receive_data(bytes(frame))
    (event,) = alice.client.events_received()
    assert isinstance(event, proto.ProtocolViolation)


def test_broadcast_under_another_key_is_a_violation(alice) -> None:
    frame = encode_broadcast(
        BroadcastSealer(bytes(32), next_seq=100), [encode_item(JoinedItem(member=member("x")))]
    )
    alice.client.receive_data(frame)
    assert isinstance(alice.client.events_received()[0], proto.ProtocolViolation)
