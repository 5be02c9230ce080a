"""Property tests: no input, however split, makes a protocol core raise or buffer past its cap.

Two strategies: plain random bytes (exercises framing and the first frame), and mutations of a
recorded, valid session (gets deep into the encrypted phase, where plain noise never reaches).
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.envelope import seal_message
from crypto.epoch import message_key
from crypto.kdf import RoomKeys, derive_room_keys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import ClientProtocol, FrameType, RelayProtocol
from net.proto._frames import MAX_CLIENT_FRAME, MAX_HANDSHAKE_FRAME, MAX_RELAY_FRAME, Reason
from net.proto._messages import (
    ChatItem,
    JoinedItem,
    MemberInfo,
    encode_item,
    encode_wanted,
    encode_wanted_item,
)
from tests.net.helpers import (
    BROADCAST_KEY,
    PASSWORD,
    ROOM_ID,
    Pair,
    credentials,
    identity,
    make_client,
    make_relay,
    member_info,
    seal_share_to,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Bob's sender key of epoch 1 in the recorded session (bob is not a client there: the test
#: seals his messages and his share to alice).
BOBS_KEY = bytes(range(7, 39))


@functools.cache
def _keys() -> tuple[RoomKeys, Spake2Secret]:
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID, n=2**10)
    return keys, Spake2Secret.from_access_key(keys.access)


def _member(name: str) -> MemberInfo:
    return member_info(name, keys=_keys()[0])


def _bobs_message(text: bytes, message_id: bytes, counter: int = 1, epoch: int = 1) -> bytes:
    """Bob's message under his key of ``epoch`` (epoch 1: BOBS_KEY; any other: a key alice
    never receives, so the message stays locked)."""
    bob = identity("bob").signing_public
    key = BOBS_KEY if epoch == 1 else bytes(range(100, 132))
    return encode_item(
        ChatItem(
            sender="bob",
            envelope=seal_message(
                message_key(key, room_id=ROOM_ID, signing_key=bob, epoch=epoch),
                identity=identity("bob"),
                room_id=ROOM_ID,
                sender="bob",
                message_id=message_id,
                epoch=epoch,
                counter=counter,
                timestamp_ms=1,
                content_type="text/plain",
                body=text,
                nonce=bytes(24),
            ),
        )
    )


def _room() -> proto.Room[object]:
    """The room as the recorded session found it: bob's message in its history."""
    room: proto.Room[object] = proto.Room(broadcast_key=BROADCAST_KEY, max_message_bytes=1000)
    room.queue(_bobs_message(b"from the history", b"H" * 16))
    room.flush()
    return room


def _answer(relay: RelayProtocol, events: list[proto.Event], room: proto.Room[object]) -> None:
    """What the relay driver does with the core's requests (the same answers every run)."""
    for event in events:
        if isinstance(event, proto.RoomRequested) and relay.state.name == "ROOM_PENDING":
            relay.select_room(credentials(_keys()[1]))
        elif isinstance(event, proto.JoinRequested) and relay.state.name == "JOIN_PENDING":
            try:
                name = room.check_join(event.username, event.signing_key)
            except proto.JoinRejected as rejected:
                relay.reject_join(rejected.code, rejected.text)
                continue
            info = MemberInfo(
                name=name, signing_key=event.signing_key, dh_key=event.dh_key, tag=event.tag
            )
            room.join(info, relay)
            relay.accept_join(room.welcome(name))
        elif isinstance(event, proto.KeysWanted):
            room.want(_name_of(relay, room), event.payload)
        elif isinstance(event, proto.SharesSubmitted):
            distributor = room.signing_key_of(_name_of(relay, room))
            assert distributor is not None
            for recipient, share in event.shares:
                target = room.handle_of_identity(recipient)
                if isinstance(target, RelayProtocol) and target is not relay:
                    target.send_share(distributor, share)


def _name_of(relay: RelayProtocol, room: proto.Room[object]) -> str:
    (name,) = [n for n, h in zip(room.members, room.handles(), strict=True) if h is relay]
    return name


@functools.cache
def recorded_session() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(the client's chunks, the relay's chunks) in one deterministic session that reaches
    every frame type and broadcast item kind, forged, locked and history messages included:
    alice joins a room whose history holds a message of bob's, who is away; she asks for his
    key (WANT), bob arrives and hands it over (SHARE), she sends (SHARES, CHAT), answers bob's
    request for her key (WANTED, SHARES) and leaves."""
    keys, secret = _keys()
    alice, bob = identity("alice"), identity("bob")
    pair = Pair(make_client(keys=keys), make_relay(), credentials=credentials(secret))
    room = _room()
    pair.handshake()
    _answer(pair.relay, pair.relay_events, room)
    pair.shuttle()  # WELCOME (bob's message locked), then alice's WANT
    _answer(pair.relay, pair.relay_events, room)
    pair.relay_events.clear()
    room.queue(encode_item(JoinedItem(member=_member("bob"))))
    flushed = room.flush()  # alice's JOINED and WANTED, bob's JOINED: she asks bob again
    assert flushed is not None
    pair.relay.send_raw(flushed)
    pair.shuttle()
    pair.relay.send_share(
        bob.signing_public, seal_share_to(alice, BOBS_KEY, owner=bob, epoch=1, keys=keys)
    )
    pair.client.send_messages([("hello", bytes(16), 1), ("again", bytes(range(16)), 2)])
    pair.client.send_ping(3)
    pair.relay.send_ping(4)
    pair.relay.send_notice(Reason.RATE_LIMITED, "slow down")
    pair.shuttle()
    submitted = [e for e in pair.relay_events if isinstance(e, proto.MessagesSubmitted)]
    room.submit("alice", submitted[0].envelopes)
    room.queue(_bobs_message(b"live", b"L" * 16, counter=2))
    room.queue(_bobs_message(b"forged", b"F" * 16, counter=3)[:-1] + b"\x00")  # unreadable
    room.queue(_bobs_message(b"locked", b"K" * 16, epoch=9))  # a key that never comes
    wanted = encode_wanted([(alice.signing_public, 1)])
    room.queue(encode_wanted_item(bob.signing_public, wanted))  # alice answers with SHARES
    room.leave("alice", Reason.LEAVING)  # a LEFT item (for alice herself: still decodable)
    flushed = room.flush()
    assert flushed is not None
    pair.relay.send_raw(flushed)
    pair.shuttle()
    kinds = {type(e) for e in pair.client_events}
    wanted_kinds = {
        proto.ChatOpened,
        proto.ChatForged,
        proto.ChatLocked,
        proto.MemberArrived,
        proto.MemberDeparted,
    }
    sent = set(pair.sent_by_client())
    if not wanted_kinds <= kinds or not {FrameType.SHARES, FrameType.WANT} <= sent:
        raise AssertionError(f"the recorded session fell short: {pair.client_events}")
    if FrameType.SHARE not in pair.sent_by_relay():
        raise AssertionError("the recorded session has no SHARE")
    pair.client.send_goodbye(Reason.LEAVING, "bye")
    pair.shuttle()
    return tuple(pair.to_relay_log), tuple(pair.to_client_log)


def _boundaries(chunks) -> list[int]:
    """Where the recorded chunks ended: a client never sends CHAT in the JOIN's chunk."""
    ends, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        ends.append(total)
    return ends


def _feed(
    core: ClientProtocol | RelayProtocol,
    data: bytes,
    cuts: list[int],
    cap: int,
    *,
    room: proto.Room[object] | None = None,
) -> list[proto.Event]:
    """Feed ``data`` cut at ``cuts``; a relay core gets the driver's answers from ``room``."""
    events: list[proto.Event] = []
    points = sorted({c % (len(data) + 1) for c in cuts})
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        core.receive_data(data[start:end])  # must never raise
        assert core._reader.buffered <= max(4, cap)
        new = core.events_received()
        if isinstance(core, RelayProtocol) and room is not None:
            _answer(core, new, room)
        events += new
        core.data_to_send()
    core.receive_eof()
    events += core.events_received()
    assert events[-1] == proto.ConnectionClosed()
    # After the end (a violation, a refusal, a failed login, a goodbye, a key mismatch),
    # nothing but the final ConnectionClosed.
    endings = [i for i, e in enumerate(events) if isinstance(e, _ENDINGS)]
    assert all(i >= len(events) - 2 for i in endings), events
    return events


_ENDINGS = (
    proto.ProtocolViolation,
    proto.Refused,
    proto.AuthenticationFailed,
    proto.GoodbyeReceived,
    proto.RelayKeyMismatch,
)


def _fresh_client() -> ClientProtocol:
    client = make_client(keys=_keys()[0])
    client.initiate()
    client.data_to_send()
    return client


def _fresh_relay() -> RelayProtocol:
    return make_relay()


@SETTINGS
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_random_bytes_to_the_relay(data: bytes, cuts: list[int]) -> None:
    _feed(_fresh_relay(), data, cuts, MAX_HANDSHAKE_FRAME, room=_room())


@SETTINGS
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_random_bytes_to_the_client(data: bytes, cuts: list[int]) -> None:
    _feed(_fresh_client(), data, cuts, MAX_HANDSHAKE_FRAME)


def test_the_whole_session_fed_one_byte_at_a_time() -> None:
    to_relay, to_client = (b"".join(chunks) for chunks in recorded_session())
    client_events = _feed(_fresh_client(), to_client, list(range(len(to_client))), MAX_RELAY_FRAME)
    relay_events = _feed(
        _fresh_relay(), to_relay, list(range(len(to_relay))), MAX_CLIENT_FRAME, room=_room()
    )
    kinds = {type(e) for e in client_events}
    assert {
        proto.Welcomed,
        proto.ChatOpened,
        proto.ChatForged,
        proto.ChatLocked,
        proto.MemberArrived,
        proto.MemberDeparted,
    } <= kinds
    relay_kinds = {type(e) for e in relay_events}
    assert {proto.MessagesSubmitted, proto.SharesSubmitted, proto.KeysWanted} <= relay_kinds
    assert not any(isinstance(e, proto.ProtocolViolation) for e in client_events + relay_events)
    assert proto.GoodbyeReceived(code=Reason.LEAVING, text="bye") in relay_events


mutations = st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=0, max_size=3)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut_at: int | None) -> bytes:
    out = bytearray(data)
    for position, mask in edits:
        out[position % len(out)] ^= mask
    if cut_at is not None:
        del out[cut_at % len(out) :]
    return bytes(out)


@SETTINGS
@given(
    edits=mutations,
    cut_at=st.none() | st.integers(0, 10**6),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_mutated_session_to_the_client(edits, cut_at, cuts) -> None:
    _, chunks = recorded_session()
    data = _mutate(b"".join(chunks), edits, cut_at)
    events = _feed(_fresh_client(), data, cuts, MAX_RELAY_FRAME)
    if not edits and cut_at is None:
        assert not any(isinstance(e, proto.ProtocolViolation) for e in events)


@SETTINGS
@given(
    edits=mutations,
    cut_at=st.none() | st.integers(0, 10**6),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_mutated_session_to_the_relay(edits, cut_at, cuts) -> None:
    chunks, _ = recorded_session()
    data = _mutate(b"".join(chunks), edits, cut_at)
    # Cut at least where the client's writes ended: it waits for an answer after each.
    events = _feed(
        _fresh_relay(), data, [*cuts, *_boundaries(chunks)], MAX_CLIENT_FRAME, room=_room()
    )
    if not edits and cut_at is None:
        assert not any(isinstance(e, proto.ProtocolViolation) for e in events)
        assert proto.GoodbyeReceived(code=Reason.LEAVING, text="bye") in events
