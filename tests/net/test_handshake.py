"""The plaintext handshake: hello, SPAKE2 shares, confirmations; refusals; a man in the middle."""

from __future__ import annotations

import pytest

from crypto.kdf import derive_room_keys
from net import proto
from net.proto import ClientState, RelayState, WelcomeArgs
from net.proto._errors import LocalProtocolError
from net.proto._frames import FrameType, Reason
from net.proto._messages import ClientHello, Refusal, RelayHello
from tests.net.helpers import (
    PASSWORD,
    ROOM_ID,
    Pair,
    frame,
    make_client,
    make_relay,
    split_frames,
    types_of,
)

OTHER_ROOM = bytes(range(50, 66))


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def rewrite_frame(data: bytes, frame_type: FrameType, change) -> bytes:
    """Apply ``change`` to the body of every ``frame_type`` frame in ``data`` (re-framed)."""
    out = b""
    for body in split_frames(data):
        if body[0] == frame_type:
            body = change(body)
        out += len(body).to_bytes(4, "big") + body
    return out


def test_full_handshake(room_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    pair.client.initiate()
    hello = pair.client.data_to_send()
    assert types_of(hello) == [FrameType.CLIENT_HELLO]
    pair.relay.receive_data(hello)
    assert pair.relay.state is RelayState.AWAIT_CLIENT_PAKE
    relay_hello = pair.relay.data_to_send()
    assert types_of(relay_hello) == [FrameType.RELAY_HELLO]
    pair.client.receive_data(relay_hello)
    assert pair.client.state is ClientState.AWAIT_RELAY_PAKE
    pair.shuttle()
    client_events, relay_events = pair.take()
    assert client_events == [proto.HandshakeComplete()]
    assert relay_events == [proto.Authenticated(), proto.JoinRequested(username="alice")]
    assert pair.client.state is ClientState.AWAIT_WELCOME
    assert pair.relay.state is RelayState.JOIN_PENDING
    assert not pair.client.close_expected() and not pair.relay.close_expected()
    sent_by_client = [t for chunk in pair.to_relay_log for t in types_of(chunk)]
    assert sent_by_client == [  # the hellos went by hand above
        FrameType.CLIENT_PAKE,
        FrameType.CLIENT_CONFIRM,
        FrameType.JOIN,
    ]
    sent_by_relay = [t for chunk in pair.to_client_log for t in types_of(chunk)]
    assert sent_by_relay == [FrameType.RELAY_PAKE, FrameType.RELAY_CONFIRM]


def test_the_handshake_works_fed_one_byte_at_a_time(room_keys, relay_secret) -> None:
    client, relay = make_client(keys=room_keys), make_relay(relay_secret)
    client.initiate()
    for _ in range(5):
        for byte in client.data_to_send():
            relay.receive_data(bytes([byte]))
        for byte in relay.data_to_send():
            client.receive_data(bytes([byte]))
    assert client.events_received() == [proto.HandshakeComplete()]
    assert relay.events_received() == [proto.Authenticated(), proto.JoinRequested(username="alice")]


def test_keys_required_then_provided(room_keys, relay_secret) -> None:
    pair = Pair(make_client(), make_relay(relay_secret))
    pair.handshake()
    assert pair.take() == ([proto.KeysRequired(room_id=ROOM_ID)], [])
    assert pair.client.state is ClientState.AWAIT_KEYS
    assert pair.client.room_id == ROOM_ID
    with pytest.raises(LocalProtocolError, match="different room"):
        pair.client.provide_keys(derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10))
    pair.client.provide_keys(room_keys)
    pair.shuttle()
    assert pair.take()[0] == [proto.HandshakeComplete()]


def test_keys_for_another_room_ask_for_new_keys(relay_secret) -> None:
    other = derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10)
    pair = Pair(make_client(keys=other), make_relay(relay_secret))
    pair.handshake()
    assert pair.take()[0] == [proto.KeysRequired(room_id=ROOM_ID)]


def test_provide_keys_early_is_used(room_keys, relay_secret) -> None:
    pair = Pair(make_client(), make_relay(relay_secret))
    pair.client.provide_keys(room_keys)
    pair.handshake()
    assert pair.take()[0] == [proto.HandshakeComplete()]
    with pytest.raises(LocalProtocolError):
        pair.client.provide_keys(room_keys)


def assert_auth_failed_both_sides(pair: Pair, *, relay_saw_it: bool = True) -> None:
    client_events, relay_events = pair.take()
    assert len(client_events) == 1 and isinstance(client_events[0], proto.AuthenticationFailed)
    assert pair.client.state is ClientState.CLOSED and pair.client.close_expected()
    assert not any(isinstance(e, (proto.Authenticated, proto.JoinRequested)) for e in relay_events)
    if relay_saw_it:
        assert len(relay_events) == 1 and isinstance(relay_events[0], proto.AuthenticationFailed)
        assert pair.relay.state is RelayState.CLOSED and pair.relay.close_expected()
    # No encrypted frame ever crossed, and the relay never sent its confirmation.
    everything = b"".join(pair.to_relay_log + pair.to_client_log)
    assert all(t < FrameType.JOIN for t in types_of(everything))
    assert FrameType.RELAY_CONFIRM not in types_of(b"".join(pair.to_client_log))


def test_wrong_password(wrong_keys, relay_secret) -> None:
    pair = Pair(make_client(keys=wrong_keys), make_relay(relay_secret))
    pair.handshake()
    assert types_of(pair.to_client_log[-1]) == [FrameType.AUTH_FAILED]
    client_events, relay_events = pair.client_events, pair.relay_events
    assert client_events == [proto.AuthenticationFailed(cause=proto.AuthFailure.WRONG_PASSWORD)]
    assert relay_events == [proto.AuthenticationFailed(cause=proto.AuthFailure.WRONG_PASSWORD)]
    assert_auth_failed_both_sides(pair)


def test_tampered_client_hello_fails_confirmation(room_keys, relay_secret) -> None:
    # Still a valid hello (now also offering version 9): only the transcript binding catches it.
    def add_version(body: bytes) -> bytes:
        return bytes([FrameType.CLIENT_HELLO]) + ClientHello(versions=(1, 9)).encode()

    pair = Pair(
        make_client(keys=room_keys),
        make_relay(relay_secret),
        tamper_to_relay=lambda data: rewrite_frame(data, FrameType.CLIENT_HELLO, add_version),
    )
    pair.handshake()
    assert_auth_failed_both_sides(pair)


def test_tampered_relay_hello_fails_even_with_the_right_password(relay_secret) -> None:
    # The attacker swaps the room id; the client derives keys for it (right password, other
    # salt), and the PAKE fails instead of connecting to a room the relay does not host.
    def swap_room(body: bytes) -> bytes:
        return bytes([FrameType.RELAY_HELLO]) + RelayHello(version=1, room_id=OTHER_ROOM).encode()

    pair = Pair(
        make_client(),
        make_relay(relay_secret),
        tamper_to_client=lambda data: rewrite_frame(data, FrameType.RELAY_HELLO, swap_room),
    )
    pair.handshake()
    assert pair.take()[0] == [proto.KeysRequired(room_id=OTHER_ROOM)]
    pair.client.provide_keys(derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10))
    pair.shuttle()
    assert_auth_failed_both_sides(pair)


@pytest.mark.parametrize("index", [1, 2, 20, 40, 64])
def test_tampered_client_share(room_keys, relay_secret, index: int) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(relay_secret),
        tamper_to_relay=lambda data: rewrite_frame(
            data, FrameType.CLIENT_PAKE, lambda body: flip(body, index)
        ),
    )
    pair.handshake()
    assert_auth_failed_both_sides(pair)


@pytest.mark.parametrize("index", [1, 2, 33, 64])
def test_tampered_relay_share(room_keys, relay_secret, index: int) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(relay_secret),
        tamper_to_client=lambda data: rewrite_frame(
            data, FrameType.RELAY_PAKE, lambda body: flip(body, index)
        ),
    )
    pair.handshake()
    # The client stops without a word; the relay is left waiting (its deadline reaps it).
    assert_auth_failed_both_sides(pair, relay_saw_it=False)
    assert pair.relay.state is RelayState.AWAIT_CLIENT_CONFIRM


def test_tampered_client_confirmation(room_keys, relay_secret) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(relay_secret),
        tamper_to_relay=lambda data: rewrite_frame(
            data, FrameType.CLIENT_CONFIRM, lambda body: flip(body, 5)
        ),
    )
    pair.handshake()
    assert_auth_failed_both_sides(pair)


def test_tampered_relay_confirmation(room_keys, relay_secret) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(relay_secret),
        tamper_to_client=lambda data: rewrite_frame(
            data, FrameType.RELAY_CONFIRM, lambda body: flip(body, 32)
        ),
    )
    pair.handshake()
    assert pair.client_events == [
        proto.AuthenticationFailed(cause=proto.AuthFailure.RELAY_UNPROVEN)
    ]
    assert pair.client.state is ClientState.CLOSED
    assert pair.client.data_to_send() == b""  # no JOIN under unverified keys


def test_reflected_share_is_rejected(room_keys, relay_secret) -> None:
    client = make_client(keys=room_keys)
    client.initiate()
    relay = make_relay(relay_secret)
    relay.receive_data(client.data_to_send())
    client.receive_data(relay.data_to_send())
    (pake_body,) = split_frames(client.data_to_send())
    assert pake_body[0] == FrameType.CLIENT_PAKE
    client.receive_data(frame(FrameType.RELAY_PAKE, pake_body[1:]))  # our own share, reflected
    assert client.events_received() == [
        proto.AuthenticationFailed(cause=proto.AuthFailure.INVALID_SHARE)
    ]
    assert client.data_to_send() == b""


def relay_after_hello(relay_secret):
    relay = make_relay(relay_secret)
    relay.receive_data(frame(FrameType.CLIENT_HELLO, ClientHello(versions=(1,)).encode()))
    relay.data_to_send()
    return relay


@pytest.mark.parametrize(
    "share",
    [
        b"\x04" + bytes(64),  # the identity as pycryptodome spells it
        b"\x04" + (1).to_bytes(32, "big") * 2,  # off the curve
        b"\x04" + b"\xff" * 64,  # coordinates above the field prime
        b"\x02" + bytes(64),  # not the uncompressed form
    ],
)
def test_invalid_points_fail_authentication(relay_secret, share: bytes) -> None:
    relay = relay_after_hello(relay_secret)
    relay.receive_data(frame(FrameType.CLIENT_PAKE, share))
    assert relay.events_received() == [
        proto.AuthenticationFailed(cause=proto.AuthFailure.INVALID_SHARE)
    ]
    assert types_of(relay.data_to_send()) == [FrameType.AUTH_FAILED]
    assert relay.close_expected()


def test_share_of_the_wrong_length_is_a_protocol_violation(relay_secret) -> None:
    relay = relay_after_hello(relay_secret)
    relay.receive_data(frame(FrameType.CLIENT_PAKE, b"\x04" + bytes(63)))
    (violation,) = relay.events_received()
    assert isinstance(violation, proto.ProtocolViolation)
    (body,) = split_frames(relay.data_to_send())
    assert body[0] == FrameType.REFUSED
    assert Refusal.decode(body[1:]) == Refusal(
        code=Reason.PROTOCOL_ERROR, retry_after_ms=0, text="protocol error"
    )
    assert relay.state is RelayState.FAILED


def test_incompatible_version_is_refused_cleanly(relay_secret) -> None:
    relay = make_relay(relay_secret)
    relay.receive_data(frame(FrameType.CLIENT_HELLO, ClientHello(versions=(2, 3)).encode()))
    (refused,) = relay.events_received()
    assert isinstance(refused, proto.Refused) and refused.code is Reason.INCOMPATIBLE_VERSION
    reply = relay.data_to_send()
    assert types_of(reply) == [FrameType.REFUSED] and relay.close_expected()
    client = make_client()
    client.initiate()
    client.receive_data(reply)
    (event,) = client.events_received()
    assert isinstance(event, proto.Refused) and event.code is Reason.INCOMPATIBLE_VERSION
    assert "version 1" in event.text
    assert client.close_expected()


def test_relay_choosing_a_version_we_did_not_offer_is_a_violation() -> None:
    client = make_client()
    client.initiate()
    client.receive_data(
        frame(FrameType.RELAY_HELLO, RelayHello(version=2, room_id=ROOM_ID).encode())
    )
    (event,) = client.events_received()
    assert isinstance(event, proto.ProtocolViolation) and "version 2" in event.reason
    assert client.state is ClientState.FAILED


@pytest.mark.parametrize("when", ["before hello", "after hello", "after pake"])
def test_refuse_before_the_encrypted_phase(room_keys, relay_secret, when: str) -> None:
    pair = Pair(make_client(keys=room_keys), make_relay(relay_secret))
    if when != "before hello":
        pair.client.initiate()
        pair.relay.receive_data(pair.client.data_to_send())
    if when == "after pake":
        pair.client.receive_data(pair.relay.data_to_send())
        pair.relay.receive_data(pair.client.data_to_send())
        pair.relay.data_to_send()  # RELAY_PAKE is lost: the relay refuses instead
    pair.relay.refuse(
        Reason.TOO_MANY_ATTEMPTS, "Too many attempts; wait a bit.", retry_after_ms=3000
    )
    assert pair.relay.close_expected()
    if when == "before hello":
        pair.client.initiate()
        pair.client.data_to_send()
    pair.client.receive_data(pair.relay.data_to_send())
    assert pair.client.events_received() == [
        proto.Refused(
            code=Reason.TOO_MANY_ATTEMPTS,
            text="Too many attempts; wait a bit.",
            retry_after_ms=3000,
        )
    ]
    assert pair.client.close_expected()
    with pytest.raises(LocalProtocolError):
        pair.relay.refuse(Reason.BUSY, "again")


def test_refused_frame_before_initiate_is_understood(relay_secret) -> None:
    relay = make_relay(relay_secret)
    relay.refuse(Reason.BUSY, "busy")
    client = make_client()
    client.receive_data(relay.data_to_send())
    (event,) = client.events_received()
    assert isinstance(event, proto.Refused) and event.code is Reason.BUSY


def test_auth_failed_with_a_body_is_a_violation(room_keys, relay_secret) -> None:
    client = make_client(keys=room_keys)
    client.initiate()
    relay = make_relay(relay_secret)
    relay.receive_data(client.data_to_send())
    client.receive_data(relay.data_to_send())
    client.receive_data(frame(FrameType.AUTH_FAILED, b"why"))
    (event,) = client.events_received()
    assert isinstance(event, proto.ProtocolViolation)


def test_local_errors_in_the_handshake(room_keys, relay_secret) -> None:
    client = make_client(keys=room_keys)
    client.initiate()
    with pytest.raises(LocalProtocolError):
        client.initiate()
    with pytest.raises(LocalProtocolError):
        client.send_messages([("hi", bytes(16), 1)])
    with pytest.raises(LocalProtocolError):
        client.send_ping(1)
    with pytest.raises(LocalProtocolError):
        client.send_goodbye(Reason.LEAVING, "bye")
    relay = make_relay(relay_secret)
    with pytest.raises(LocalProtocolError):
        relay.send_notice(Reason.RATE_LIMITED, "slow down")
    with pytest.raises(LocalProtocolError):
        relay.accept_join(
            WelcomeArgs(
                name="x",
                members=(),
                broadcast_key=bytes(32),
                next_seq=1,
                history=(),
                max_message_bytes=10,
            )
        )
    with pytest.raises(LocalProtocolError):
        relay.reject_join(Reason.NAME_TAKEN, "taken")
    assert relay.send_raw(b"\x00\x00\x00\x01\x20") is False
    assert relay.data_to_send() == b""
    with pytest.raises(LocalProtocolError):
        make_relay(relay_secret, room_id=b"short")
    with pytest.raises(ValueError, match="start or end with a space"):
        make_client(" bad name")  # a name is user input: ValueError with its reason
