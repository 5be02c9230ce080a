"""The plaintext handshake (docs/PROTOCOL.md 4.3): hello and open, the relay's signed hello,
SPAKE2 with confirmations, refusals, pinned relay keys, what is at stake when a connection ends
early, and the JOIN proof that binds a member's identity to the connection."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest

from crypto.epoch import membership_tag
from crypto.identity import Identity, signed_bytes
from crypto.kdf import RoomKeys, derive_room_keys
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from net import proto
from net.proto import DEFAULT_ROOM, ClientProtocol, ClientState, RelayCredentials, RelayState
from net.proto._errors import LocalProtocolError
from net.proto._frames import FrameType, Reason
from net.proto._messages import ClientHello, ClientOpen, Join, Refusal, RelayHello
from net.proto._transcript import JOIN_CONTEXT, join_signed
from tests.crypto import _reference as ref
from tests.net.helpers import (
    PASSWORD,
    RELAY_IDENTITY,
    ROOM_ID,
    CountingRandom,
    Pair,
    credentials,
    fixed_scalar,
    frame,
    identity,
    make_client,
    make_relay,
    signed_relay_hello,
    split_frames,
    types_of,
)

OTHER_ROOM = bytes(range(50, 66))
CLIENT_SCALAR = 0x1111
RELAY_SCALAR = 0x2222
# Where each RELAY_HELLO field sits in its frame (4-byte length prefix, then the type byte).
_RH = 4 + 1
RELAY_HELLO_FIELDS = {
    "version": (_RH, _RH + 2),
    "room id": (_RH + 2, _RH + 18),
    "relay key": (_RH + 18, _RH + 50),
    "relay nonce": (_RH + 50, _RH + 82),
    "relay share": (_RH + 82, _RH + 147),
    "signature": (_RH + 147, _RH + 211),
}
_CP = 1  # CLIENT_PAKE body: type byte, share (65), confirmation (32)
CLIENT_SHARE = range(_CP, _CP + 65)
CLIENT_CONFIRMATION = range(_CP + 65, _CP + 97)


@pytest.fixture
def creds(relay_secret: Spake2Secret) -> RelayCredentials:
    return credentials(relay_secret)


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def rewrite_frame(data: bytes, frame_type: FrameType, change: Callable[[bytes], bytes]) -> bytes:
    """Apply ``change`` to the body of every ``frame_type`` frame in ``data`` (re-framed)."""
    out = b""
    for body in split_frames(data):
        if body[0] == frame_type:
            body = change(body)
        out += len(body).to_bytes(4, "big") + body
    return out


def spake2_share(secret: Spake2Secret, role: Role, scalar: int) -> bytes:
    """The share a side with this secret and scalar sends (the cores use fixed scalars)."""
    identity_a, identity_b = identities(ROOM_ID)
    pake = Spake2(
        secret,
        role=role,
        identity_a=identity_a,
        identity_b=identity_b,
        random_scalar=fixed_scalar(scalar),
    )
    return pake.start()


def opened(client: ClientProtocol) -> bytes:
    """initiate() and return what the client wrote: CLIENT_HELLO and CLIENT_OPEN."""
    client.initiate()
    return client.data_to_send()


def tag_of(device: Identity, keys: RoomKeys) -> bytes:
    """The membership tag ``device``'s JOIN carries in the test room (the relay passes it on
    unchecked: only members hold the key it is made with)."""
    return membership_tag(
        keys.member, room_id=ROOM_ID, signing_key=device.signing_public, dh_key=device.dh_public
    )


def no_password_work_sent(pair: Pair) -> bool:
    """The client sent its hello and open, and nothing after them."""
    return pair.sent_by_client() == [FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN]


# -- the happy path ----------------------------------------------------------------------------


def test_full_handshake(room_keys: RoomKeys, creds: RelayCredentials) -> None:
    client, relay = make_client(keys=room_keys), make_relay()
    client.initiate()
    opening = client.data_to_send()
    assert types_of(opening) == [FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN]
    assert client.state is ClientState.AWAIT_RELAY_HELLO
    relay.receive_data(opening)
    assert relay.events_received() == [proto.RoomRequested(room_id=DEFAULT_ROOM)]
    assert relay.state is RelayState.ROOM_PENDING and relay.data_to_send() == b""
    relay.select_room(creds)
    assert relay.room_id == ROOM_ID and relay.state is RelayState.AWAIT_CLIENT_PAKE
    relay_hello = relay.data_to_send()
    assert types_of(relay_hello) == [FrameType.RELAY_HELLO]
    client.receive_data(relay_hello)
    assert client.events_received() == [
        proto.RelayIdentified(room_id=ROOM_ID, relay_key=RELAY_IDENTITY.signing_public)
    ]
    assert client.state is ClientState.AWAIT_RELAY_CONFIRM
    assert client.room_id == ROOM_ID and client.relay_key == RELAY_IDENTITY.signing_public
    pake = client.data_to_send()
    assert types_of(pake) == [FrameType.CLIENT_PAKE]
    relay.receive_data(pake)
    assert relay.events_received() == [proto.Authenticated()]
    assert relay.state is RelayState.AWAIT_JOIN
    confirm = relay.data_to_send()
    assert types_of(confirm) == [FrameType.RELAY_CONFIRM]
    client.receive_data(confirm)
    assert client.events_received() == [proto.HandshakeComplete()]
    assert client.state is ClientState.AWAIT_WELCOME
    join = client.data_to_send()
    assert types_of(join) == [FrameType.JOIN]
    relay.receive_data(join)
    alice = identity("alice")
    assert relay.events_received() == [
        proto.JoinRequested(
            username="alice",
            signing_key=alice.signing_public,
            dh_key=alice.dh_public,
            tag=tag_of(alice, room_keys),
        )
    ]
    assert relay.state is RelayState.JOIN_PENDING
    assert not client.close_expected() and not relay.close_expected()


def test_hello_and_open_go_out_in_one_write_with_the_room_id_at_offset_23() -> None:
    opening = opened(make_client(room_id=OTHER_ROOM))
    # CLIENT_HELLO of a v2 client: always these 18 bytes (PROTOCOL.md 3.1).
    assert opening[:18] == bytes.fromhex("0000000e01536f636b657443686174010002")
    assert opening[23:39] == OTHER_ROOM  # a load balancer routes on it
    (_, open_body) = split_frames(opening)
    assert ClientOpen.decode(open_body[1:]).room_id == OTHER_ROOM


def test_the_handshake_works_fed_one_byte_at_a_time(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    client, relay = make_client(keys=room_keys), make_relay()
    client.initiate()
    relay_events: list[proto.Event] = []
    client_events: list[proto.Event] = []
    for _ in range(6):
        for byte in client.data_to_send():
            relay.receive_data(bytes([byte]))
            for event in relay.events_received():
                relay_events.append(event)
                if isinstance(event, proto.RoomRequested):
                    relay.select_room(creds)
        for byte in relay.data_to_send():
            client.receive_data(bytes([byte]))
            client_events += client.events_received()
    alice = identity("alice")
    assert client_events == [
        proto.RelayIdentified(room_id=ROOM_ID, relay_key=RELAY_IDENTITY.signing_public),
        proto.HandshakeComplete(),
    ]
    assert relay_events == [
        proto.RoomRequested(room_id=DEFAULT_ROOM),
        proto.Authenticated(),
        proto.JoinRequested(
            username="alice",
            signing_key=alice.signing_public,
            dh_key=alice.dh_public,
            tag=tag_of(alice, room_keys),
        ),
    ]


def test_keys_required_then_provided(room_keys: RoomKeys, creds: RelayCredentials) -> None:
    pair = Pair(make_client(), make_relay(), credentials=creds)
    pair.handshake()
    identified = proto.RelayIdentified(room_id=ROOM_ID, relay_key=RELAY_IDENTITY.signing_public)
    assert pair.take()[0] == [identified, proto.KeysRequired(room_id=ROOM_ID)]
    assert pair.client.state is ClientState.AWAIT_KEYS
    assert pair.client.room_id == ROOM_ID
    assert no_password_work_sent(pair)
    with pytest.raises(LocalProtocolError, match="different room"):
        pair.client.provide_keys(derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10))
    assert pair.client.data_to_send() == b""
    pair.client.provide_keys(room_keys)
    pair.shuttle()
    assert pair.take()[0] == [proto.HandshakeComplete()]


def test_keys_for_another_room_ask_for_new_keys(creds: RelayCredentials) -> None:
    other = derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10)
    pair = Pair(make_client(keys=other), make_relay(), credentials=creds)
    pair.handshake()
    assert pair.take()[0][-1] == proto.KeysRequired(room_id=ROOM_ID)
    assert no_password_work_sent(pair)


def test_provide_keys_early_is_used(room_keys: RoomKeys, creds: RelayCredentials) -> None:
    pair = Pair(make_client(), make_relay(), credentials=creds)
    pair.client.provide_keys(room_keys)
    pair.handshake()
    assert pair.take()[0][-1] == proto.HandshakeComplete()
    with pytest.raises(LocalProtocolError):
        pair.client.provide_keys(room_keys)


def test_a_room_asked_for_by_its_id(room_keys: RoomKeys, creds: RelayCredentials) -> None:
    pair = Pair(make_client(keys=room_keys, room_id=ROOM_ID), make_relay(), credentials=creds)
    pair.handshake()
    assert pair.relay_events[0] == proto.RoomRequested(room_id=ROOM_ID)
    assert pair.client_events[-1] == proto.HandshakeComplete()


def test_no_such_room(room_keys: RoomKeys, creds: RelayCredentials) -> None:
    pair = Pair(make_client(keys=room_keys, room_id=OTHER_ROOM), make_relay(), credentials=creds)
    pair.handshake()
    client_events, relay_events = pair.take()
    assert relay_events == [proto.RoomRequested(room_id=OTHER_ROOM)]
    assert client_events == [
        proto.Refused(
            code=Reason.NO_SUCH_ROOM, text="This relay does not host that room.", retry_after_ms=0
        )
    ]
    assert pair.client.close_expected() and pair.relay.close_expected()
    assert pair.sent_by_relay() == [FrameType.REFUSED]
    assert not pair.client.password_at_stake


def test_relay_answering_for_another_room_than_asked_is_a_violation(
    relay_secret: Spake2Secret,
) -> None:
    # Correctly signed by the relay, but for another room than the client asked for.
    client = make_client(
        keys=derive_room_keys(PASSWORD, room_id=OTHER_ROOM, n=2**10), room_id=OTHER_ROOM
    )
    opening = opened(client)
    share = spake2_share(relay_secret, Role.B, RELAY_SCALAR)
    client.receive_data(signed_relay_hello(opening, share=share, room_id=ROOM_ID))
    (event,) = client.events_received()
    assert isinstance(event, proto.ProtocolViolation) and "another room" in event.reason
    assert client.data_to_send() == b""


# -- wrong password, tampered PAKE -----------------------------------------------------------


def assert_auth_failed_both_sides(pair: Pair, *, client_cause: proto.AuthFailure) -> None:
    client_events, relay_events = pair.take()
    assert client_events[-1] == proto.AuthenticationFailed(cause=client_cause)
    assert not any(isinstance(e, proto.HandshakeComplete) for e in client_events)
    assert pair.client.state is ClientState.CLOSED and pair.client.close_expected()
    assert isinstance(relay_events[-1], proto.AuthenticationFailed)
    assert not any(isinstance(e, (proto.Authenticated, proto.JoinRequested)) for e in relay_events)
    assert pair.relay.state is RelayState.CLOSED and pair.relay.close_expected()
    # The relay answered with AUTH_FAILED and never sent its confirmation; nothing was sealed.
    assert pair.sent_by_relay() == [FrameType.RELAY_HELLO, FrameType.AUTH_FAILED]
    assert pair.sent_by_client() == [
        FrameType.CLIENT_HELLO,
        FrameType.CLIENT_OPEN,
        FrameType.CLIENT_PAKE,
    ]
    assert pair.client.password_at_stake  # the relay (whoever it is) learnt one guess


def test_wrong_password(wrong_keys: RoomKeys, creds: RelayCredentials) -> None:
    pair = Pair(make_client(keys=wrong_keys), make_relay(), credentials=creds)
    pair.handshake()
    assert pair.relay_events[-1] == proto.AuthenticationFailed(
        cause=proto.AuthFailure.WRONG_PASSWORD
    )
    assert_auth_failed_both_sides(pair, client_cause=proto.AuthFailure.WRONG_PASSWORD)
    (body,) = split_frames(pair.to_client_log[-1])
    assert body == bytes([FrameType.AUTH_FAILED])  # fixed and empty: says nothing about why


@pytest.mark.parametrize(
    "index", [CLIENT_SHARE[0], CLIENT_SHARE[1], CLIENT_SHARE[39], CLIENT_SHARE[-1]]
)
def test_tampered_client_share(room_keys: RoomKeys, creds: RelayCredentials, index: int) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(),
        credentials=creds,
        tamper_to_relay=lambda data: rewrite_frame(
            data, FrameType.CLIENT_PAKE, lambda body: flip(body, index)
        ),
    )
    pair.handshake()
    assert_auth_failed_both_sides(pair, client_cause=proto.AuthFailure.WRONG_PASSWORD)


@pytest.mark.parametrize("index", [CLIENT_CONFIRMATION[0], CLIENT_CONFIRMATION[-1]])
def test_tampered_client_confirmation(
    room_keys: RoomKeys, creds: RelayCredentials, index: int
) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(),
        credentials=creds,
        tamper_to_relay=lambda data: rewrite_frame(
            data, FrameType.CLIENT_PAKE, lambda body: flip(body, index)
        ),
    )
    pair.handshake()
    assert pair.relay_events[-1] == proto.AuthenticationFailed(
        cause=proto.AuthFailure.WRONG_PASSWORD
    )
    assert_auth_failed_both_sides(pair, client_cause=proto.AuthFailure.WRONG_PASSWORD)


@pytest.mark.parametrize("index", [1, 32])
def test_tampered_relay_confirmation(
    room_keys: RoomKeys, creds: RelayCredentials, index: int
) -> None:
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(),
        credentials=creds,
        tamper_to_client=lambda data: rewrite_frame(
            data, FrameType.RELAY_CONFIRM, lambda body: flip(body, index)
        ),
    )
    pair.handshake()
    assert pair.client_events[-1] == proto.AuthenticationFailed(
        cause=proto.AuthFailure.RELAY_UNPROVEN
    )
    assert pair.client.state is ClientState.CLOSED
    assert FrameType.JOIN not in pair.sent_by_client()  # nothing under unverified keys
    assert pair.client.password_at_stake


def test_relay_refuses_its_own_share_reflected(creds: RelayCredentials) -> None:
    relay = make_relay()
    relay.receive_data(opened(make_client()))
    relay.events_received()
    relay.select_room(creds)
    (hello,) = split_frames(relay.data_to_send())
    relay_share = RelayHello.decode(hello[1:]).share
    relay.receive_data(frame(FrameType.CLIENT_PAKE, relay_share + bytes(32)))
    assert relay.events_received() == [
        proto.AuthenticationFailed(cause=proto.AuthFailure.INVALID_SHARE)
    ]
    assert types_of(relay.data_to_send()) == [FrameType.AUTH_FAILED]


def test_client_refuses_its_own_share_reflected(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    # Only a relay holding its key can sign a hello, but it may still be hostile.
    client = make_client(keys=room_keys)
    opening = opened(client)
    own_share = spake2_share(relay_secret, Role.A, CLIENT_SCALAR)
    client.receive_data(signed_relay_hello(opening, share=own_share))
    events = client.events_received()
    assert events[-1] == proto.AuthenticationFailed(cause=proto.AuthFailure.INVALID_SHARE)
    assert client.data_to_send() == b"" and client.close_expected()
    assert not client.password_at_stake  # an invalid share costs no guess


INVALID_POINTS = [
    b"\x04" + bytes(64),  # the identity as pycryptodome spells it
    b"\x04" + (1).to_bytes(32, "big") * 2,  # off the curve
    b"\x04" + b"\xff" * 64,  # coordinates above the field prime
    b"\x02" + bytes(64),  # not the uncompressed form
]


@pytest.mark.parametrize("share", INVALID_POINTS)
def test_invalid_client_points_fail_authentication(creds: RelayCredentials, share: bytes) -> None:
    relay = make_relay()
    relay.receive_data(opened(make_client()))
    relay.select_room(creds)
    relay.data_to_send()
    relay.receive_data(frame(FrameType.CLIENT_PAKE, share + bytes(32)))
    assert relay.events_received()[-1] == proto.AuthenticationFailed(
        cause=proto.AuthFailure.INVALID_SHARE
    )
    assert types_of(relay.data_to_send()) == [FrameType.AUTH_FAILED]
    assert relay.close_expected()


@pytest.mark.parametrize("share", INVALID_POINTS)
def test_invalid_relay_points_fail_before_anything_is_sent(
    room_keys: RoomKeys, share: bytes
) -> None:
    client = make_client(keys=room_keys)
    client.receive_data(signed_relay_hello(opened(client), share=share))
    assert client.events_received()[-1] == proto.AuthenticationFailed(
        cause=proto.AuthFailure.INVALID_SHARE
    )
    assert client.data_to_send() == b"" and client.state is ClientState.CLOSED
    assert not client.password_at_stake


@pytest.mark.parametrize("payload", [b"\x04" + bytes(63), b"\x04" + bytes(64), bytes(98)])
def test_client_pake_of_the_wrong_length_is_a_protocol_violation(
    creds: RelayCredentials, payload: bytes
) -> None:
    relay = make_relay()
    relay.receive_data(opened(make_client()))
    relay.select_room(creds)
    relay.data_to_send()
    relay.events_received()
    relay.receive_data(frame(FrameType.CLIENT_PAKE, payload))
    (violation,) = relay.events_received()
    assert isinstance(violation, proto.ProtocolViolation)
    (body,) = split_frames(relay.data_to_send())
    assert body[0] == FrameType.REFUSED
    assert Refusal.decode(body[1:]) == Refusal(
        code=Reason.PROTOCOL_ERROR, retry_after_ms=0, text="protocol error"
    )
    assert relay.state is RelayState.FAILED


# -- versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("versions", [(1,), (1, 3), (3,)])
def test_a_client_without_version_2_is_refused_cleanly(versions: tuple[int, ...]) -> None:
    # A version 1 client writes CLIENT_HELLO offering [1], then (v1) waits for RELAY_HELLO.
    relay = make_relay()
    v1_hello = frame(FrameType.CLIENT_HELLO, ClientHello(versions=versions).encode())
    if versions == (1,):
        assert v1_hello == b"\x00\x00\x00\x0e\x01SocketChat\x01\x00\x01"
    relay.receive_data(v1_hello)
    (refused,) = relay.events_received()
    assert isinstance(refused, proto.Refused) and refused.code is Reason.INCOMPATIBLE_VERSION
    (body,) = split_frames(relay.data_to_send())
    # REFUSED's layout never changes: a v1 client decodes it as it always did.
    assert body[0] == FrameType.REFUSED
    refusal = Refusal.decode(body[1:])
    assert refusal.code is Reason.INCOMPATIBLE_VERSION and refusal.retry_after_ms == 0
    assert "version 2" in refusal.text
    assert relay.state is RelayState.CLOSED and relay.close_expected()
    relay.receive_data(frame(0x04, bytes(65)))  # whatever the old client sends next: ignored
    assert relay.events_received() == [] and relay.data_to_send() == b""


def test_a_client_offering_versions_1_and_2_gets_version_2(creds: RelayCredentials) -> None:
    relay = make_relay()
    relay.receive_data(frame(FrameType.CLIENT_HELLO, ClientHello(versions=(1, 2)).encode()))
    relay.receive_data(
        frame(FrameType.CLIENT_OPEN, ClientOpen(room_id=DEFAULT_ROOM, nonce=bytes(32)).encode())
    )
    assert relay.events_received() == [proto.RoomRequested(room_id=DEFAULT_ROOM)]
    relay.select_room(creds)
    (body,) = split_frames(relay.data_to_send())
    assert body[0] == FrameType.RELAY_HELLO and body[1:3] == b"\x00\x02"


def test_v2_client_reports_an_incompatible_version_refusal() -> None:
    client = make_client()
    client.initiate()
    client.data_to_send()
    text = "This relay speaks SocketChat protocol version 3 only."
    client.receive_data(
        frame(
            FrameType.REFUSED,
            Refusal(code=Reason.INCOMPATIBLE_VERSION, retry_after_ms=0, text=text).encode(),
        )
    )
    assert client.events_received() == [
        proto.Refused(code=Reason.INCOMPATIBLE_VERSION, text=text, retry_after_ms=0)
    ]
    assert client.state is ClientState.CLOSED and client.close_expected()
    assert client.data_to_send() == b"" and not client.password_at_stake


def test_v2_client_and_v2_relay_core_refusal_end_to_end() -> None:
    # The relay core's own refusal, read by a v2 client: what a v3 relay would do to us.
    relay = make_relay()
    relay.receive_data(frame(FrameType.CLIENT_HELLO, ClientHello(versions=(1,)).encode()))
    client = make_client()
    client.initiate()
    client.receive_data(relay.data_to_send())
    (event,) = client.events_received()
    assert isinstance(event, proto.Refused) and event.code is Reason.INCOMPATIBLE_VERSION


@pytest.mark.parametrize("version", [1, 3])
def test_relay_choosing_a_version_we_did_not_offer_is_a_violation(
    room_keys: RoomKeys, relay_secret: Spake2Secret, version: int
) -> None:
    client = make_client(keys=room_keys)
    share = spake2_share(relay_secret, Role.B, RELAY_SCALAR)
    client.receive_data(signed_relay_hello(opened(client), share=share, version=version))
    (event,) = client.events_received()
    assert isinstance(event, proto.ProtocolViolation) and f"version {version}" in event.reason
    assert client.state is ClientState.FAILED and client.data_to_send() == b""


# -- the relay's signature in RELAY_HELLO ------------------------------------------------------


def assert_stopped_before_the_password(pair: Pair) -> None:
    """The client failed on RELAY_HELLO and sent nothing that depends on the password."""
    client_events = pair.client_events
    assert isinstance(client_events[-1], proto.ProtocolViolation), client_events
    assert not any(isinstance(e, proto.RelayIdentified) for e in client_events)
    assert pair.client.state is ClientState.FAILED
    assert no_password_work_sent(pair)
    assert not pair.client.password_at_stake and not pair.client.confirmation_sent
    assert pair.client.relay_key == b""


@pytest.mark.parametrize(
    ("field", "offset"),
    [
        ("version", 1),
        ("room id", 0),
        ("room id", 15),
        ("relay key", 0),
        ("relay key", 31),
        ("relay nonce", 0),
        ("relay nonce", 31),
        ("relay share", 0),
        ("relay share", 1),
        ("relay share", 33),
        ("relay share", 64),
        ("signature", 0),
        ("signature", 40),
        ("signature", 63),
    ],
)
def test_tampered_relay_hello_is_refused_before_the_password(
    room_keys: RoomKeys, creds: RelayCredentials, field: str, offset: int
) -> None:
    # The client holds the keys: without the signature check it would send CLIENT_PAKE at once.
    start = RELAY_HELLO_FIELDS[field][0]

    def tamper(data: bytes) -> bytes:
        if types_of(data) == [FrameType.RELAY_HELLO]:
            return flip(data, start + offset)
        return data

    pair = Pair(
        make_client(keys=room_keys), make_relay(), credentials=creds, tamper_to_client=tamper
    )
    pair.handshake()
    violation = pair.client_events[-1]
    assert isinstance(violation, proto.ProtocolViolation)
    assert field in ("version", "relay key") or "signature" in violation.reason
    assert_stopped_before_the_password(pair)


def test_relay_key_swapped_for_another_valid_key(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    start, end = RELAY_HELLO_FIELDS["relay key"]
    other = identity("mallory").signing_public
    pair = Pair(
        make_client(keys=room_keys),
        make_relay(),
        credentials=creds,
        tamper_to_client=lambda data: (
            data[:start] + other + data[end:] if types_of(data) == [FrameType.RELAY_HELLO] else data
        ),
    )
    pair.handshake()
    assert_stopped_before_the_password(pair)


def test_relay_hello_signed_by_another_key_than_it_presents(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    client = make_client(keys=room_keys)
    pair = Pair(client, make_relay())
    share = spake2_share(relay_secret, Role.B, RELAY_SCALAR)
    opening = opened(client)
    pair.to_relay_log.append(opening)
    forged = signed_relay_hello(
        opening,
        share=share,
        signer=identity("mallory"),
        relay_key=RELAY_IDENTITY.signing_public,
    )
    client.receive_data(forged)
    pair.client_events += client.events_received()
    assert_stopped_before_the_password(pair)
    assert client.data_to_send() == b""


@pytest.mark.parametrize("part", ["client hello", "client open"])
def test_the_signature_covers_the_clients_opening(
    room_keys: RoomKeys, creds: RelayCredentials, part: str
) -> None:
    # Still valid frames (a hello offering 2 and 9, another nonce): only the relay's signature
    # over the opening as *it* received it shows the client that someone changed it.
    def tamper(data: bytes) -> bytes:
        if part == "client hello":
            new_hello = bytes([FrameType.CLIENT_HELLO]) + ClientHello(versions=(2, 9)).encode()
            return rewrite_frame(data, FrameType.CLIENT_HELLO, lambda body: new_hello)
        return rewrite_frame(data, FrameType.CLIENT_OPEN, lambda body: flip(body, 20))

    pair = Pair(
        make_client(keys=room_keys), make_relay(), credentials=creds, tamper_to_relay=tamper
    )
    pair.handshake()
    assert pair.relay_events == [proto.RoomRequested(room_id=DEFAULT_ROOM)]  # the relay saw no harm
    assert_stopped_before_the_password(pair)


def test_a_relay_hello_replayed_from_another_connection_fails(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    # A man in the middle recorded a genuine, correctly signed RELAY_HELLO on one connection
    # and plays it to another client (whose nonce differs) to skip the relay's key.
    first = Pair(make_client(keys=room_keys, label=b"first"), make_relay(), credentials=creds)
    first.handshake()
    assert first.client_events[-1] == proto.HandshakeComplete()
    recorded = first.to_client_log[0]
    assert types_of(recorded) == [FrameType.RELAY_HELLO]

    second = make_client(keys=room_keys, label=b"second")
    opening = opened(second)
    first_opening = first.to_relay_log[0]
    # The two openings differ in the client nonce only.
    assert opening[:-32] == first_opening[:-32] and opening[-32:] != first_opening[-32:]
    pair = Pair(second, make_relay())
    pair.to_relay_log.append(opening)
    second.receive_data(recorded)
    pair.client_events += second.events_received()
    assert_stopped_before_the_password(pair)
    assert second.data_to_send() == b""


# -- pinned relay keys ------------------------------------------------------------------------


def test_pinned_relay_key_that_differs_stops_the_handshake(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    pinned = identity("the relay we met before").signing_public
    pair = Pair(
        make_client(keys=room_keys, expected_relay_key=pinned), make_relay(), credentials=creds
    )
    pair.handshake()
    assert pair.client_events == [
        proto.RelayKeyMismatch(
            room_id=ROOM_ID, expected=pinned, presented=RELAY_IDENTITY.signing_public
        )
    ]
    assert pair.client.state is ClientState.CLOSED and pair.client.close_expected()
    assert no_password_work_sent(pair)
    assert pair.client.data_to_send() == b""
    assert not pair.client.password_at_stake
    assert pair.relay.state is RelayState.AWAIT_CLIENT_PAKE  # it never heard from us again


def test_pinned_relay_key_that_matches_lets_the_handshake_go_on(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    pair = Pair(
        make_client(keys=room_keys, expected_relay_key=RELAY_IDENTITY.signing_public),
        make_relay(),
        credentials=creds,
    )
    pair.handshake()
    assert pair.client_events == [
        proto.RelayIdentified(room_id=ROOM_ID, relay_key=RELAY_IDENTITY.signing_public),
        proto.HandshakeComplete(),
    ]
    assert pair.relay.state is RelayState.JOIN_PENDING


def test_pinned_client_facing_a_relay_with_another_key(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    # A relay that knows the room's verifier but not the pinned key (a stolen room file
    # without the relay identity, or a new relay): it gets no confirmation, so no guess.
    impostor = credentials(relay_secret, relay_identity=identity("impostor"))
    pair = Pair(
        make_client(keys=room_keys, expected_relay_key=RELAY_IDENTITY.signing_public),
        make_relay(),
        credentials=impostor,
    )
    pair.handshake()
    (mismatch,) = pair.client_events
    assert isinstance(mismatch, proto.RelayKeyMismatch)
    assert mismatch.presented == identity("impostor").signing_public
    assert no_password_work_sent(pair)


def test_pinned_key_presented_without_its_signature_is_a_violation(
    room_keys: RoomKeys, relay_secret: Spake2Secret
) -> None:
    client = make_client(keys=room_keys, expected_relay_key=RELAY_IDENTITY.signing_public)
    pair = Pair(client, make_relay())
    opening = opened(client)
    pair.to_relay_log.append(opening)
    client.receive_data(
        signed_relay_hello(
            opening,
            share=spake2_share(relay_secret, Role.B, RELAY_SCALAR),
            signer=identity("impostor"),
            relay_key=RELAY_IDENTITY.signing_public,
        )
    )
    pair.client_events += client.events_received()
    assert_stopped_before_the_password(pair)


# -- what is at stake when a connection ends early --------------------------------------------


def client_after_its_pake(room_keys: RoomKeys, creds: RelayCredentials) -> ClientProtocol:
    """A client whose CLIENT_PAKE has just left; the relay has not answered yet."""
    client, relay = make_client(keys=room_keys), make_relay()
    relay.receive_data(opened(client))
    relay.select_room(creds)
    client.receive_data(relay.data_to_send())
    client.events_received()
    assert types_of(client.data_to_send()) == [FrameType.CLIENT_PAKE]
    return client


def test_password_at_stake_from_our_confirmation_until_the_relays(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    pair = Pair(make_client(), make_relay(), credentials=creds)
    client = pair.client
    assert not client.password_at_stake
    pair.handshake()  # hello, open, relay hello; then KeysRequired
    assert client.state is ClientState.AWAIT_KEYS
    assert not client.password_at_stake and not client.confirmation_sent
    client.provide_keys(room_keys)  # CLIENT_PAKE is queued: as good as sent
    assert client.password_at_stake and client.confirmation_sent
    pair.shuttle()  # RELAY_CONFIRM verified
    assert pair.client_events[-1] == proto.HandshakeComplete()
    assert not client.password_at_stake and client.confirmation_sent
    pair.relay.send_goodbye(Reason.ROOM_CLOSING, "closing")
    pair.shuttle()
    client.receive_eof()
    assert client.close_expected() and not client.password_at_stake


def _refused() -> bytes:
    refusal = Refusal(code=Reason.TOO_MANY_ATTEMPTS, retry_after_ms=1000, text="wait")
    return frame(FrameType.REFUSED, refusal.encode())


@pytest.mark.parametrize(
    ("ending", "deliver", "expected"),
    [
        ("REFUSED", lambda c: c.receive_data(_refused()), proto.Refused),
        (
            "AUTH_FAILED",
            lambda c: c.receive_data(frame(FrameType.AUTH_FAILED)),
            proto.AuthenticationFailed,
        ),
        ("EOF", lambda c: c.receive_eof(), proto.ConnectionClosed),
        (
            "EOF mid frame",
            lambda c: (c.receive_data(b"\x00\x00"), c.receive_eof()),
            proto.ConnectionClosed,
        ),
        (
            "a confirmation that does not verify",
            lambda c: c.receive_data(frame(FrameType.RELAY_CONFIRM, bytes(32))),
            proto.AuthenticationFailed,
        ),
        ("garbage", lambda c: c.receive_data(frame(0x99)), proto.ProtocolViolation),
    ],
)
def test_password_stays_at_stake_when_the_connection_ends_before_the_relay_proved_itself(
    room_keys: RoomKeys,
    creds: RelayCredentials,
    ending: str,
    deliver: Callable[[ClientProtocol], Any],
    expected: type,
) -> None:
    client = client_after_its_pake(room_keys, creds)
    assert client.password_at_stake
    deliver(client)
    assert isinstance(client.events_received()[-1], expected)
    assert client.close_expected()
    assert client.password_at_stake, f"after {ending} the driver must not retry by itself"
    assert client.data_to_send() == b""


@pytest.mark.parametrize("when", ["before hello", "room pending", "after relay hello"])
def test_refuse_before_the_encrypted_phase(
    room_keys: RoomKeys, creds: RelayCredentials, when: str
) -> None:
    client, relay = make_client(keys=room_keys), make_relay()
    if when != "before hello":
        relay.receive_data(opened(client))
    if when == "after relay hello":
        relay.select_room(creds)
        relay.data_to_send()  # RELAY_HELLO is lost: the relay refuses instead
    relay.refuse(Reason.TOO_MANY_ATTEMPTS, "Too many attempts; wait a bit.", retry_after_ms=3000)
    assert relay.close_expected() and relay.state is RelayState.CLOSED
    if when == "before hello":
        opened(client)
    client.receive_data(relay.data_to_send())
    assert client.events_received() == [
        proto.Refused(
            code=Reason.TOO_MANY_ATTEMPTS,
            text="Too many attempts; wait a bit.",
            retry_after_ms=3000,
        )
    ]
    assert client.close_expected() and not client.password_at_stake
    with pytest.raises(LocalProtocolError):
        relay.refuse(Reason.BUSY, "again")


def test_refused_while_the_client_derives_its_keys(creds: RelayCredentials) -> None:
    pair = Pair(make_client(), make_relay(), credentials=creds)
    pair.handshake()
    assert pair.client.state is ClientState.AWAIT_KEYS
    pair.client.receive_data(
        frame(
            FrameType.REFUSED,
            Refusal(code=Reason.HANDSHAKE_TIMEOUT, retry_after_ms=0, text="").encode(),
        )
    )
    (event,) = pair.client.events_received()
    assert isinstance(event, proto.Refused) and event.code is Reason.HANDSHAKE_TIMEOUT
    assert pair.client.close_expected() and not pair.client.password_at_stake


def test_refused_frame_before_initiate_is_understood() -> None:
    relay = make_relay()
    relay.refuse(Reason.BUSY, "busy")
    client = make_client()
    client.receive_data(relay.data_to_send())
    (event,) = client.events_received()
    assert isinstance(event, proto.Refused) and event.code is Reason.BUSY


def test_auth_failed_with_a_body_is_a_violation(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    client = client_after_its_pake(room_keys, creds)
    client.receive_data(frame(FrameType.AUTH_FAILED, b"why"))
    (event,) = client.events_received()
    assert isinstance(event, proto.ProtocolViolation)


# -- the JOIN proof -----------------------------------------------------------------------------


class ForgingClient(ClientProtocol):
    """A member that writes its own JOIN (forged, replayed or malformed); ``forge`` gets the
    client once the handshake is done and returns the Join to send. Without it the JOIN is
    the genuine one. The JOIN sent is kept in ``sent_join``."""

    def __init__(self, forge: Callable[[ForgingClient], Join] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forge = forge
        self.sent_join: Join | None = None

    @property
    def transcript(self) -> bytes:
        """H(TT) of this connection (secret-dependent: only the two ends know it)."""
        return self._transcript

    def _join_payload(self) -> bytes:
        join = Join.decode(super()._join_payload()) if self.forge is None else self.forge(self)
        self.sent_join = join
        return join.encode()


def forging_client(
    keys: RoomKeys, forge: Callable[[ForgingClient], Join] | None = None, *, label: bytes = b"a"
) -> ForgingClient:
    return ForgingClient(
        forge,
        username="alice",
        identity=identity("alice"),
        keys=keys,
        random_bytes=CountingRandom(label),
        random_scalar=fixed_scalar(CLIENT_SCALAR),
    )


ALICE_SEED = identity("alice").to_secret()[:32]
TORSION_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
# R = B, S = 1: verifies under cofactored Ed25519 for *any* message when A has small order.
UNIVERSAL_FORGERY = ref.ed_compress(ref.ED_BASE) + (1).to_bytes(32, "little")


def proof_for(
    client: ForgingClient,
    *,
    signer: Identity | None = None,
    transcript: bytes | None = None,
    room_id: bytes = ROOM_ID,
    name: str = "alice",
    signing_key: bytes | None = None,
    dh_key: bytes | None = None,
    context: str = JOIN_CONTEXT,
) -> bytes:
    """A proof over the given fields (by default, alice's genuine ones on this connection)."""
    alice = identity("alice")
    signed = join_signed(
        transcript=client.transcript if transcript is None else transcript,
        room_id=room_id,
        name=name,
        signing_key=signing_key or alice.signing_public,
        dh_key=dh_key or alice.dh_public,
    )
    return (signer or alice).sign(signed, context=context)


def sign_with_public_encoding(seed: bytes, public: bytes, message: bytes) -> bytes:
    """RFC 8032 signing with ``public`` hashed in as A: how the owner of a genuine key signs
    "for" a mixed-order spelling of it."""
    a, prefix = ref.ed_expand(seed)
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % ref.ED_L
    big_r = ref.ed_compress(ref.ed_mul(r, ref.ED_BASE))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % ref.ED_L
    return big_r + ((r + k * a) % ref.ED_L).to_bytes(32, "little")


def _mixed_order_join(client: ForgingClient) -> Join:
    genuine = ref.ed_decompress(identity("alice").signing_public)
    torsion = ref.ed_decompress(TORSION_8)
    assert genuine is not None and torsion is not None
    mixed = ref.ed_compress(ref.ed_add(genuine, torsion))
    dh = identity("alice").dh_public
    signed = join_signed(
        transcript=client.transcript, room_id=ROOM_ID, name="alice", signing_key=mixed, dh_key=dh
    )
    proof = sign_with_public_encoding(ALICE_SEED, mixed, signed_bytes(signed, context=JOIN_CONTEXT))
    # The forgery is real: pycryptodome's cofactored check accepts it (the relay must not).
    from Crypto.Signature import eddsa

    key = eddsa.import_public_key(mixed)
    eddsa.new(key, "rfc8032").verify(signed_bytes(signed, context=JOIN_CONTEXT), proof)
    return Join(name="alice", signing_key=mixed, dh_key=dh, proof=proof, tag=bytes(32))


def _join(**fields: Any) -> Callable[[ForgingClient], Join]:
    """A forge that sends alice's JOIN with ``fields`` changed (callables get the client)."""

    def forge(client: ForgingClient) -> Join:
        alice = identity("alice")
        values: dict[str, Any] = {
            "name": "alice",
            "signing_key": alice.signing_public,
            "dh_key": alice.dh_public,
            "proof": proof_for(client),
            "tag": bytes(32),  # any tag: the relay cannot check one
        }
        for key, value in fields.items():
            values[key] = value(client) if callable(value) else value
        return Join(**values)

    return forge


BAD_JOINS = {
    "proof for another name": _join(name="alicia"),
    "proof for another room": _join(proof=lambda c: proof_for(c, room_id=OTHER_ROOM)),
    "proof for the default room id": _join(proof=lambda c: proof_for(c, room_id=DEFAULT_ROOM)),
    "swapped dh key": _join(dh_key=identity("bob").dh_public),
    "proof by a third key": _join(proof=lambda c: proof_for(c, signer=identity("mallory"))),
    "proof under another context": _join(proof=lambda c: proof_for(c, context="message")),
    "proof for another transcript": _join(proof=lambda c: proof_for(c, transcript=bytes(32))),
    "small-order signing key": _join(signing_key=TORSION_8, proof=UNIVERSAL_FORGERY),
    "non-canonical signing key (y = p + 1)": _join(
        signing_key=(ref.ED_P + 1).to_bytes(32, "little"), proof=UNIVERSAL_FORGERY
    ),
    "identity with the sign bit": _join(
        signing_key=(1 | 1 << 255).to_bytes(32, "little"), proof=UNIVERSAL_FORGERY
    ),
    "mixed-order signing key": _mixed_order_join,
    "low-order dh key": _join(dh_key=bytes(32), proof=lambda c: proof_for(c, dh_key=bytes(32))),
    "non-canonical dh key": _join(
        dh_key=(ref.ED_P + 9).to_bytes(32, "little"),
        proof=lambda c: proof_for(c, dh_key=(ref.ED_P + 9).to_bytes(32, "little")),
    ),
}


def assert_join_refused(pair: Pair) -> None:
    client_events, relay_events = pair.take()
    assert relay_events[:2] == [proto.RoomRequested(room_id=DEFAULT_ROOM), proto.Authenticated()]
    assert isinstance(relay_events[-1], proto.ProtocolViolation), relay_events
    assert "JOIN" in relay_events[-1].reason
    assert not any(isinstance(e, proto.JoinRequested) for e in relay_events)
    assert pair.relay.state is RelayState.FAILED
    assert client_events[-1] == proto.GoodbyeReceived(
        code=Reason.PROTOCOL_ERROR, text="protocol error"
    )


@pytest.mark.parametrize("case", list(BAD_JOINS))
def test_a_join_without_a_valid_proof_is_a_violation(
    room_keys: RoomKeys, creds: RelayCredentials, case: str
) -> None:
    pair = Pair(forging_client(room_keys, BAD_JOINS[case]), make_relay(), credentials=creds)
    pair.handshake()
    assert_join_refused(pair)


def test_a_join_replayed_from_another_connection_is_a_violation(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    first_client = forging_client(room_keys, label=b"first")
    first = Pair(first_client, make_relay(), credentials=creds)
    first.handshake()
    assert isinstance(first.relay_events[-1], proto.JoinRequested)  # genuine there
    recorded = first_client.sent_join
    assert recorded is not None
    second_client = forging_client(room_keys, lambda client: recorded, label=b"second")
    second = Pair(second_client, make_relay(0x2223), credentials=creds)
    second.handshake()
    assert second_client.transcript != first_client.transcript
    assert_join_refused(second)


def test_a_valid_join_proof_as_the_document_spells_it(
    room_keys: RoomKeys, creds: RelayCredentials
) -> None:
    # proof = Sign(signing key, "join", H(TT) ‖ room_id ‖ str8 name ‖ signing_key ‖ dh_key),
    # written out here from PROTOCOL.md 4.3 rather than with the product's helper.
    bob = identity("bob")
    tag = bytes(range(32))  # whatever the tag, the relay passes it on as sent

    def by_hand(client: ForgingClient) -> Join:
        name = "Zoë"
        encoded = name.encode()
        message = (
            client.transcript
            + ROOM_ID
            + bytes([len(encoded)])
            + encoded
            + bob.signing_public
            + bob.dh_public
        )
        proof = ref.ed_sign(bob.to_secret()[:32], b"SocketChat v2 signature|join|" + message)
        return Join(
            name=name,
            signing_key=bob.signing_public,
            dh_key=bob.dh_public,
            proof=proof,
            tag=tag,
        )

    pair = Pair(forging_client(room_keys, by_hand), make_relay(), credentials=creds)
    pair.handshake()
    assert pair.relay_events[-1] == proto.JoinRequested(
        username="Zoë", signing_key=bob.signing_public, dh_key=bob.dh_public, tag=tag
    )
    assert pair.relay.state is RelayState.JOIN_PENDING


def test_the_join_carries_the_membership_tag_the_document_spells_out(
    room_keys: RoomKeys, wrong_keys: RoomKeys, creds: RelayCredentials
) -> None:
    # tag = HMAC-SHA256(derive(member, "membership", ""),
    #                   "SocketChat v2 member|" ‖ room_id ‖ signing_key ‖ dh_key)   (5.2)
    client = forging_client(room_keys)
    pair = Pair(client, make_relay(), credentials=creds)
    pair.handshake()
    alice = identity("alice")
    key = ref.hkdf_sha256(room_keys.member, salt=b"", info=b"SocketChat v2|membership|", length=32)
    tag = hmac.new(
        key, b"SocketChat v2 member|" + ROOM_ID + alice.signing_public + alice.dh_public, "sha256"
    ).digest()
    assert client.sent_join is not None and client.sent_join.tag == tag == tag_of(alice, room_keys)
    assert pair.relay_events[-1] == proto.JoinRequested(
        username="alice", signing_key=alice.signing_public, dh_key=alice.dh_public, tag=tag
    )
    # Only the password makes it: another one, another tag (the relay, which holds only the
    # access key, can make none).
    assert tag_of(alice, wrong_keys) != tag


# -- misuse ---------------------------------------------------------------------------------------


def test_local_errors_in_the_handshake(room_keys: RoomKeys, creds: RelayCredentials) -> None:
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
    with pytest.raises(LocalProtocolError, match="room_id"):
        make_client(room_id=b"short")
    relay = make_relay()
    with pytest.raises(LocalProtocolError):
        relay.select_room(creds)  # no CLIENT_OPEN yet
    with pytest.raises(LocalProtocolError):
        relay.send_notice(Reason.RATE_LIMITED, "slow down")
    with pytest.raises(LocalProtocolError):
        relay.accept_join(
            proto.WelcomeArgs(
                name="x",
                members=(),
                broadcast_key=bytes(32),
                next_seq=1,
                next_position=1000,
                history=(),
                max_message_bytes=10,
            )
        )
    with pytest.raises(LocalProtocolError):
        relay.reject_join(Reason.NAME_TAKEN, "taken")
    assert relay.send_raw(b"\x00\x00\x00\x01\x20") is False
    assert relay.data_to_send() == b""
    relay.receive_data(opened(make_client()))
    bad_room = RelayCredentials(
        room_id=b"short", secret=creds.secret, relay_identity=creds.relay_identity
    )
    with pytest.raises(LocalProtocolError):
        relay.select_room(bad_room)
    assert relay.data_to_send() == b"" and relay.state is RelayState.ROOM_PENDING
    relay.select_room(creds)
    with pytest.raises(LocalProtocolError):
        relay.select_room(creds)  # once only
    with pytest.raises(ValueError, match="start or end with a space"):
        make_client(" bad name")  # a name is user input: ValueError with its reason
