"""The protocol's known-answer vectors (tests/net/vectors.json, docs/PROTOCOL.md §9).

Two kinds of check:

* the implementation still produces exactly the stored session (a change to any byte on the
  wire fails here, and must then be deliberate: rerun tools/make_vectors.py and update the
  document);
* every stored value is recomputed from the document's formulas with the standard library and
  the stdlib reference primitives of tests/crypto/_reference.py (ChaCha20-Poly1305, XChaCha20,
  Ed25519, HKDF), sharing no code with crypto/ or pycryptodome — so the document, the vectors and
  the code cannot all be wrong the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import unicodedata
from pathlib import Path

import pytest

from tests.crypto._reference import (
    chacha20_poly1305_seal,
    ed_public,
    ed_sign,
    hkdf_sha256,
    xchacha20_poly1305_seal,
)
from tests.net.vector_builder import build

VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))
INPUTS, KEYS, HANDSHAKE = VECTORS["inputs"], VECTORS["keys"], VECTORS["handshake"]
FRAMES = {frame["name"]: bytes.fromhex(frame["hex"]) for frame in VECTORS["frames"]}
ROOM_ID = bytes.fromhex(INPUTS["room_id"])
RELAY_SEED = bytes.fromhex(INPUTS["relay_identity_secret"])[:32]
ALICE_SEED = bytes.fromhex(INPUTS["alice_identity_secret"])[:32]
ALICE_DH = bytes.fromhex(KEYS["alice_dh_public"])


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def derive(key: bytes, purpose: str, context: bytes = b"") -> bytes:
    info = b"SocketChat v2|" + purpose.encode() + b"|" + context
    return hkdf_sha256(key, salt=b"", info=info, length=32)


def signature(seed: bytes, context: str, message: bytes) -> bytes:
    return ed_sign(seed, b"SocketChat v2 signature|" + context.encode() + b"|" + message)


def body(name: str) -> bytes:
    frame = FRAMES[name]
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    return frame[4:]


def unicast(key: bytes, counter: int, frame_type: int, payload: bytes) -> bytes:
    nonce = bytes(4) + struct.pack(">Q", counter)
    return bytes([frame_type]) + chacha20_poly1305_seal(key, nonce, payload, bytes([frame_type]))


def str8(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data)]) + data


@pytest.mark.slow
def test_the_implementation_reproduces_the_stored_session():
    assert build() == VECTORS


def test_room_keys_from_the_password():
    password = unicodedata.normalize("NFKC", INPUTS["password"]).encode()
    master = hashlib.scrypt(password, salt=ROOM_ID, n=2**17, r=8, p=1, dklen=32, maxmem=2**28)
    assert master.hex() == KEYS["master"]
    assert derive(master, "access").hex() == KEYS["access"]
    assert derive(master, "message").hex() == KEYS["message"]
    access = bytes.fromhex(KEYS["access"])
    w = int.from_bytes(
        hkdf_sha256(access, salt=b"", info=b"SocketChat v2|spake2 w|", length=48), "big"
    )
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    assert f"{w % n:064x}" == KEYS["spake2_w"]


def test_identity_keys():
    assert ed_public(RELAY_SEED).hex() == KEYS["relay_signing_public"]
    assert ed_public(ALICE_SEED).hex() == KEYS["alice_signing_public"]


def test_client_opening():
    assert body("CLIENT_HELLO") == b"\x01SocketChat\x01\x00\x02"
    assert FRAMES["CLIENT_HELLO"].hex() == "0000000e01536f636b6574436861740100" + "02"
    assert body("CLIENT_OPEN") == b"\x09" + bytes(16) + bytes.fromhex(INPUTS["client_nonce"])
    # The room id a load balancer reads: offset 23 of the client's stream, 16 bytes (here the
    # default room, all zero, since Alice typed only host, port and password).
    stream = FRAMES["CLIENT_HELLO"] + FRAMES["CLIENT_OPEN"]
    assert stream[23:39] == bytes(16)


def test_relay_hello_and_its_signature():
    rh = body("RELAY_HELLO")
    assert rh[0] == 0x02 and rh[1:3] == b"\x00\x02"
    assert rh[3:19] == ROOM_ID
    assert rh[19:51].hex() == KEYS["relay_signing_public"]
    assert rh[51:83].hex() == INPUTS["relay_nonce"]
    assert rh[83:148].hex() == HANDSHAKE["pB"]
    signed = h(body("CLIENT_HELLO") + body("CLIENT_OPEN") + rh[:-64])
    assert signed.hex() == HANDSHAKE["relay_hello_signed_hash"]
    assert rh[-64:] == signature(RELAY_SEED, "relay hello", signed)
    assert h(body("CLIENT_HELLO") + body("CLIENT_OPEN") + rh).hex() == HANDSHAKE["pake_aad"]


def test_spake2_transcript_and_confirmations():
    tt = bytes.fromhex(HANDSHAKE["TT"])
    idA, idB = b"SocketChat/2 client", b"SocketChat/2 relay " + ROOM_ID.hex().encode()
    pA, pB = bytes.fromhex(HANDSHAKE["pA"]), bytes.fromhex(HANDSHAKE["pB"])
    w = bytes.fromhex(KEYS["spake2_w"])
    # TT = len‖idA ‖ len‖idB ‖ len‖pA ‖ len‖pB ‖ len‖K ‖ len‖w, u64 little-endian lengths.
    pos, fields = 0, []
    while pos < len(tt):
        (size,) = struct.unpack_from("<Q", tt, pos)
        fields.append(tt[pos + 8 : pos + 8 + size])
        pos += 8 + size
    assert [fields[i] for i in (0, 1, 2, 3, 5)] == [idA, idB, pA, pB, w]
    assert len(fields[4]) == 65 and fields[4][0] == 4  # K, an uncompressed point
    digest = h(tt)
    assert (digest[:16].hex(), digest[16:].hex()) == (HANDSHAKE["Ke"], HANDSHAKE["Ka"])
    aad = bytes.fromhex(HANDSHAKE["pake_aad"])
    kc = hkdf_sha256(digest[16:], salt=b"", info=b"ConfirmationKeys" + aad, length=32)
    client_confirmation = hmac.new(kc[:16], tt, hashlib.sha256).digest()
    relay_confirmation = hmac.new(kc[16:], tt, hashlib.sha256).digest()
    assert client_confirmation.hex() == HANDSHAKE["cA"]
    assert body("CLIENT_PAKE") == b"\x03" + pA + client_confirmation
    assert body("RELAY_CONFIRM") == b"\x06" + relay_confirmation
    assert h(tt).hex() == HANDSHAKE["transcript_hash"]


def _transport_keys() -> tuple[bytes, bytes]:
    ke, tt_hash = bytes.fromhex(HANDSHAKE["Ke"]), bytes.fromhex(HANDSHAKE["transcript_hash"])
    return (
        derive(ke, "transport client to relay", tt_hash),
        derive(ke, "transport relay to client", tt_hash),
    )


def test_join_frame_and_its_proof():
    to_relay, _ = _transport_keys()
    signing = bytes.fromhex(KEYS["alice_signing_public"])
    proof_message = (
        bytes.fromhex(HANDSHAKE["transcript_hash"]) + ROOM_ID + str8("alice") + signing + ALICE_DH
    )
    proof = signature(ALICE_SEED, "join", proof_message)
    payload = str8("alice") + signing + ALICE_DH + proof
    assert body("JOIN") == unicast(to_relay, 0, 0x10, payload)


def _envelope() -> bytes:
    signing = bytes.fromhex(KEYS["alice_signing_public"])
    message_id = bytes.fromhex(INPUTS["message_id"])
    text = INPUTS["text"].encode()
    counters = struct.pack(">QQ", 1, INPUTS["timestamp_ms"])
    signed = (
        ROOM_ID
        + message_id
        + struct.pack(">I", 0)
        + str8("alice")
        + signing
        + counters
        + str8("text/plain")
        + struct.pack(">I", len(text))
        + text
    )
    plaintext = (
        signing
        + counters
        + str8("text/plain")
        + struct.pack(">I", len(text))
        + text
        + signature(ALICE_SEED, "message", signed)
    )
    aad = b"SocketChat v2 message" + ROOM_ID + message_id + struct.pack(">I", 0) + str8("alice")
    nonce = bytes.fromhex(INPUTS["envelope_nonce"])
    sealed = xchacha20_poly1305_seal(bytes.fromhex(KEYS["message"]), nonce, plaintext, aad)
    return message_id + struct.pack(">I", 0) + nonce + sealed


def test_welcome_chat_and_broadcast_frames():
    to_relay, to_client = _transport_keys()
    member = str8("alice") + bytes.fromhex(KEYS["alice_signing_public"]) + ALICE_DH + b"\x00"
    broadcast_key = bytes.fromhex(INPUTS["broadcast_key"])
    # The first broadcast is seq 1; it carries the joiner's own JOINED item, then her message.
    welcome = (
        str8("alice")
        + struct.pack(">H", 1)
        + member
        + broadcast_key
        + struct.pack(">QIH", 1, 4000, 0)
    )
    assert body("WELCOME") == unicast(to_client, 0, 0x11, welcome)
    envelope = _envelope()
    chat = struct.pack(">HI", 1, len(envelope)) + envelope
    assert body("CHAT") == unicast(to_relay, 1, 0x12, chat)
    items = struct.pack(">H", 2) + b"\x02" + member
    items += b"\x01" + str8("alice") + struct.pack(">I", len(envelope)) + envelope
    nonce = bytes(4) + struct.pack(">Q", 1)
    sealed = chacha20_poly1305_seal(broadcast_key, nonce, items, b"\x20")
    assert body("BROADCAST") == b"\x20" + struct.pack(">Q", 1) + sealed
