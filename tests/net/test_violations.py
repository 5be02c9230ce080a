"""Bad input from the peer: always a ProtocolViolation event, never an exception; nothing after
it is processed; the peer gets a fixed error frame when there is a way to send one."""

from __future__ import annotations

import pytest

from net import proto
from net.proto import ClientState, RelayState
from net.proto._frames import FrameType, Reason
from net.proto._messages import (
    ClientHello,
    Refusal,
    RelayHello,
    Welcome,
    decode_code_text,
    encode_code_text,
)
from tests.net.helpers import (
    ROOM_ID,
    Pair,
    Room,
    frame,
    make_client,
    make_relay,
    split_frames,
)

HELLO = frame(FrameType.CLIENT_HELLO, ClientHello(versions=(1,)).encode())


def only_violation(events) -> proto.ProtocolViolation:
    assert len(events) == 1 and isinstance(events[0], proto.ProtocolViolation), events
    return events[0]


def refused_with_protocol_error(data: bytes) -> bool:
    (body,) = split_frames(data)
    return body[0] == FrameType.REFUSED and Refusal.decode(body[1:]).code is Reason.PROTOCOL_ERROR


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00\x00\x00\x00", "empty frame"),
        ((2**31).to_bytes(4, "big"), "exceeds"),
        (b"\x00\x00\x10\x01", "exceeds"),  # 4097: one above the handshake cap
        (frame(0x99), "unknown frame type 0x99"),
        (frame(FrameType.CLIENT_CONFIRM, bytes(32)), "unexpected CLIENT_CONFIRM"),
        (frame(FrameType.CHAT, bytes(40)), "unexpected CHAT"),
        (frame(FrameType.RELAY_HELLO, bytes(18)), "unexpected RELAY_HELLO"),
        (frame(FrameType.CLIENT_HELLO, b"HTTP/1.1 200"), "not a SocketChat client"),
        (frame(FrameType.CLIENT_HELLO, ClientHello(versions=(1,)).encode() + b"x"), "trailing"),
        (b"GET / HTTP/1.1\r\n\r\n", "exceeds"),
    ],
)
def test_relay_refuses_garbage_before_the_handshake(relay_secret, data: bytes, words: str) -> None:
    relay = make_relay(relay_secret)
    relay.receive_data(data)
    assert words in only_violation(relay.events_received()).reason
    assert refused_with_protocol_error(relay.data_to_send())
    assert relay.state is RelayState.FAILED and relay.close_expected()
    relay.receive_data(HELLO)  # nothing after the violation is processed
    assert relay.events_received() == [] and relay.data_to_send() == b""


def test_nothing_after_the_bad_frame_in_the_same_chunk_is_processed(relay_secret) -> None:
    relay = make_relay(relay_secret)
    relay.receive_data(frame(0x77) + HELLO)
    only_violation(relay.events_received())
    assert refused_with_protocol_error(relay.data_to_send())


@pytest.mark.parametrize(
    "data",
    [
        frame(FrameType.RELAY_HELLO, RelayHello(version=1, room_id=ROOM_ID).encode()[:-1]),
        frame(FrameType.RELAY_PAKE, bytes(65)),
        frame(FrameType.REFUSED, b"\x01\x00\x00\x00\x00\x00\x02\xff\xff"),  # bad UTF-8
        frame(FrameType.REFUSED, b"\x01\x00"),
        frame(FrameType.WELCOME, bytes(50)),
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


def test_eof_mid_frame(relay_secret) -> None:
    relay = make_relay(relay_secret)
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


def test_clean_eof(relay_secret) -> None:
    relay = make_relay(relay_secret)
    relay.receive_eof()
    assert relay.events_received() == [proto.ConnectionClosed()]
    assert relay.close_expected()
    relay.receive_data(HELLO)
    assert relay.events_received() == []


# -- encrypted phase -----------------------------------------------------------------------


@pytest.fixture
def alice(relay_secret, room_keys) -> Pair:
    room = Room(relay_secret)
    pair = room.connect(make_client("alice", room_keys))
    pair.take()
    return pair


def test_tampered_unicast_frame(alice) -> None:
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


def test_replayed_unicast_frame(alice) -> None:
    alice.relay.send_ping(1)
    data = alice.relay.data_to_send()
    alice.client.receive_data(data)
    assert alice.client.events_received() == [proto.PingReceived(token=1)]
    alice.client.receive_data(data)
    only_violation(alice.client.events_received())


def test_reordered_unicast_frames(alice) -> None:
    alice.relay.send_ping(1)
    first = alice.relay.data_to_send()
    alice.relay.send_ping(2)
    second = alice.relay.data_to_send()
    alice.client.receive_data(second)
    only_violation(alice.client.events_received())
    alice.client.receive_data(first)  # too late: the connection has failed
    assert alice.client.events_received() == []


def test_dropped_frame_breaks_the_next(alice) -> None:
    alice.client.send_ping(1)
    alice.client.data_to_send()  # lost
    alice.client.send_ping(2)
    alice.relay.receive_data(alice.client.data_to_send())
    only_violation(alice.relay.events_received())


def test_truncated_encrypted_frame(alice) -> None:
    alice.relay.send_ping(1)
    (body,) = split_frames(alice.relay.data_to_send())
    short = body[:10]  # shorter than the tag
    alice.client.receive_data(len(short).to_bytes(4, "big") + short)
    only_violation(alice.client.events_received())


def test_frame_type_is_authenticated(alice) -> None:
    alice.relay.send_notice(Reason.RATE_LIMITED, "slow down")
    (body,) = split_frames(alice.relay.data_to_send())
    relabelled = bytes([FrameType.PING]) + body[1:]  # same ciphertext, claimed as a PING
    alice.client.receive_data(len(relabelled).to_bytes(4, "big") + relabelled)
    only_violation(alice.client.events_received())


def test_bad_utf8_inside_an_authentic_frame(alice) -> None:
    alice.relay._send_sealed(FrameType.NOTICE, b"\x07\x00\x02\xc3\x28")
    alice.shuttle()
    assert "UTF-8" in only_violation(alice.take()[0]).reason


def test_trailing_bytes_inside_an_authentic_frame(alice) -> None:
    alice.relay._send_sealed(FrameType.NOTICE, encode_code_text(Reason.BUSY, "x") + b"\x00")
    alice.shuttle()
    assert "trailing" in only_violation(alice.take()[0]).reason


def test_frame_in_the_wrong_state_after_the_handshake(alice) -> None:
    welcome = Welcome(
        your_name="alice",
        members=(),
        broadcast_key=bytes(32),
        next_seq=1,
        max_message_bytes=5,
        history=(),
    )
    alice.relay._send_sealed(FrameType.WELCOME, welcome.encode())  # a second WELCOME
    alice.shuttle()
    assert "unexpected WELCOME" in only_violation(alice.take()[0]).reason


def test_handshake_frame_after_the_handshake(alice) -> None:
    alice.client.receive_data(
        frame(FrameType.REFUSED, Refusal(code=1, retry_after_ms=0, text="").encode())
    )
    assert "unexpected REFUSED" in only_violation(alice.client.events_received()).reason


def test_unknown_frame_type_after_the_handshake(alice) -> None:
    alice.client.receive_data(frame(0x30, bytes(40)))
    only_violation(alice.client.events_received())
    (body,) = split_frames(alice.client.data_to_send())
    assert body[0] == FrameType.GOODBYE  # sealed; the relay can read it


def test_relay_in_the_encrypted_phase_answers_violations_with_goodbye(
    room_keys, relay_secret
) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.handshake()
    pair.take()
    pair.client._send_sealed(FrameType.JOIN, b"\x01a")  # a second JOIN while one is pending
    pair.shuttle()
    client_events, relay_events = pair.take()
    assert "unexpected JOIN" in only_violation(relay_events).reason
    assert client_events == [
        proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    ]


def test_oversize_frame_after_the_handshake(alice) -> None:
    alice.relay.receive_data((65537).to_bytes(4, "big"))
    only_violation(alice.relay.events_received())
    (body,) = split_frames(alice.relay.data_to_send())
    assert body[0] == FrameType.GOODBYE


def test_client_accepts_frames_up_to_one_mebibyte(alice) -> None:
    alice.client.receive_data((2**20 + 1).to_bytes(4, "big"))
    assert "exceeds" in only_violation(alice.client.events_received()).reason


def test_error_text_to_the_peer_is_fixed(alice) -> None:
    alice.client.receive_data(frame(0x31, b"secret internal detail"))
    alice.relay.receive_data(alice.client.data_to_send())
    (goodbye,) = alice.relay.events_received()
    assert goodbye == proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error")
    assert decode_code_text(encode_code_text(Reason.PROTOCOL_ERROR, "protocol error"))
