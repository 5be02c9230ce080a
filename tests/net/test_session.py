"""After the handshake: join, welcome, chat through seal-once broadcasts, presence, pings,
notices, goodbyes, sending limits, counters, and every way a relayed message can be forged,
moved, replayed or reordered (docs/PROTOCOL.md 3.2, 3.3 and 5)."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest

from crypto import aead
from crypto.envelope import MIN_SIZE, message_aad, seal_message
from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from crypto.spake2 import Spake2Secret
from crypto.transport import BroadcastSealer
from net import proto
from net.proto import ClientState, RelayState, WelcomeArgs, encode_broadcast
from net.proto._errors import LocalProtocolError
from net.proto._frames import MAX_CLIENT_FRAME, FrameType, Reason
from net.proto._messages import (
    ChatItem,
    JoinedItem,
    LeftItem,
    MemberInfo,
    PendingMessage,
    encode_chat,
    encode_item,
)
from net.proto._replay import RecentIds
from tests.crypto._reference import xchacha20_poly1305_seal
from tests.net.helpers import (
    BROADCAST_KEY,
    MAX_MESSAGE_BYTES,
    PASSWORD,
    ROOM_ID,
    Pair,
    Room,
    credentials,
    identity,
    make_client,
    make_relay,
    split_frames,
)

OTHER_ROOM = bytes(16)
MID = b"M" * 16
MAX_ENVELOPE = MAX_MESSAGE_BYTES + 432  # PROTOCOL.md 5: the relay's upper bound


def member(name: str) -> MemberInfo:
    """``name``'s entry in a member list: the test identity of that name."""
    device = identity(name)
    return MemberInfo(name=name, signing_key=device.signing_public, dh_key=device.dh_public)


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


def joined_pair(room_keys: RoomKeys, relay_secret: Spake2Secret, **changes: Any) -> Pair:
    """alice alone, welcomed by hand (no Room) with ``changes`` to an honest WELCOME."""
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    welcome = WelcomeArgs(
        name="alice",
        members=(member("alice"),),
        broadcast_key=BROADCAST_KEY,
        next_seq=1,
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
    assert [m.text for m in messages(alice.take()[0])] == ["first", "second"]  # own echoes
    bob = room.connect(make_client("bob", room_keys))
    welcome = welcomed(bob)
    assert welcome.your_name == "bob"
    assert welcome.members == (member("alice"), member("bob"))  # in join order, joiner last
    assert bob.client.members == {"alice": member("alice"), "bob": member("bob")}
    assert welcome.max_message_bytes == MAX_MESSAGE_BYTES == bob.client.max_message_bytes
    opened = messages(welcome.history)
    assert len(opened) == len(welcome.history)  # nothing forged
    assert [(m.sender, m.text, m.counter, m.from_history) for m in opened] == [
        ("alice", "first", 1, True),
        ("alice", "second", 2, True),
    ]
    assert all(m.signing_key == identity("alice").signing_public for m in opened)
    assert bob.client.state is ClientState.JOINED and bob.relay.state is RelayState.JOINED
    room.pump()
    assert alice.take()[0] == [proto.MemberArrived(member=member("bob"))]
    assert alice.client.members["bob"] == member("bob")


def test_chat_goes_through_one_broadcast_sealed_once(room, alice, bob) -> None:
    ids = [alice.client.new_message_id() for _ in range(3)]
    alice.client.send_messages([(f"hello {i}", ids[i], 100 + i) for i in range(3)])
    chat_frames = split_frames(alice.client.data_to_send())
    assert [body[0] for body in chat_frames] == [FrameType.CHAT]  # three messages, one frame
    alice.relay.receive_data(b"".join(len(b).to_bytes(4, "big") + b for b in chat_frames))
    (submitted,) = alice.relay.events_received()
    assert isinstance(submitted, proto.MessagesSubmitted) and len(submitted.envelopes) == 3
    sealed = room.room.broadcasts_sealed
    room.room.submit("alice", submitted.envelopes)  # what the relay does with them
    frame = room.flush()
    assert room.room.broadcasts_sealed == sealed + 1  # three messages, one seal
    # The very same bytes go to every member.
    assert alice.relay.data_to_send() == frame == bob.relay.data_to_send()
    assert frame is not None
    for pair in (alice, bob):
        pair.client.receive_data(frame)
        assert messages(pair.client.events_received()) == [
            proto.ChatOpened(
                sender="alice",
                signing_key=identity("alice").signing_public,
                text=f"hello {i}",
                message_id=ids[i],
                timestamp_ms=100 + i,
                content_type="text/plain",
                epoch=0,
                counter=i + 1,
                from_history=False,
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
    assert first[:20] == second[:20]  # same id and epoch ...
    assert bytes(first[20:44]) != bytes(second[20:44])  # ... fresh nonces
    assert bytes(first[44:]) != bytes(second[44:])


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
    ],
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


def test_max_message_bytes_is_enforced_on_send(alice) -> None:
    client = alice.client
    client.send_messages([("é" * (MAX_MESSAGE_BYTES // 2), client.new_message_id(), 1)])
    client.data_to_send()
    counter = client.next_counter
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
    assert client.next_counter == counter  # no counter spent on a refused batch
    client.send_messages([])
    assert client.data_to_send() == b""


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
    alice, bad: PendingMessage
) -> None:
    # The core's error policy: local misuse is LocalProtocolError, and nothing is spent.
    client = alice.client
    counter = client.next_counter
    with pytest.raises(LocalProtocolError):
        client.send_messages([("fine", client.new_message_id(), 1), bad])
    assert client.data_to_send() == b""
    assert client.next_counter == counter


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
    first = [m.counter for m in messages(bob.take()[0])]
    assert first == list(range(1, 24))
    assert client.next_counter == 24
    # A new connection (a reconnect) carries on from where the old one stopped.
    room.disconnect("alice")
    again = room.connect(
        make_client("alice", room_keys, next_counter=client.next_counter, label=b"alice again")
    )
    again.client.send_messages([("after", again.client.new_message_id(), 9)])
    again.client.send_messages([("later", again.client.new_message_id(), 10)])
    room.pump()
    assert [m.counter for m in messages(bob.take()[0])] == [24, 25]


# -- forged, moved, foreign and replayed messages --------------------------------------------


def _str8(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data)]) + data


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
    epoch: int = 0,
    counter: int = 1,
    timestamp_ms: int = 5,
    content_type: str = "text/plain",
    body: bytes = b"hi",
    nonce: bytes = bytes(24),
) -> bytes:
    """An envelope written out from PROTOCOL.md 5 (reference XChaCha20-Poly1305), with every
    field the AEAD and the signature cover under the test's control: ``sender`` goes into the
    aad, ``signed_sender`` / ``signed_room`` into the signature (default: the same), and the
    plaintext names ``signing_key`` (default: the signer's)."""
    signing_key = signing_key or signer.signing_public
    header = message_id + struct.pack(">I", epoch)
    signed = (
        (signed_room or room_id)
        + header
        + _str8(signed_sender or sender)
        + signing_key
        + struct.pack(">QQ", counter, timestamp_ms)
        + _str8(content_type)
        + struct.pack(">I", len(body))
        + body
    )
    signature = signer.sign(signed, context="message")
    plaintext = (
        signing_key
        + struct.pack(">QQ", counter, timestamp_ms)
        + _str8(content_type)
        + struct.pack(">I", len(body))
        + body
        + signature
    )
    aad = b"SocketChat v2 message" + room_id + header + _str8(sender)
    return header + nonce + xchacha20_poly1305_seal(key, nonce, plaintext, aad)


def genuine(keys: RoomKeys, name: str, **fields) -> bytes:
    """``name``'s own message as its client would seal it."""
    return seal_message(
        keys.message,
        identity=identity(name),
        room_id=fields.pop("room_id", ROOM_ID),
        sender=name,
        message_id=fields.pop("message_id", MID),
        epoch=fields.pop("epoch", 0),
        counter=1,
        timestamp_ms=5,
        content_type="text/plain",
        body=fields.pop("body", b"hi"),
        nonce=bytes(24),
    )


def deliver(room: Room, pair: Pair, items) -> list:
    """``items`` in the room's next broadcast, to ``pair`` alone; returns the client's events."""
    pair.client.receive_data(room.seal(*items))
    return pair.client.events_received()


def forged(sender: str, why: proto.Forgery, *, message_id: bytes = MID, history: bool = False):
    return proto.ChatForged(sender=sender, message_id=message_id, from_history=history, why=why)


def test_the_spelled_out_envelope_is_what_clients_send(room_keys) -> None:
    assert spelled_envelope(room_keys.message, signer=identity("bob"), sender="bob") == genuine(
        room_keys, "bob"
    )


def test_a_genuine_message_opens(room, room_keys, alice, bob) -> None:
    assert deliver(room, alice, [ChatItem(sender="bob", envelope=genuine(room_keys, "bob"))]) == [
        proto.ChatOpened(
            sender="bob",
            signing_key=identity("bob").signing_public,
            text="hi",
            message_id=MID,
            timestamp_ms=5,
            content_type="text/plain",
            epoch=0,
            counter=1,
            from_history=False,
        )
    ]


def test_a_member_signing_in_another_members_name(room, room_keys, alice, bob) -> None:
    # Mallory holds the room key: the AEAD opens for sender "bob". Her own signature verifies
    # too, but under her key, not the one the member list gives for bob.
    item = ChatItem(
        sender="bob",
        envelope=spelled_envelope(room_keys.message, signer=identity("mallory"), sender="bob"),
    )
    assert deliver(room, alice, [item]) == [forged("bob", proto.Forgery.WRONG_KEY)]
    assert not alice.client.close_expected()  # another member's forgery does not kill us
    assert MID not in alice.client.seen_ids  # the genuine message with this id still shows


@pytest.mark.parametrize(
    "case",
    ["signature by another key", "flipped signature", "signed for another sender", "other room"],
)
def test_a_signature_that_does_not_verify(room, room_keys, alice, bob, case: str) -> None:
    key, bob_id = room_keys.message, identity("bob")
    if case == "signature by another key":  # names bob's key, signed by mallory
        envelope = spelled_envelope(
            key, signer=identity("mallory"), sender="bob", signing_key=bob_id.signing_public
        )
    elif case == "flipped signature":
        signed = spelled_envelope(key, signer=bob_id, sender="bob")
        plaintext = aead.open_random(key, signed[20:], aad=_aad("bob"))
        plaintext = plaintext[:-1] + bytes([plaintext[-1] ^ 1])
        envelope = signed[:20] + aead.seal_random(key, plaintext, aad=_aad("bob"), nonce=bytes(24))
    elif case == "signed for another sender":  # carol's signed message, sealed as bob's
        envelope = spelled_envelope(key, signer=bob_id, sender="bob", signed_sender="carol")
    else:
        envelope = spelled_envelope(key, signer=bob_id, sender="bob", signed_room=OTHER_ROOM)
    item = ChatItem(sender="bob", envelope=envelope)
    assert deliver(room, alice, [item]) == [forged("bob", proto.Forgery.BAD_SIGNATURE)]
    assert not alice.client.close_expected()


def _aad(sender: str, room_id: bytes = ROOM_ID, message_id: bytes = MID, epoch: int = 0) -> bytes:
    return message_aad(room_id=room_id, message_id=message_id, epoch=epoch, sender=sender)


def _moved(keys: RoomKeys, case: str) -> ChatItem:
    env = genuine(keys, "bob")
    if case == "another room (its key)":
        other_keys = derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10)
        return ChatItem(sender="bob", envelope=genuine(other_keys, "bob", room_id=OTHER_ROOM))
    if case == "another room (same key)":
        return ChatItem(sender="bob", envelope=genuine(keys, "bob", room_id=OTHER_ROOM))
    if case == "another id":
        return ChatItem(sender="bob", envelope=b"N" * 16 + env[16:])
    if case == "another epoch":  # sealed as epoch 5, relabelled epoch 0
        sealed = genuine(keys, "bob", epoch=5)
        return ChatItem(sender="bob", envelope=sealed[:16] + bytes(4) + sealed[20:])
    if case == "attested for another sender":
        return ChatItem(sender="alice", envelope=env)
    if case == "tampered":
        return ChatItem(sender="bob", envelope=env[:-1] + bytes([env[-1] ^ 1]))
    if case == "another key":
        other = derive_room_keys("not the password", room_id=ROOM_ID, n=2**10)
        return ChatItem(sender="bob", envelope=genuine(other, "bob"))
    if case == "malformed inside":  # opens, but the lengths inside do not add up
        return ChatItem(
            sender="bob",
            envelope=env[:20]
            + aead.seal_random(keys.message, b"\x00" * 200, aad=_aad("bob"), nonce=bytes(24)),
        )
    assert case == "text that is not UTF-8"
    return ChatItem(sender="bob", envelope=genuine(keys, "bob", body=b"\xff\xfe"))


MOVED = [
    "another room (its key)",
    "another room (same key)",
    "another id",
    "another epoch",
    "attested for another sender",
    "tampered",
    "another key",
    "malformed inside",
    "text that is not UTF-8",
]


@pytest.mark.parametrize("case", MOVED)
def test_a_moved_or_unreadable_message(room, room_keys, alice, bob, case: str) -> None:
    item = _moved(room_keys, case)
    message_id = bytes(item.envelope[:16])
    assert deliver(room, alice, [item]) == [
        forged(item.sender, proto.Forgery.UNREADABLE, message_id=message_id)
    ]
    assert not alice.client.close_expected()
    assert message_id not in alice.client.seen_ids


@pytest.mark.parametrize("epoch", [1, 7, 2**32 - 1])
def test_an_unknown_epoch_is_unreadable_not_a_crash(room, room_keys, alice, epoch: int) -> None:
    item = ChatItem(sender="bob", envelope=genuine(room_keys, "bob", epoch=epoch))
    assert deliver(room, alice, [item]) == [forged("bob", proto.Forgery.UNREADABLE)]
    assert alice.client.state is ClientState.JOINED


def test_a_host_controlled_relay_cannot_make_a_message_anothers(room, room_keys, alice, bob):
    # The host runs the relay and is a member: it holds the room key and its own identity. It
    # takes bob's genuine message and tries to show it to alice as carol's (a member too).
    carol = room.connect(make_client("carol", room_keys))
    room.pump()
    alice.take()
    carol.take()
    key, original = room_keys.message, genuine(room_keys, "bob", body=b"pay the bill")
    plaintext = aead.open_random(key, original[20:], aad=_aad("bob"))  # the host can read it
    attempts = {
        # The very bytes, attested for carol.
        "re-attested": ChatItem(sender="carol", envelope=original),
        # Re-sealed for carol with bob's signed plaintext: the signature names bob.
        "re-sealed": ChatItem(
            sender="carol",
            envelope=original[:20]
            + aead.seal_random(key, plaintext, aad=_aad("carol"), nonce=bytes(24)),
        ),
        # Re-signed by the host as carol.
        "re-signed": ChatItem(
            sender="carol",
            envelope=spelled_envelope(
                key, signer=identity("host"), sender="carol", body=b"pay the bill"
            ),
        ),
        # Re-signed by the host, naming carol's key.
        "re-signed naming carol's key": ChatItem(
            sender="carol",
            envelope=spelled_envelope(
                key,
                signer=identity("host"),
                sender="carol",
                signing_key=identity("carol").signing_public,
                body=b"pay the bill",
            ),
        ),
    }
    events = deliver(room, alice, list(attempts.values()))
    assert [e.why for e in events] == [
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


def test_a_sender_who_is_not_listed_opens_under_its_own_key(room, room_keys, alice) -> None:
    # A member who has left (history, or a message that crossed its LEFT): the core checks
    # the signature; the driver compares the key with what the device remembers for the name.
    item = ChatItem(sender="dave", envelope=genuine(room_keys, "dave"))
    (event,) = deliver(room, alice, [item])
    assert isinstance(event, proto.ChatOpened)
    assert event.signing_key == identity("dave").signing_public


def test_a_runt_envelope_from_the_relay_is_a_violation(room, alice) -> None:
    # The relay checks sizes itself: forwarding a runt is the relay breaking the protocol.
    (event,) = deliver(room, alice, [ChatItem(sender="bob", envelope=bytes(MIN_SIZE - 1))])
    assert isinstance(event, proto.ProtocolViolation)


def test_duplicate_message_id_is_dropped(room, room_keys, alice, bob) -> None:
    item = ChatItem(sender="bob", envelope=genuine(room_keys, "bob"))
    # Twice in one broadcast: shown once. Again in a later broadcast: not shown at all.
    events = deliver(room, alice, [item, item])
    assert [(m.sender, m.message_id) for m in messages(events)] == [("bob", MID)]
    assert len(events) == 1
    assert deliver(room, alice, [item]) == []
    assert MID in alice.client.seen_ids


def test_seen_ids_survive_a_reconnect(room, room_keys, alice) -> None:
    alice.client.send_messages([("before", alice.client.new_message_id(), 1)])
    room.pump()
    seen = RecentIds()
    bob = room.connect(make_client("bob", room_keys, seen_ids=seen))
    welcome = welcomed(bob)
    assert [m.text for m in messages(welcome.history)] == ["before"]
    assert len(welcome.history) == 1
    # Bob reconnects; the history he already saw is not shown again.
    room.disconnect("bob")
    again = room.connect(make_client("bob", room_keys, seen_ids=seen, label=b"bob again"))
    assert welcomed(again).history == ()


def test_history_is_verified_like_live_messages(room, room_keys, alice, bob) -> None:
    key = room_keys.message
    room.seal(
        ChatItem(sender="alice", envelope=genuine(room_keys, "alice", message_id=b"1" * 16)),
        ChatItem(
            sender="bob",
            envelope=spelled_envelope(
                key, signer=identity("mallory"), sender="bob", message_id=b"2" * 16
            ),
        ),
        ChatItem(sender="alice", envelope=genuine(room_keys, "bob", message_id=b"3" * 16)),
        ChatItem(
            sender="bob",
            envelope=spelled_envelope(
                key,
                signer=identity("mallory"),
                signing_key=identity("bob").signing_public,
                sender="bob",
                message_id=b"4" * 16,
            ),
        ),
        ChatItem(sender="bob", envelope=genuine(room_keys, "bob", message_id=b"5" * 16)),
    )
    carol = room.connect(make_client("carol", room_keys))
    history = welcomed(carol).history
    assert [type(e).__name__ for e in history] == [
        "ChatOpened",
        "ChatForged",
        "ChatForged",
        "ChatForged",
        "ChatOpened",
    ]
    assert history[1:4] == (
        forged("bob", proto.Forgery.WRONG_KEY, message_id=b"2" * 16, history=True),
        forged("alice", proto.Forgery.UNREADABLE, message_id=b"3" * 16, history=True),
        forged("bob", proto.Forgery.BAD_SIGNATURE, message_id=b"4" * 16, history=True),
    )
    assert [(m.sender, m.from_history) for m in messages(history)] == [
        ("alice", True),
        ("bob", True),
    ]
    assert carol.client.state is ClientState.JOINED


# -- broadcasts: replayed, reordered, tampered ---------------------------------------------------


def test_presence_the_welcome_already_told_is_no_news(room, alice, bob) -> None:
    # Presence is flushed a moment after a join, so a broadcast may repeat what a joiner's
    # WELCOME listed (PROTOCOL.md 3.3): its own JOINED, a member listed as it is, the LEFT of
    # someone it never saw. Only what changes its list is an event.
    other = MemberInfo(name="bob", signing_key=identity("x").signing_public, dh_key=bytes(32))
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
