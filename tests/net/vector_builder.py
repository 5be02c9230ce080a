"""Known-answer vectors for docs/PROTOCOL.md, section 9: fixed inputs → every derived value.

:func:`build` runs one complete session through the real protocol core (ClientProtocol,
RelayProtocol, Keyring and Room in memory, with a relay driver written out here) with every
random input fixed:

1. Alice joins the empty room (asking for the default room) and sends "Hello, room!" under
   her first sender key (epoch 1); the relay stores it (position 1), broadcasts it and
   acknowledges it to her (ACK);
2. Bob joins by the room's id; his WELCOME holds Alice's message, locked for him, so he asks
   for her key (WANT); the relay broadcasts the request (WANTED) with his JOINED item, Alice
   answers with a share of her epoch 1 key (SHARES), the relay hands it to Bob (SHARE) and
   Bob opens the message;
3. Bob leaves (GOODBYE); the next message Alice sends goes under a fresh random key, epoch 2
   (stored at position 2, acknowledged).

It returns the inputs, the keys derived from them, the handshake values of both connections,
the sender keys and message keys (with the ratchet step Alice would have taken had Bob only
arrived), the share with its HPKE values, the envelopes, and every frame exactly as it crossed
the wire, all in hex. ``tools/make_vectors.py`` writes it to ``tests/net/vectors.json``;
``tests/net/test_vectors.py`` rebuilds it and also recomputes the values with the standard
library and the stdlib reference primitives in tests/crypto.

pycryptodome's HPKE makes its ephemeral X25519 key itself; :func:`_fixed_hpke` hands its
(private, pinned-version) ``_encap`` a fixed one instead and records the shared secret, key and
nonce it derives, so the share is reproducible and its intermediate values can be shown.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from Crypto.Protocol import HPKE
from Crypto.Protocol.DH import import_x25519_private_key

from crypto import aead
from crypto import epoch as sk
from crypto.envelope import message_aad
from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive, derive_room_keys, master_key
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from net import proto
from net.proto._frames import FrameType
from net.proto._transcript import pake_aad, relay_hello_signed, transcript_hash
from net.relay.roomfile import RoomSecret

PASSWORD = "correct horse battery staple"
ROOM_ID = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
RELAY_SECRET = hashlib.sha512(b"SocketChat vector: relay").digest()
ALICE_SECRET = hashlib.sha512(b"SocketChat vector: alice").digest()
BOB_SECRET = hashlib.sha512(b"SocketChat vector: bob").digest()
BROADCAST_KEY = bytes(range(128, 160))


def _scalar(label: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"SocketChat vector: " + label).digest(), "big") % (2**255)


#: Per connection: the nonces and SPAKE2 scalars, and the room the client asks for.
CONNECTIONS: dict[str, dict[str, Any]] = {
    "alice": {
        "client_nonce": bytes(range(32, 64)),
        "relay_nonce": bytes(range(64, 96)),
        "spake2_x": _scalar(b"x"),
        "spake2_y": _scalar(b"y"),
        "requested_room": proto.DEFAULT_ROOM,  # she typed host, port and password only
    },
    "bob": {
        "client_nonce": hashlib.sha256(b"SocketChat vector: bob client nonce").digest(),
        "relay_nonce": hashlib.sha256(b"SocketChat vector: bob relay nonce").digest(),
        "spake2_x": _scalar(b"bob x"),
        "spake2_y": _scalar(b"bob y"),
        "requested_room": ROOM_ID,  # he came with an invite
    },
}
#: Alice's two messages: before Bob arrives (epoch 1) and after he left (epoch 2, fresh key).
MESSAGES: tuple[dict[str, Any], ...] = (
    {
        "message_id": bytes(range(16)),
        "timestamp_ms": 1_795_000_000_000,
        "envelope_nonce": bytes(range(100, 124)),
        "text": "Hello, room!",
    },
    {
        "message_id": bytes(range(16, 32)),
        "timestamp_ms": 1_795_000_060_000,
        "envelope_nonce": bytes(range(124, 148)),
        "text": "Bob has left.",
    },
)
#: Alice's sender keys, as Keyring(new_key=...) makes them: epoch 1, then epoch 2 after Bob left.
SENDER_KEY_1 = bytes(range(0xA0, 0xC0))
SENDER_KEY_2 = bytes(range(0xC0, 0xE0))
#: The ephemeral X25519 private key of the HPKE sealing in Alice's share to Bob.
SHARE_EPHEMERAL = bytes(range(0xE0, 0x100))
GOODBYE_TEXT = "bye"


def _supplier(*values: bytes) -> Callable[[int], bytes]:
    queue = deque(values)

    def random_bytes(size: int) -> bytes:
        if not queue:
            raise AssertionError(f"asked for {size} random bytes the vector does not have")
        value = queue.popleft()
        if len(value) != size:
            raise AssertionError(f"asked for {size} random bytes, the vector has {len(value)}")
        return value

    return random_bytes


def _keys_supplier(*keys: bytes) -> Callable[[], bytes]:
    queue = deque(keys)

    def new_key() -> bytes:
        if not queue:
            raise AssertionError("asked for a sender key the vector does not have")
        return queue.popleft()

    return new_key


@contextmanager
def _fixed_hpke(*ephemerals: bytes) -> Iterator[list[dict[str, bytes]]]:
    """While active, each HPKE sealing uses the next of ``ephemerals`` as its ephemeral X25519
    key; yields a list that receives each sealing's ``enc``, shared secret, key and nonce."""
    queue = deque(ephemerals)
    sealed: list[dict[str, bytes]] = []
    encap, key_schedule = HPKE.HPKE_Cipher._encap, HPKE.HPKE_Cipher._key_schedule

    def fixed_encap(
        receiver_key: Any, kem_id: int, hashmod: Any, sender_key: Any = None, eph_key: Any = None
    ) -> tuple[bytes, bytes]:
        if eph_key is not None or not queue:
            raise AssertionError("an HPKE sealing the vector has no ephemeral key for")
        ephemeral = import_x25519_private_key(queue.popleft())
        shared_secret, enc = encap(receiver_key, kem_id, hashmod, sender_key, ephemeral)
        sealed.append({"enc": enc, "shared_secret": shared_secret})
        return shared_secret, enc

    def recording_key_schedule(
        self: Any, shared_secret: bytes, info: bytes, psk_id: bytes, psk: bytes
    ) -> tuple[bytes, bytes, bytes]:
        key, base_nonce, exporter = key_schedule(self, shared_secret, info, psk_id, psk)
        if self._encrypt:
            sealed[-1].update(key=key, base_nonce=base_nonce)
        return key, base_nonce, exporter

    with (
        mock.patch.object(HPKE.HPKE_Cipher, "_encap", staticmethod(fixed_encap)),
        mock.patch.object(HPKE.HPKE_Cipher, "_key_schedule", recording_key_schedule),
    ):
        yield sealed
    if queue:
        raise AssertionError("an ephemeral key of the vector was not used")


def _frames(data: bytes) -> list[bytes]:
    frames, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        frames.append(data[pos : pos + 4 + length])
        pos += 4 + length
    return frames


class _Session:
    """The relay side of the session, written out as net/relay's driver does it: one Room,
    one RelayProtocol per connection; bytes are moved by hand and every frame is recorded."""

    def __init__(self, keys: RoomKeys, relay_identity: Identity) -> None:
        self.secret = RoomSecret.from_room_keys(keys, relay_identity=relay_identity)
        self.room: proto.Room[proto.RelayProtocol] = proto.Room(broadcast_key=BROADCAST_KEY)
        self.pairs: dict[str, tuple[proto.ClientProtocol, proto.RelayProtocol]] = {}
        self.wire: list[tuple[str, str, bytes]] = []  # (connection, direction, frame)
        self.shares: list[tuple[bytes, bytes, bytes]] = []  # (distributor, recipient, share)

    def connect(self, name: str, client: proto.ClientProtocol) -> None:
        inputs = CONNECTIONS[name]
        relay = proto.RelayProtocol(
            random_bytes=_supplier(inputs["relay_nonce"]),
            random_scalar=lambda: inputs["spake2_y"],
        )
        self.pairs[name] = (client, relay)
        client.initiate()

    def to_relay(self, name: str) -> None:
        client, relay = self.pairs[name]
        data = client.data_to_send()
        self.wire.extend((name, "C→R", frame) for frame in _frames(data))
        relay.receive_data(data)
        for event in relay.events_received():
            if isinstance(event, proto.RoomRequested):
                relay.select_room(self.secret.credentials)
            elif isinstance(event, proto.JoinRequested):
                username = self.room.check_join(event.username, event.signing_key)
                info = proto.MemberInfo(
                    name=username,
                    signing_key=event.signing_key,
                    dh_key=event.dh_key,
                    tag=event.tag,
                )
                self.room.join(info, relay)  # its JOINED item waits for the next flush
                relay.accept_join(self.room.welcome(username, resume_after=event.resume_after))
            elif isinstance(event, proto.MessagesSubmitted):
                self.room.submit(name, event.envelopes)
                self.flush()
            elif isinstance(event, proto.KeysWanted):
                self.room.want(name, event.payload)
                self.flush()
            elif isinstance(event, proto.SharesSubmitted):
                distributor = self.room.signing_key_of(name)
                assert distributor is not None
                for recipient, share in event.shares:
                    self.shares.append((distributor, bytes(recipient), bytes(share)))
                    target = self.room.handle_of_identity(recipient)
                    if target is not None and recipient != distributor:
                        target.send_share(distributor, share)
            elif isinstance(event, proto.GoodbyeReceived):
                self.room.leave(name, proto.Reason.LEAVING, handle=relay)
                self.flush()
            elif isinstance(event, proto.ProtocolViolation):
                raise AssertionError(f"the relay saw a violation from {name}: {event!r}")
        if relay.state is not proto.RelayState.JOINED and self.room.handle_of(name) is relay:
            raise AssertionError(f"{name}'s connection ended unexpectedly")

    def flush(self) -> None:
        data = self.room.flush()
        if data is not None:
            for relay in self.room.handles():
                relay.send_raw(data)
        for sender, message_ids in self.room.take_acks():  # stored: after the broadcast
            sender.send_ack(message_ids)

    def to_client(self, name: str) -> list[proto.Event]:
        client, relay = self.pairs[name]
        data = relay.data_to_send()
        self.wire.extend((name, "R→C", frame) for frame in _frames(data))
        client.receive_data(data)
        events = client.events_received()
        failed = [e for e in events if isinstance(e, proto.ProtocolViolation)]
        if failed:
            raise AssertionError(f"{name}'s client saw a violation: {failed!r}")
        return events

    def handshake(self, name: str) -> list[proto.Event]:
        """hello/open → relay hello → pake → confirm → join → welcome (and what it sends)."""
        events = []
        for _ in range(3):
            self.to_relay(name)
            events += self.to_client(name)
        return events


def _opened(events: list[proto.Event]) -> list[tuple[str, int, bool]]:
    return [(e.text, e.epoch, e.from_history) for e in events if isinstance(e, proto.ChatOpened)]


def _frame_names(wire: list[tuple[str, str, bytes]]) -> list[str]:
    """A name per frame, unique per connection: the frame type, BROADCAST with its seq, a
    repeated type numbered from its second occurrence (CHAT, CHAT 2)."""
    names: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for connection, _, frame in wire:
        name = FrameType(frame[4]).name
        if name == "BROADCAST":
            name = f"BROADCAST {int.from_bytes(frame[5:13], 'big')}"
        else:
            count = seen[connection, name] = seen.get((connection, name), 0) + 1
            if count > 1:
                name = f"{name} {count}"
        names.append(name)
    return names


def _handshake_values(keys: RoomKeys, bodies: dict[str, bytes], x: int) -> dict[str, str]:
    """The handshake values, recomputed beside the protocol objects with the same inputs."""
    ch, co, rh = bodies["CLIENT_HELLO"], bodies["CLIENT_OPEN"], bodies["RELAY_HELLO"]
    idA, idB = identities(ROOM_ID)
    aad = pake_aad(ch, co, rh)
    pake = Spake2(
        Spake2Secret.from_access_key(keys.access),
        role=Role.A,
        identity_a=idA,
        identity_b=idB,
        aad=aad,
        random_scalar=lambda: x,
    )
    share_a = pake.start()
    relay_share = rh[1 + 2 + 16 + 32 + 32 : 1 + 2 + 16 + 32 + 32 + 65]
    confirmation_a = pake.finish(relay_share)
    tt = pake.transcript
    digest = hashlib.sha256(tt).digest()
    return {
        "relay_hello_signed_hash": relay_hello_signed(ch, co, rh[:-64]).hex(),
        "pake_aad": aad.hex(),
        "pA": share_a.hex(),
        "pB": relay_share.hex(),
        "TT": tt.hex(),
        "Ke": digest[:16].hex(),
        "Ka": digest[16:].hex(),
        "cA": confirmation_a.hex(),
        "transcript_hash": transcript_hash(pake).hex(),
    }


def build() -> dict[str, Any]:
    """The whole vector set, as JSON-ready strings."""
    keys = derive_room_keys(PASSWORD, room_id=ROOM_ID)
    master = master_key(PASSWORD, salt=ROOM_ID)
    relay_identity = Identity.from_secret(RELAY_SECRET)
    alice = Identity.from_secret(ALICE_SECRET)
    bob = Identity.from_secret(BOB_SECRET)
    me, you = alice.signing_public, bob.signing_public
    first, second = MESSAGES
    session = _Session(keys, relay_identity)

    def client(
        name: str, identity: Identity, *random: bytes, **keyring: Any
    ) -> proto.ClientProtocol:
        inputs = CONNECTIONS[name]
        return proto.ClientProtocol(
            username=name,
            identity=identity,
            keys=keys,
            room_id=inputs["requested_room"],
            keyring=proto.Keyring(identity, **keyring),
            random_bytes=_supplier(inputs["client_nonce"], *random),
            random_scalar=lambda: inputs["spake2_x"],
        )

    alice_client = client(
        "alice",
        alice,
        first["message_id"],
        first["envelope_nonce"],
        second["message_id"],
        second["envelope_nonce"],
        new_key=_keys_supplier(SENDER_KEY_1, SENDER_KEY_2),
    )
    bob_client = client("bob", bob, new_key=_keys_supplier())  # Bob sends no message

    with _fixed_hpke(SHARE_EPHEMERAL) as hpke_sealings:
        # 1. Alice joins and sends under epoch 1.
        session.connect("alice", alice_client)
        session.handshake("alice")
        alice_client.send_messages(
            [(first["text"], alice_client.new_message_id(), first["timestamp_ms"])]
        )
        session.to_relay("alice")
        if _opened(session.to_client("alice")) != [(first["text"], 1, False)]:
            raise AssertionError("Alice's first message did not come back to her")
        # 2. Bob joins: the message in his WELCOME is locked; WANT → WANTED → SHARES → SHARE.
        session.connect("bob", bob_client)
        welcomed = session.handshake("bob")
        history = [h for e in welcomed if isinstance(e, proto.Welcomed) for h in e.history]
        if not [h for h in history if isinstance(h, proto.ChatLocked)]:
            raise AssertionError("Bob's history item was not locked")
        session.to_relay("bob")  # WANT; the relay broadcasts it with Bob's JOINED item
        session.to_client("bob")
        session.to_client("alice")  # she answers the WANTED item
        session.to_relay("alice")  # SHARES; the relay hands Bob his share
        if _opened(session.to_client("bob")) != [(first["text"], 1, True)]:
            raise AssertionError("Bob did not open Alice's message with the share")
        # 3. Bob leaves; Alice's next message goes under a fresh key (epoch 2).
        bob_client.send_goodbye(proto.Reason.LEAVING, GOODBYE_TEXT)
        session.to_relay("bob")
        if not any(isinstance(e, proto.MemberDeparted) for e in session.to_client("alice")):
            raise AssertionError("Alice did not see Bob leave")
        alice_client.send_messages(
            [(second["text"], alice_client.new_message_id(), second["timestamp_ms"])]
        )
        session.to_relay("alice")
        if _opened(session.to_client("alice")) != [(second["text"], 2, False)]:
            raise AssertionError("Alice's second message did not go under a fresh epoch 2")

    names = _frame_names(session.wire)
    if names != _FRAME_NAMES:
        raise AssertionError(f"the session's frames changed: {names}")
    bodies = {
        (connection, name): frame[4:]
        for name, (connection, _, frame) in zip(names, session.wire, strict=True)
    }
    handshakes = {
        name: _handshake_values(
            keys,
            {
                frame: bodies[name, frame]
                for frame in ("CLIENT_HELLO", "CLIENT_OPEN", "RELAY_HELLO")
            },
            CONNECTIONS[name]["spake2_x"],
        )
        for name in ("alice", "bob")
    }

    # Sender keys: epoch 1; the ratchet step to epoch 2 that Alice would have taken had Bob
    # only arrived; the fresh epoch 2 key she took because he left.
    def message_key(sender_key: bytes, epoch: int) -> str:
        return sk.message_key(sender_key, room_id=ROOM_ID, signing_key=me, epoch=epoch).hex()

    ratchet_2 = sk.next_sender_key(SENDER_KEY_1, room_id=ROOM_ID, signing_key=me, epoch=1)

    # The share: the only one of the session, Alice's epoch 1 key to Bob.
    [(distributor, recipient, share)] = session.shares
    [sealing] = hpke_sealings
    if (distributor, recipient) != (me, you):
        raise AssertionError("the share went another way than Alice to Bob")
    opened = sk.open_share(bob, share, distributor=me, room_id=ROOM_ID, member_key=keys.member)
    if (opened.owner, opened.epoch, opened.sender_key) != (me, 1, SENDER_KEY_1):
        raise AssertionError("the share does not hold Alice's epoch 1 key")
    sealed = share[36:116]
    if sealed[:32] != sealing["enc"]:
        raise AssertionError("the share was not sealed with the fixed ephemeral key")

    # The envelopes as sent: the relay's history keeps each CHAT item (kind, sender, length,
    # envelope). The plaintext is shown too, opened with the implementation's AEAD.
    messages = []
    for message, item, (sender_key, epoch) in zip(
        MESSAGES, session.room.history, ((SENDER_KEY_1, 1), (SENDER_KEY_2, 2)), strict=True
    ):
        prefix = b"\x01\x05alice"
        if item[: len(prefix)] != prefix:
            raise AssertionError("a history item that is not Alice's message")
        envelope = item[len(prefix) + 4 :]
        aad = message_aad(
            room_id=ROOM_ID,
            message_id=message["message_id"],
            signing_key=me,
            epoch=epoch,
            sender="alice",
        )
        key = sk.message_key(sender_key, room_id=ROOM_ID, signing_key=me, epoch=epoch)
        plaintext = aead.open_random(key, envelope[52:], aad=aad)
        messages.append(
            {
                "epoch": epoch,
                "aad": aad.hex(),
                "plaintext": plaintext.hex(),
                "envelope": envelope.hex(),
            }
        )

    return {
        "description": (
            "SocketChat protocol v2: Alice joins an empty room and sends one message, which "
            "the relay stores and acknowledges; Bob joins, asks for her sender key and "
            "receives a share of it; Bob leaves and Alice sends again under a fresh epoch. "
            "All values are lowercase hex unless noted; frames include their 4-byte length."
        ),
        "inputs": {
            "password": PASSWORD,
            "room_id": ROOM_ID.hex(),
            "relay_identity_secret": RELAY_SECRET.hex(),
            "alice_identity_secret": ALICE_SECRET.hex(),
            "bob_identity_secret": BOB_SECRET.hex(),
            "broadcast_key": BROADCAST_KEY.hex(),
            "connections": {
                name: {
                    "username": name,
                    "requested_room": inputs["requested_room"].hex(),
                    "client_nonce": inputs["client_nonce"].hex(),
                    "relay_nonce": inputs["relay_nonce"].hex(),
                    "spake2_x": f"{inputs['spake2_x']:064x}",
                    "spake2_y": f"{inputs['spake2_y']:064x}",
                }
                for name, inputs in CONNECTIONS.items()
            },
            "messages": [
                {
                    "message_id": message["message_id"].hex(),
                    "timestamp_ms": message["timestamp_ms"],
                    "envelope_nonce": message["envelope_nonce"].hex(),
                    "text": message["text"],
                }
                for message in MESSAGES
            ],
            "alice_sender_key_1": SENDER_KEY_1.hex(),
            "alice_sender_key_2": SENDER_KEY_2.hex(),
            "share_ephemeral_secret": SHARE_EPHEMERAL.hex(),
            "goodbye_text": GOODBYE_TEXT,
        },
        "keys": {
            "master": master.hex(),
            "access": keys.access.hex(),
            "member": keys.member.hex(),
            "spake2_w": f"{Spake2Secret.from_access_key(keys.access).w:064x}",
            "membership_key": derive(keys.member, "membership").hex(),
            "share_psk": derive(keys.member, "epoch key psk").hex(),
            "relay_signing_public": relay_identity.signing_public.hex(),
            "alice_signing_public": me.hex(),
            "alice_dh_public": alice.dh_public.hex(),
            "alice_tag": sk.membership_tag(
                keys.member, room_id=ROOM_ID, signing_key=me, dh_key=alice.dh_public
            ).hex(),
            "bob_signing_public": you.hex(),
            "bob_dh_public": bob.dh_public.hex(),
            "bob_tag": sk.membership_tag(
                keys.member, room_id=ROOM_ID, signing_key=you, dh_key=bob.dh_public
            ).hex(),
        },
        "handshake": handshakes,
        "sender_keys": {
            "epoch_1": {
                "sender_key": SENDER_KEY_1.hex(),
                "message_key": message_key(SENDER_KEY_1, 1),
            },
            "ratchet_epoch_2": {
                "sender_key": ratchet_2.hex(),
                "message_key": message_key(ratchet_2, 2),
            },
            "fresh_epoch_2": {
                "sender_key": SENDER_KEY_2.hex(),
                "message_key": message_key(SENDER_KEY_2, 2),
            },
        },
        "messages": messages,
        "share": {
            "distributor": me.hex(),
            "owner": share[:32].hex(),
            "epoch": int.from_bytes(share[32:36], "big"),
            "recipient": recipient.hex(),
            "info": (b"SocketChat v2 sender key|" + ROOM_ID + me + (1).to_bytes(4, "big")).hex(),
            "aad": (you + me).hex(),
            "psk_id": "SocketChat v2 room",
            "enc": sealing["enc"].hex(),
            "shared_secret": sealing["shared_secret"].hex(),
            "key": sealing["key"].hex(),
            "base_nonce": sealing["base_nonce"].hex(),
            "sealed": sealed.hex(),
            "signature": share[116:].hex(),
            "share": share.hex(),
        },
        "frames": [
            {"connection": connection, "name": name, "direction": direction, "hex": frame.hex()}
            for name, (connection, direction, frame) in zip(names, session.wire, strict=True)
        ],
    }


#: The frames of the session, in wire order (the connection of each is in the file).
_FRAME_NAMES = [
    *("CLIENT_HELLO", "CLIENT_OPEN", "RELAY_HELLO", "CLIENT_PAKE", "RELAY_CONFIRM", "JOIN"),
    *("WELCOME", "CHAT", "BROADCAST 1", "ACK"),
    *("CLIENT_HELLO", "CLIENT_OPEN", "RELAY_HELLO", "CLIENT_PAKE", "RELAY_CONFIRM", "JOIN"),
    *("WELCOME", "WANT", "BROADCAST 2", "BROADCAST 2", "SHARES", "SHARE", "GOODBYE"),
    *("BROADCAST 3", "CHAT 2", "BROADCAST 4", "ACK 2"),
]
