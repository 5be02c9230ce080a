"""Known-answer vectors for docs/PROTOCOL.md, section 9: fixed inputs → every derived value.

:func:`build` runs one complete session through the real protocol core (ClientProtocol,
RelayProtocol and Room in memory) with every random input fixed: Alice joins an empty room and
sends "Hello, room!". It returns the inputs, the keys derived from them, the handshake values,
and every frame exactly as it crossed the wire, all in hex. ``tools/make_vectors.py`` writes it
to ``tests/net/vectors.json``; ``tests/net/test_vectors.py`` rebuilds it and also recomputes the
values with the standard library and the stdlib reference primitives in tests/crypto.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any

from crypto.identity import Identity
from crypto.kdf import derive_room_keys, master_key
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from net import proto
from net.proto._transcript import pake_aad, relay_hello_signed, transcript_hash
from net.relay.roomfile import RoomSecret

PASSWORD = "correct horse battery staple"
ROOM_ID = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
RELAY_SECRET = hashlib.sha512(b"SocketChat vector: relay").digest()
ALICE_SECRET = hashlib.sha512(b"SocketChat vector: alice").digest()
CLIENT_NONCE = bytes(range(32, 64))
RELAY_NONCE = bytes(range(64, 96))
X = int.from_bytes(hashlib.sha256(b"SocketChat vector: x").digest(), "big") % (2**255)
Y = int.from_bytes(hashlib.sha256(b"SocketChat vector: y").digest(), "big") % (2**255)
MESSAGE_ID = bytes(range(16))
TIMESTAMP_MS = 1_795_000_000_000
ENVELOPE_NONCE = bytes(range(100, 124))
BROADCAST_KEY = bytes(range(128, 160))
TEXT = "Hello, room!"


def _supplier(*values: bytes) -> Callable[[int], bytes]:
    queue = deque(values)

    def random_bytes(size: int) -> bytes:
        value = queue.popleft()
        if len(value) != size:
            raise AssertionError(f"asked for {size} random bytes, the vector has {len(value)}")
        return value

    return random_bytes


def _frames(data: bytes) -> list[bytes]:
    frames, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        frames.append(data[pos : pos + 4 + length])
        pos += 4 + length
    return frames


def build() -> dict[str, Any]:
    """The whole vector set, as JSON-ready strings."""
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID)
    master = master_key(PASSWORD, salt=ROOM_ID)
    relay_identity = Identity.from_secret(RELAY_SECRET)
    alice = Identity.from_secret(ALICE_SECRET)
    secret = RoomSecret.from_room_keys(keys, relay_identity=relay_identity)

    client = proto.ClientProtocol(
        username="alice",
        identity=alice,
        keys=keys,
        random_bytes=_supplier(CLIENT_NONCE, MESSAGE_ID, ENVELOPE_NONCE),
        random_scalar=lambda: X,
    )
    relay = proto.RelayProtocol(random_bytes=_supplier(RELAY_NONCE), random_scalar=lambda: Y)
    room: proto.Room[object] = proto.Room(broadcast_key=BROADCAST_KEY)
    wire: list[tuple[str, bytes]] = []

    def to_relay() -> None:
        data = client.data_to_send()
        wire.extend(("C→R", frame) for frame in _frames(data))
        relay.receive_data(data)
        for event in relay.events_received():
            if isinstance(event, proto.RoomRequested):
                relay.select_room(secret.credentials)
            elif isinstance(event, proto.JoinRequested):
                name = room.check_join(event.username, event.signing_key)
                info = proto.MemberInfo(
                    name=name, signing_key=event.signing_key, dh_key=event.dh_key
                )
                room.join(info, relay)  # its JOINED item waits for the next flush
                relay.accept_join(room.welcome(name))
            elif isinstance(event, proto.MessagesSubmitted):
                room.submit("alice", event.envelopes)
                flushed = room.flush()
                if flushed is not None:
                    relay.send_raw(flushed)

    def to_client() -> list[proto.Event]:
        data = relay.data_to_send()
        wire.extend(("R→C", frame) for frame in _frames(data))
        client.receive_data(data)
        return client.events_received()

    client.initiate()
    for _ in range(4):  # hello/open → relay hello → pake → confirm → join → welcome
        to_relay()
        to_client()
    client.send_messages([(TEXT, client.new_message_id(), TIMESTAMP_MS)])
    to_relay()
    events = to_client()
    opened = [e for e in events if isinstance(e, proto.ChatOpened)]
    if [e.text for e in opened] != [TEXT]:
        raise AssertionError(f"the session did not deliver the message: {events!r}")

    # The handshake values, recomputed beside the protocol objects with the same inputs.
    bodies = {
        name: frame[4:] for name, frame in zip(_FRAME_NAMES, (f for _, f in wire), strict=True)
    }
    ch, co, rh = bodies["CLIENT_HELLO"], bodies["CLIENT_OPEN"], bodies["RELAY_HELLO"]
    idA, idB = identities(ROOM_ID)
    aad = pake_aad(ch, co, rh)
    pake = Spake2(
        Spake2Secret.from_access_key(keys.access),
        role=Role.A,
        identity_a=idA,
        identity_b=idB,
        aad=aad,
        random_scalar=lambda: X,
    )
    share_a = pake.start()
    relay_share = rh[1 + 2 + 16 + 32 + 32 : 1 + 2 + 16 + 32 + 32 + 65]
    confirmation_a = pake.finish(relay_share)
    tt = pake.transcript
    digest = hashlib.sha256(tt).digest()
    return {
        "description": (
            "SocketChat protocol v2: Alice joins an empty room and sends one message. "
            "All values are lowercase hex unless noted; frames include their 4-byte length."
        ),
        "inputs": {
            "password": PASSWORD,
            "room_id": ROOM_ID.hex(),
            "relay_identity_secret": RELAY_SECRET.hex(),
            "alice_identity_secret": ALICE_SECRET.hex(),
            "client_nonce": CLIENT_NONCE.hex(),
            "relay_nonce": RELAY_NONCE.hex(),
            "spake2_x": f"{X:064x}",
            "spake2_y": f"{Y:064x}",
            "broadcast_key": BROADCAST_KEY.hex(),
            "message_id": MESSAGE_ID.hex(),
            "timestamp_ms": TIMESTAMP_MS,
            "envelope_nonce": ENVELOPE_NONCE.hex(),
            "text": TEXT,
            "username": "alice",
        },
        "keys": {
            "master": master.hex(),
            "access": keys.access.hex(),
            "message": keys.message.hex(),
            "spake2_w": f"{Spake2Secret.from_access_key(keys.access).w:064x}",
            "relay_signing_public": relay_identity.signing_public.hex(),
            "alice_signing_public": alice.signing_public.hex(),
            "alice_dh_public": alice.dh_public.hex(),
        },
        "handshake": {
            "relay_hello_signed_hash": relay_hello_signed(ch, co, rh[:-64]).hex(),
            "pake_aad": aad.hex(),
            "pA": share_a.hex(),
            "pB": relay_share.hex(),
            "TT": tt.hex(),
            "Ke": digest[:16].hex(),
            "Ka": digest[16:].hex(),
            "cA": confirmation_a.hex(),
            "transcript_hash": transcript_hash(pake).hex(),
        },
        "frames": [
            {"name": name, "direction": direction, "hex": frame.hex()}
            for name, (direction, frame) in zip(_FRAME_NAMES, wire, strict=True)
        ],
    }


#: The frames of the session, in wire order.
_FRAME_NAMES = (
    "CLIENT_HELLO",
    "CLIENT_OPEN",
    "RELAY_HELLO",
    "CLIENT_PAKE",
    "RELAY_CONFIRM",
    "JOIN",
    "WELCOME",
    "CHAT",
    "BROADCAST",
)
