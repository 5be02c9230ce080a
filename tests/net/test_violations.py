"""Bad input from the peer: always a ProtocolViolation event, never an exception; nothing after
it is processed; the peer gets a fixed error frame when there is a way to send one."""

from __future__ import annotations

import pytest

from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import DEFAULT_ROOM, ClientProtocol, ClientState, RelayProtocol, RelayState
from net.proto._frames import FrameType, Reason
from net.proto._messages import (
    SHARE_BLOB_SIZE,
    ClientHello,
    ClientOpen,
    Refusal,
    Welcome,
    decode_code_text,
    encode_code_text,
    encode_share,
    encode_shares,
    encode_wanted,
)
from tests.net.helpers import (
    Pair,
    Room,
    credentials,
    frame,
    make_client,
    make_relay,
    split_frames,
)

HELLO = frame(FrameType.CLIENT_HELLO, ClientHello(versions=(2,)).encode())
OPEN = frame(FrameType.CLIENT_OPEN, ClientOpen(room_id=DEFAULT_ROOM, nonce=bytes(32)).encode())


def only_violation(events: list[proto.Event]) -> proto.ProtocolViolation:
    assert len(events) == 1 and isinstance(events[0], proto.ProtocolViolation), events
    return events[0]


def refused_with_protocol_error(data: bytes) -> bool:
    (body,) = split_frames(data)
    return body[0] == FrameType.REFUSED and Refusal.decode(body[1:]) == Refusal(
        code=Reason.PROTOCOL_ERROR, retry_after_ms=0, text="protocol error"
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00\x00\x00\x00", "empty frame"),
        ((2**31).to_bytes(4, "big"), "exceeds"),
        (b"\x00\x00\x10\x01", "exceeds"),  # 4097: one above the handshake cap
        (frame(0x99), "unknown frame type 0x99"),
        (frame(0x05, bytes(32)), "unknown frame type 0x05"),  # v1's CLIENT_CONFIRM
        (frame(0x04, bytes(65)), "unknown frame type 0x04"),  # v1's RELAY_PAKE
        (frame(FrameType.CLIENT_OPEN, bytes(48)), "unexpected CLIENT_OPEN"),
        (frame(FrameType.CLIENT_PAKE, bytes(97)), "unexpected CLIENT_PAKE"),
        (frame(FrameType.CHAT, bytes(40)), "unexpected CHAT"),
        (frame(FrameType.RELAY_HELLO, bytes(211)), "unexpected RELAY_HELLO"),
        (frame(FrameType.CLIENT_HELLO, b"HTTP/1.1 200"), "not a SocketChat client"),
        (frame(FrameType.CLIENT_HELLO, b"SocketChat\x00"), "no version"),
        (frame(FrameType.CLIENT_HELLO, ClientHello(versions=(2,)).encode() + b"x"), "trailing"),
        (b"GET / HTTP/1.1\r\n\r\n", "exceeds"),
    ],
)
def test_relay_refuses_garbage_before_the_handshake(data: bytes, words: str) -> None:
    relay = make_relay()
    relay.receive_data(data)
    assert words in only_violation(relay.events_received()).reason
    assert refused_with_protocol_error(relay.data_to_send())
    assert relay.state is RelayState.FAILED and relay.close_expected()
    relay.receive_data(HELLO + OPEN)  # nothing after the violation is processed
    assert relay.events_received() == [] and relay.data_to_send() == b""


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (frame(FrameType.CLIENT_OPEN, bytes(47)), "truncated"),
        (frame(FrameType.CLIENT_OPEN, bytes(49)), "trailing"),
        (HELLO, "unexpected CLIENT_HELLO"),
        (frame(FrameType.CLIENT_PAKE, bytes(97)), "unexpected CLIENT_PAKE"),
    ],
)
def test_relay_refuses_a_bad_open(data: bytes, words: str) -> None:
    relay = make_relay()
    relay.receive_data(HELLO)
    relay.receive_data(data)
    assert words in only_violation(relay.events_received()).reason
    assert refused_with_protocol_error(relay.data_to_send())


def test_relay_takes_nothing_while_the_room_is_being_chosen(relay_secret: Spake2Secret) -> None:
    # A client that does not wait for RELAY_HELLO (its share sent blind) breaks the protocol.
    relay = make_relay()
    relay.receive_data(HELLO + OPEN + frame(FrameType.CLIENT_PAKE, bytes(97)))
    events = relay.events_received()
    assert events[0] == proto.RoomRequested(room_id=DEFAULT_ROOM)
    assert "unexpected CLIENT_PAKE in state ROOM_PENDING" in only_violation(events[1:]).reason
    assert refused_with_protocol_error(relay.data_to_send())
    with pytest.raises(proto.LocalProtocolError):
        relay.select_room(credentials(relay_secret))  # too late: the connection has failed
    assert relay.data_to_send() == b""


def test_nothing_after_the_bad_frame_in_the_same_chunk_is_processed() -> None:
    relay = make_relay()
    relay.receive_data(frame(0x77) + HELLO + OPEN)
    only_violation(relay.events_received())
    assert refused_with_protocol_error(relay.data_to_send())


def test_nothing_after_a_refusal_in_the_same_chunk_is_processed() -> None:
    relay = make_relay()
    v1_hello = frame(FrameType.CLIENT_HELLO, ClientHello(versions=(1,)).encode())
    relay.receive_data(v1_hello + frame(0x04, bytes(65)) + frame(0x99))
    (refused,) = relay.events_received()
    assert isinstance(refused, proto.Refused)
    client = make_client()
    client.initiate()
    client.data_to_send()
    client.receive_data(relay.data_to_send() + frame(0x99) + frame(FrameType.AUTH_FAILED))
    (refused,) = client.events_received()
    assert isinstance(refused, proto.Refused) and client.data_to_send() == b""


def test_nothing_after_a_goodbye_in_the_same_chunk_is_processed(alice: Pair) -> None:
    alice.relay.send_goodbye(Reason.ROOM_CLOSING, "closing")
    alice.client.receive_data(alice.relay.data_to_send() + frame(0x99))
    assert alice.client.events_received() == [
        proto.GoodbyeReceived(code=Reason.ROOM_CLOSING, text="closing")
    ]
    assert alice.client.data_to_send() == b""  # no error frame for what followed


@pytest.mark.parametrize(
    "data",
    [
        frame(FrameType.RELAY_HELLO, bytes(210)),  # one byte short
        frame(FrameType.RELAY_HELLO, bytes(212)),  # one byte long
        frame(0x04, bytes(65)),  # v1's RELAY_PAKE: an unknown type now
        frame(FrameType.RELAY_CONFIRM, bytes(32)),  # before RELAY_HELLO
        frame(FrameType.AUTH_FAILED),  # before RELAY_HELLO
        frame(FrameType.REFUSED, b"\x01\x00\x00\x00\x00\x00\x02\xff\xff"),  # bad UTF-8
        frame(FrameType.REFUSED, b"\x01\x00"),
        frame(FrameType.WELCOME, bytes(50)),
        frame(FrameType.CLIENT_HELLO, HELLO[5:]),  # our own hello, reflected
        frame(0x00),
        (5000).to_bytes(4, "big"),
    ],
)
def test_client_fails_on_garbage_during_the_handshake(data: bytes) -> None:
    client = make_client()
    client.initiate()
    client.data_to_send()
    client.receive_data(data)
    only_violation(client.events_received())
    assert client.state is ClientState.FAILED and client.close_expected()
    assert client.data_to_send() == b""  # no client error frame exists before encryption
    assert not client.password_at_stake


# -- the handshake cap holds until each side has verified the other's confirmation -----------


def relay_awaiting_pake(secret: Spake2Secret) -> RelayProtocol:
    relay = make_relay()
    relay.receive_data(HELLO + OPEN)
    relay.select_room(credentials(secret))
    relay.events_received()
    relay.data_to_send()
    return relay


def test_relay_keeps_the_handshake_cap_until_the_confirmation(
    relay_secret: Spake2Secret,
) -> None:
    relay = relay_awaiting_pake(relay_secret)
    relay.receive_data((4097).to_bytes(4, "big"))
    assert "exceeds the 4096 cap" in only_violation(relay.events_received()).reason
    assert refused_with_protocol_error(relay.data_to_send())


def test_client_keeps_the_handshake_cap_until_the_relays_confirmation(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    client = make_client(keys=room_keys)
    client.initiate()
    relay = make_relay()
    relay.receive_data(client.data_to_send())
    relay.select_room(credentials(relay_secret))
    client.receive_data(relay.data_to_send())
    client.events_received()
    assert client.state is ClientState.AWAIT_RELAY_CONFIRM
    client.receive_data((4097).to_bytes(4, "big"))
    assert "exceeds the 4096 cap" in only_violation(client.events_received()).reason


# -- end of stream -------------------------------------------------------------------------------


def test_eof_mid_frame() -> None:
    relay = make_relay()
    relay.receive_data(HELLO[:7])
    relay.receive_eof()
    events = relay.events_received()
    assert (
        isinstance(events[0], proto.ProtocolViolation) and "middle of a frame" in events[0].reason
    )
    assert events[1:] == [proto.ConnectionClosed()]
    assert relay.data_to_send() == b""  # nobody left to tell
    relay.receive_eof()
    assert relay.events_received() == []


def test_clean_eof() -> None:
    relay = make_relay()
    relay.receive_eof()
    assert relay.events_received() == [proto.ConnectionClosed()]
    assert relay.close_expected()
    relay.receive_data(HELLO)
    assert relay.events_received() == []


# -- encrypted phase -----------------------------------------------------------------------


@pytest.fixture
def alice(relay_secret: Spake2Secret, room_keys: RoomKeys) -> Pair:
    room = Room(relay_secret)
    pair = room.connect(make_client("alice", room_keys))
    pair.take()
    return pair


def test_tampered_unicast_frame(alice: Pair) -> None:
    alice.relay.send_ping(1)
    data = bytearray(alice.relay.data_to_send())
    data[-3] ^= 0x10
    alice.client.receive_data(bytes(data))
    assert "failed authentication" in only_violation(alice.client.events_received()).reason
    goodbye = alice.client.data_to_send()
    alice.relay.receive_data(goodbye)
    assert alice.relay.events_received() == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


def test_replayed_unicast_frame(alice: Pair) -> None:
    alice.relay.send_ping(1)
    data = alice.relay.data_to_send()
    alice.client.receive_data(data)
    assert alice.client.events_received() == [proto.PingReceived(token=1)]
    alice.client.receive_data(data)
    only_violation(alice.client.events_received())


def test_reordered_unicast_frames(alice: Pair) -> None:
    alice.relay.send_ping(1)
    first = alice.relay.data_to_send()
    alice.relay.send_ping(2)
    second = alice.relay.data_to_send()
    alice.client.receive_data(second)
    only_violation(alice.client.events_received())
    alice.client.receive_data(first)  # too late: the connection has failed
    assert alice.client.events_received() == []


def test_dropped_frame_breaks_the_next(alice: Pair) -> None:
    alice.client.send_ping(1)
    alice.client.data_to_send()  # lost
    alice.client.send_ping(2)
    alice.relay.receive_data(alice.client.data_to_send())
    only_violation(alice.relay.events_received())


def test_truncated_encrypted_frame(alice: Pair) -> None:
    alice.relay.send_ping(1)
    (body,) = split_frames(alice.relay.data_to_send())
    short = body[:10]  # shorter than the tag
    alice.client.receive_data(len(short).to_bytes(4, "big") + short)
    only_violation(alice.client.events_received())


def test_frame_type_is_authenticated(alice: Pair) -> None:
    alice.relay.send_notice(Reason.RATE_LIMITED, "slow down")
    (body,) = split_frames(alice.relay.data_to_send())
    relabelled = bytes([FrameType.PING]) + body[1:]  # same ciphertext, claimed as a PING
    alice.client.receive_data(len(relabelled).to_bytes(4, "big") + relabelled)
    only_violation(alice.client.events_received())


def test_bad_utf8_inside_an_authentic_frame(alice: Pair) -> None:
    alice.relay._send_sealed(FrameType.NOTICE, b"\x07\x00\x02\xc3\x28")
    alice.shuttle()
    assert "UTF-8" in only_violation(alice.take()[0]).reason


def test_trailing_bytes_inside_an_authentic_frame(alice: Pair) -> None:
    alice.relay._send_sealed(FrameType.NOTICE, encode_code_text(Reason.BUSY, "x") + b"\x00")
    alice.shuttle()
    assert "trailing" in only_violation(alice.take()[0]).reason


def test_frame_in_the_wrong_state_after_the_handshake(alice: Pair) -> None:
    welcome = Welcome(
        your_name="alice",
        members=(),
        broadcast_key=bytes(32),
        next_seq=1,
        next_position=1000,
        max_message_bytes=5,
        history=(),
    )
    alice.relay._send_sealed(FrameType.WELCOME, welcome.encode())  # a second WELCOME
    alice.shuttle()
    assert "unexpected WELCOME" in only_violation(alice.take()[0]).reason


@pytest.mark.parametrize(
    "data",
    [
        frame(FrameType.REFUSED, Refusal(code=1, retry_after_ms=0, text="").encode()),
        frame(FrameType.RELAY_CONFIRM, bytes(32)),
        frame(FrameType.AUTH_FAILED),
        frame(FrameType.RELAY_HELLO, bytes(211)),
    ],
)
def test_handshake_frame_after_the_handshake(alice: Pair, data: bytes) -> None:
    alice.client.receive_data(data)
    assert "unexpected" in only_violation(alice.client.events_received()).reason


@pytest.mark.parametrize(
    "data",
    [HELLO, OPEN, frame(FrameType.CLIENT_PAKE, bytes(97))],
)
def test_relay_refuses_handshake_frames_after_the_handshake(alice: Pair, data: bytes) -> None:
    alice.relay.receive_data(data)
    assert "unexpected" in only_violation(alice.relay.events_received()).reason
    (body,) = split_frames(alice.relay.data_to_send())
    assert body[0] == FrameType.GOODBYE  # sealed, since the keys exist


def test_unknown_frame_type_after_the_handshake(alice: Pair) -> None:
    alice.client.receive_data(frame(0x30, bytes(40)))
    only_violation(alice.client.events_received())
    (body,) = split_frames(alice.client.data_to_send())
    assert body[0] == FrameType.GOODBYE  # sealed; the relay can read it


def test_relay_in_the_encrypted_phase_answers_violations_with_goodbye(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    pair.client._send_sealed(FrameType.JOIN, b"\x01a")  # a second JOIN while one is pending
    pair.shuttle()
    client_events, relay_events = pair.take()
    assert "unexpected JOIN" in only_violation(relay_events).reason
    assert client_events == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


def test_chat_before_the_welcome_is_a_violation(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    pair.client._send_sealed(FrameType.CHAT, b"\x00\x01\x00\x00\x00\x00")
    pair.shuttle()
    assert "unexpected CHAT in state JOIN_PENDING" in only_violation(pair.take()[1]).reason


def test_a_share_before_the_welcome_is_a_violation(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(), credentials=credentials(relay_secret))
    pair.handshake()
    pair.take()
    assert pair.relay.send_share(bytes(32), bytes(SHARE_BLOB_SIZE)) is False  # not joined yet
    pair.relay._send_sealed(FrameType.SHARE, encode_share(bytes(32), bytes(SHARE_BLOB_SIZE)))
    pair.shuttle()
    client_events, relay_events = pair.take()
    assert "unexpected SHARE in state AWAIT_WELCOME" in only_violation(client_events).reason
    assert relay_events == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (bytes(32 + SHARE_BLOB_SIZE - 1), "truncated"),
        (bytes(32 + SHARE_BLOB_SIZE + 1), "trailing"),
        (b"", "truncated"),
    ],
)
def test_a_malformed_share_is_a_violation(alice: Pair, payload: bytes, words: str) -> None:
    alice.relay._send_sealed(FrameType.SHARE, payload)
    alice.shuttle()
    assert words in only_violation(alice.take()[0]).reason
    assert alice.client.state is ClientState.FAILED


def test_a_well_formed_share_that_does_not_open_is_not_a_violation(alice: Pair) -> None:
    # Another member (or the relay) may be at fault, not the connection: ignored.
    alice.relay._send_sealed(FrameType.SHARE, encode_share(bytes(32), bytes(SHARE_BLOB_SIZE)))
    alice.shuttle()
    assert alice.take()[0] == []
    assert alice.client.state is ClientState.JOINED


@pytest.mark.parametrize(
    ("frame_type", "payload"),
    [
        (FrameType.SHARES, encode_shares([(bytes(32), bytes(SHARE_BLOB_SIZE))])),
        (FrameType.WANT, encode_wanted([(bytes(32), 1)])),
        (FrameType.CHAT, b"\x00\x01\x00\x00\x00\x00"),
    ],
)
def test_client_frames_sent_to_a_client_are_violations(
    alice: Pair, frame_type: FrameType, payload: bytes
) -> None:
    alice.relay._send_sealed(frame_type, payload)
    alice.shuttle()
    assert f"unexpected {frame_type.name}" in only_violation(alice.take()[0]).reason


@pytest.mark.parametrize(
    ("side", "cap"), [("relay", 65536), ("client", 2**20)], ids=["relay", "client"]
)
def test_frame_caps_after_the_handshake(alice: Pair, side: str, cap: int) -> None:
    core: ClientProtocol | RelayProtocol = alice.relay if side == "relay" else alice.client
    core.receive_data((cap + 1).to_bytes(4, "big"))
    assert f"exceeds the {cap} cap" in only_violation(core.events_received()).reason
    (body,) = split_frames(core.data_to_send())
    assert body[0] == FrameType.GOODBYE


@pytest.mark.parametrize(
    ("side", "cap"), [("relay", 65536), ("client", 2**20)], ids=["relay", "client"]
)
def test_a_frame_of_exactly_the_cap_is_read(alice: Pair, side: str, cap: int) -> None:
    core: ClientProtocol | RelayProtocol = alice.relay if side == "relay" else alice.client
    frame_type = FrameType.CHAT if side == "relay" else FrameType.NOTICE
    core.receive_data(cap.to_bytes(4, "big") + bytes([frame_type]) + bytes(cap - 1))
    # Read in full, then refused for what it is (junk), not for its size.
    assert "failed authentication" in only_violation(core.events_received()).reason


def test_error_text_to_the_peer_is_fixed(alice: Pair) -> None:
    alice.client.receive_data(frame(0x31, b"secret internal detail"))
    alice.relay.receive_data(alice.client.data_to_send())
    (goodbye,) = alice.relay.events_received()
    assert goodbye == proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    assert decode_code_text(encode_code_text(Reason.PROTOCOL_ERROR, "protocol error"))
