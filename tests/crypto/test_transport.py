"""crypto.transport: per-connection frame keys (counter nonces) and the room broadcast key.

Groups: API misuse; call order and the permanent failed state (replay, reorder, drop, tamper);
known answers (the frame layout equals ChaCha20-Poly1305 with the spec's nonce and AAD, computed
here both by a direct pycryptodome call and by the stdlib reference in _reference.py).
"""

from __future__ import annotations

import hashlib

import pytest
from Crypto.Cipher import ChaCha20_Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import AuthenticationError
from crypto.spake2 import Role, Spake2, Spake2Secret, identities
from crypto.transport import (
    BROADCAST_KEY_SIZE,
    BroadcastOpener,
    BroadcastSealer,
    FrameOpener,
    FrameSealer,
    derive_transport_keys,
    new_broadcast_key,
)

from . import _reference as ref
from ._reference import flip

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
CHAT = 0x12
BROADCAST = 0x20
TAG = 16
# ChaCha20-Poly1305(key 00..1f, nonce 00000000 0000000000000001, AAD 12, "hello"), by the
# stdlib reference implementation.
FRAME1_HEX = "013910b55e567c43b7b07baf4c4a4d9a813a694878"


def _chacha(key: bytes, counter: int, frame_type: int, payload: bytes) -> bytes:
    """The v2 frame, spelled out: RFC 8439 with nonce 00000000 || u64be(counter), AAD = type."""
    nonce = bytes(4) + counter.to_bytes(8, "big")
    cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    cipher.update(bytes([frame_type]))
    ct, tag = cipher.encrypt_and_digest(payload)
    return ct + tag


def _reference_frame(key: bytes, counter: int, frame_type: int, payload: bytes) -> bytes:
    nonce = bytes(4) + counter.to_bytes(8, "big")
    return ref.chacha20_poly1305_seal(key, nonce, payload, bytes([frame_type]))


def channel(key: bytes = KEY):
    return FrameSealer(key), FrameOpener(key)


def assert_opener_dead(opener, frame_type, sealed):
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            opener.open(frame_type, sealed)


# --------------------------------------------------------------------------- API misuse


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33])
def test_wrong_key_size(size):
    for cls in (FrameSealer, FrameOpener):
        with pytest.raises(ValueError):
            cls(bytes(size))
    with pytest.raises(ValueError):
        BroadcastSealer(bytes(size))
    with pytest.raises(ValueError):
        BroadcastOpener(bytes(size), next_seq=1)


@pytest.mark.parametrize("frame_type", [-1, 256, 1000])
def test_frame_type_out_of_range(frame_type):
    with pytest.raises(ValueError):
        FrameSealer(KEY).seal(frame_type, b"x")
    with pytest.raises(ValueError):
        BroadcastSealer(KEY).seal(frame_type, b"x")


@pytest.mark.parametrize("frame_type", ["\x12", 1.5, None])
def test_frame_type_wrong_type(frame_type):
    with pytest.raises(TypeError):
        FrameSealer(KEY).seal(frame_type, b"x")


@pytest.mark.parametrize("payload", ["text", 5, None])
def test_payload_must_be_bytes(payload):
    # bytes(5) is five zero bytes: an int must not be sealed as if it were data.
    with pytest.raises(TypeError):
        FrameSealer(KEY).seal(CHAT, payload)
    with pytest.raises(TypeError):
        BroadcastSealer(KEY).seal(BROADCAST, payload)


def test_broadcast_opener_needs_next_seq():
    with pytest.raises(TypeError):
        BroadcastOpener(KEY)  # keyword-only and required: a member must be told where to start


@pytest.mark.parametrize("seq", [-1, 2**64, 2**70])
def test_broadcast_next_seq_out_of_range(seq):
    with pytest.raises((ValueError, OverflowError)):
        BroadcastSealer(KEY, next_seq=seq)
    with pytest.raises((ValueError, OverflowError)):
        BroadcastOpener(KEY, next_seq=seq)


def test_derive_transport_keys_rejects_short_session_key():
    with pytest.raises(ValueError):
        derive_transport_keys(bytes(8), transcript_hash=bytes(32))


# --------------------------------------------------------------------------- transport keys


def test_transport_keys_distinct_and_bound():
    session, th = bytes(range(16)), hashlib.sha256(b"TT").digest()
    c2s, s2c = derive_transport_keys(session, transcript_hash=th)
    assert len(c2s) == len(s2c) == 32
    assert c2s != s2c
    assert derive_transport_keys(session, transcript_hash=th) == (c2s, s2c)
    other_session = derive_transport_keys(flip(session, 0), transcript_hash=th)
    other_th = derive_transport_keys(session, transcript_hash=flip(th, 31))
    keys = {c2s, s2c, *other_session, *other_th}
    assert len(keys) == 6
    assert session not in (c2s[:16], s2c[:16])


def test_directions_do_not_cross():
    c2s, s2c = derive_transport_keys(bytes(range(16)), transcript_hash=bytes(32))
    frame = FrameSealer(c2s).seal(CHAT, b"hello")
    assert FrameOpener(c2s).open(CHAT, frame) == b"hello"
    with pytest.raises(AuthenticationError):
        FrameOpener(s2c).open(CHAT, frame)  # a frame reflected back to its sender fails


def test_handshake_to_transport_end_to_end():
    room = bytes(16)
    ida, idb = identities(room)
    secret = Spake2Secret.from_access_key(bytes(range(32)))
    aad = hashlib.sha256(b"hellos").digest()
    a = Spake2(secret, role=Role.A, identity_a=ida, identity_b=idb, aad=aad)
    b = Spake2(secret, role=Role.B, identity_a=ida, identity_b=idb, aad=aad)
    p_a = a.start()
    p_b = b.start()
    b_conf = b.finish(p_a)
    a_conf = a.finish(p_b)
    ke_b = b.verify(a_conf)
    ke_a = a.verify(b_conf)
    client = derive_transport_keys(ke_a, transcript_hash=hashlib.sha256(a.transcript).digest())
    relay = derive_transport_keys(ke_b, transcript_hash=hashlib.sha256(b.transcript).digest())
    assert client == relay
    c2s, s2c = client
    assert FrameOpener(c2s).open(0x10, FrameSealer(c2s).seal(0x10, b"\x05alice")) == b"\x05alice"
    assert FrameOpener(s2c).open(0x11, FrameSealer(s2c).seal(0x11, b"welcome")) == b"welcome"


# --------------------------------------------------------------------------- frames


def test_many_frames_round_trip():
    sealer, opener = channel()
    for i in range(300):
        payload = bytes([i % 256]) * (i % 37)
        frame_type = 0x10 + i % 7
        sealed = sealer.seal(frame_type, payload)
        assert len(sealed) == len(payload) + TAG
        assert opener.open(frame_type, sealed) == payload


def test_frames_match_spec_layout():
    # ciphertext || tag; nonce = 4 zero bytes || 8-byte big-endian counter from 0; AAD = type.
    sealer = FrameSealer(KEY)
    for counter, (frame_type, payload) in enumerate(
        [(0x10, b"\x05alice"), (0x12, b""), (0x13, bytes(8)), (0x12, b"x" * 100)]
    ):
        sealed = sealer.seal(frame_type, payload)
        assert sealed == _chacha(KEY, counter, frame_type, payload)
        assert sealed == _reference_frame(KEY, counter, frame_type, payload)


def test_frames_are_not_aes_gcm():
    # v2 replaced AES-256-GCM entirely: the same inputs under v1's cipher give other bytes.
    from Crypto.Cipher import AES

    cipher = AES.new(KEY, AES.MODE_GCM, nonce=bytes(12), mac_len=16)
    cipher.update(bytes([CHAT]))
    ct, tag = cipher.encrypt_and_digest(b"hello")
    assert FrameSealer(KEY).seal(CHAT, b"hello") != ct + tag


def test_frame_known_answer_hex():
    # Pinned from the stdlib reference (tests/crypto/_reference.py), itself checked against
    # RFC 8439 and Wycheproof in test_aead.py, so a change to nonce layout, AAD or cipher shows.
    sealer = FrameSealer(KEY)
    sealer.seal(0x10, b"")
    assert sealer.seal(0x12, b"hello") == bytes.fromhex(FRAME1_HEX)
    assert _reference_frame(KEY, 1, 0x12, b"hello") == bytes.fromhex(FRAME1_HEX)


def test_counter_is_never_sent():
    sealer = FrameSealer(KEY)
    frames = [sealer.seal(CHAT, b"") for _ in range(3)]
    assert all(len(f) == TAG for f in frames)  # nothing but the tag for an empty payload


def test_same_payload_twice_differs():
    sealer = FrameSealer(KEY)
    frames = {sealer.seal(CHAT, b"same text") for _ in range(20)}
    assert len(frames) == 20


def test_tampered_frame_fails_and_opener_stays_failed():
    sealer, opener = channel()
    first = sealer.seal(CHAT, b"first frame")
    second = sealer.seal(CHAT, b"second frame")
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, flip(first, 3))
    # The genuine frames can no longer be opened: the connection must close.
    assert_opener_dead(opener, CHAT, first)
    assert_opener_dead(opener, CHAT, second)


def test_every_byte_flip_fails():
    sealer = FrameSealer(KEY)
    frame = sealer.seal(CHAT, b"0123456789")
    for index in range(len(frame)):
        for mask in (0x01, 0x80):
            opener = FrameOpener(KEY)
            with pytest.raises(AuthenticationError):
                opener.open(CHAT, flip(frame, index, mask))
            assert_opener_dead(opener, CHAT, frame)


def test_replayed_frame_fails():
    sealer, opener = channel()
    f0, f1 = sealer.seal(CHAT, b"a"), sealer.seal(CHAT, b"b")
    assert opener.open(CHAT, f0) == b"a"
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, f0)
    assert_opener_dead(opener, CHAT, f1)


def test_reordered_frames_fail():
    sealer, opener = channel()
    f0, f1 = sealer.seal(CHAT, b"a"), sealer.seal(CHAT, b"b")
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, f1)
    assert_opener_dead(opener, CHAT, f0)


def test_dropped_frame_fails():
    sealer, opener = channel()
    sealer.seal(CHAT, b"dropped by the network")
    f1 = sealer.seal(CHAT, b"b")
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, f1)


@pytest.mark.parametrize("cut", [0, 1, 8, TAG - 1, TAG, TAG + 4])
def test_truncated_frame_fails(cut):
    sealer, opener = channel()
    frame = sealer.seal(CHAT, b"twenty bytes of text")
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, frame[:cut])
    assert_opener_dead(opener, CHAT, frame)


def test_extended_frame_fails():
    sealer, opener = channel()
    frame = sealer.seal(CHAT, b"text")
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, frame + b"\x00")
    assert_opener_dead(opener, CHAT, frame)


@pytest.mark.parametrize("wrong_type", [0x00, 0x13, 0x16, 0x20, 0x92, 0xFF])
def test_wrong_frame_type_fails(wrong_type):
    sealer, opener = channel()
    frame = sealer.seal(CHAT, b"text")
    with pytest.raises(AuthenticationError):
        opener.open(wrong_type, frame)
    assert_opener_dead(opener, CHAT, frame)


def test_wrong_key_fails():
    frame = FrameSealer(KEY).seal(CHAT, b"text")
    with pytest.raises(AuthenticationError):
        FrameOpener(OTHER).open(CHAT, frame)


def test_counter_overflow_guard():
    # 2**64 frames cannot be sent in a test, so the private counter is moved near its end.
    # The property: the sealer refuses (OverflowError) before any nonce could repeat, and
    # every frame it did seal used a distinct in-range nonce.
    sealer = FrameSealer(KEY)
    assert hasattr(sealer, "_counter"), "test reaches into FrameSealer._counter; update it"
    start = 2**64 - 3
    sealer._counter = start
    sealed = []
    with pytest.raises(OverflowError):
        for _ in range(4):
            sealed.append(sealer.seal(CHAT, b"x"))
    assert 1 <= len(sealed) <= 3
    for offset, frame in enumerate(sealed):
        assert frame == _chacha(KEY, start + offset, CHAT, b"x")
    for _ in range(3):  # stays exhausted; never wraps to counter 0
        with pytest.raises(OverflowError):
            sealer.seal(CHAT, b"x")
    assert sealer._counter < 2**64


def test_opener_at_end_of_counter_fails_cleanly():
    opener = FrameOpener(KEY)
    opener._counter = 2**64 - 1  # see test_counter_overflow_guard for why
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, bytes(TAG))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=500)), max_size=20))
def test_property_frames_round_trip(frames):
    sealer, opener = channel()
    for frame_type, payload in frames:
        assert opener.open(frame_type, sealer.seal(frame_type, payload)) == payload


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_property_any_flip_fails(payload, data):
    sealer, opener = channel()
    frame = sealer.seal(CHAT, payload)
    index = data.draw(st.integers(0, len(frame) - 1))
    mask = data.draw(st.integers(1, 255))
    with pytest.raises(AuthenticationError):
        opener.open(CHAT, flip(frame, index, mask))
    assert_opener_dead(opener, CHAT, frame)


# --------------------------------------------------------------------------- broadcasts


def test_new_broadcast_key():
    keys = {new_broadcast_key() for _ in range(20)}
    assert BROADCAST_KEY_SIZE == 32
    assert len(keys) == 20
    assert all(isinstance(k, bytes) and len(k) == 32 for k in keys)


def test_broadcast_matches_spec_layout():
    # u64be(seq) || ChaCha20-Poly1305(nonce = 00000000 || u64be(seq), AAD = type).
    sealer = BroadcastSealer(KEY, next_seq=2**40 + 5)
    for seq in range(2**40 + 5, 2**40 + 8):
        sealed = sealer.seal(BROADCAST, b"room text")
        assert sealed == seq.to_bytes(8, "big") + _chacha(KEY, seq, BROADCAST, b"room text")
        assert sealed[8:] == _reference_frame(KEY, seq, BROADCAST, b"room text")


def test_broadcast_in_order_and_layout():
    sealer = BroadcastSealer(KEY)
    assert sealer.next_seq == 1
    opener = BroadcastOpener(KEY, next_seq=sealer.next_seq)
    for i in range(1, 50):
        sealed = sealer.seal(BROADCAST, b"msg %d" % i)
        assert sealed[:8] == i.to_bytes(8, "big")
        assert len(sealed) == 8 + len(b"msg %d" % i) + TAG
        assert sealer.next_seq == i + 1
        assert opener.open(BROADCAST, sealed) == b"msg %d" % i


def test_one_seal_many_members():
    # The relay seals once and writes the same bytes to every member.
    key = new_broadcast_key()
    sealer = BroadcastSealer(key, next_seq=10)
    members = [BroadcastOpener(key, next_seq=10) for _ in range(50)]
    for text in (b"one", b"two", b"three"):
        sealed = sealer.seal(BROADCAST, text)
        assert {m.open(BROADCAST, sealed) for m in members} == {text}


def test_broadcast_gaps_allowed():
    sealer = BroadcastSealer(KEY)
    opener = BroadcastOpener(KEY, next_seq=1)
    frames = [sealer.seal(BROADCAST, bytes([i])) for i in range(10)]
    for i in (0, 3, 4, 9):  # a member may miss broadcasts (e.g. it joined mid-way)
        assert opener.open(BROADCAST, frames[i]) == bytes([i])


def test_late_joiner_starts_at_next_seq():
    sealer = BroadcastSealer(KEY)
    early = [sealer.seal(BROADCAST, b"before") for _ in range(3)]
    joiner = BroadcastOpener(KEY, next_seq=sealer.next_seq)
    later = sealer.seal(BROADCAST, b"after")
    with pytest.raises(AuthenticationError):
        joiner.open(BROADCAST, early[-1])
    joiner2 = BroadcastOpener(KEY, next_seq=sealer.next_seq - 1)
    assert joiner2.open(BROADCAST, later) == b"after"


@pytest.mark.parametrize("replay", ["same", "older"])
def test_broadcast_replay_or_older_rejected_permanently(replay):
    sealer = BroadcastSealer(KEY)
    opener = BroadcastOpener(KEY, next_seq=1)
    f1, f2, f3 = (sealer.seal(BROADCAST, b) for b in (b"1", b"2", b"3"))
    assert opener.open(BROADCAST, f1) == b"1"
    assert opener.open(BROADCAST, f2) == b"2"
    with pytest.raises(AuthenticationError):
        opener.open(BROADCAST, f2 if replay == "same" else f1)
    assert_opener_dead(opener, BROADCAST, f3)


def test_broadcast_seq_zero_and_below_start_rejected():
    sealer = BroadcastSealer(KEY, next_seq=0)
    f0 = sealer.seal(BROADCAST, b"zero")
    with pytest.raises(AuthenticationError):
        BroadcastOpener(KEY, next_seq=1).open(BROADCAST, f0)
    assert BroadcastOpener(KEY, next_seq=0).open(BROADCAST, f0) == b"zero"


def test_broadcast_tampered_rejected_permanently():
    sealer = BroadcastSealer(KEY)
    f1, f2 = sealer.seal(BROADCAST, b"hello room"), sealer.seal(BROADCAST, b"again")
    for index in range(8, len(f1)):  # ciphertext and tag
        opener = BroadcastOpener(KEY, next_seq=1)
        with pytest.raises(AuthenticationError):
            opener.open(BROADCAST, flip(f1, index))
        assert_opener_dead(opener, BROADCAST, f2)


def test_broadcast_seq_is_bound():
    sealer = BroadcastSealer(KEY, next_seq=100)
    frame = sealer.seal(BROADCAST, b"hello room")
    seq = int.from_bytes(frame[:8], "big")
    assert seq == 100
    # Any change to the sequence bytes, even to a "valid" future number, must fail.
    for new_seq in (101, 102, 2**32 + 100, 2**63 + 100):
        opener = BroadcastOpener(KEY, next_seq=1)
        with pytest.raises(AuthenticationError):
            opener.open(BROADCAST, new_seq.to_bytes(8, "big") + frame[8:])
    for index in range(8):
        for mask in (0x01, 0x80):
            opener = BroadcastOpener(KEY, next_seq=1)
            with pytest.raises(AuthenticationError):
                opener.open(BROADCAST, flip(frame, index, mask))


def test_broadcast_wrong_type_and_key_rejected():
    sealer = BroadcastSealer(KEY)
    frame = sealer.seal(BROADCAST, b"x")
    with pytest.raises(AuthenticationError):
        BroadcastOpener(KEY, next_seq=1).open(CHAT, frame)
    with pytest.raises(AuthenticationError):
        BroadcastOpener(OTHER, next_seq=1).open(BROADCAST, frame)


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 8 + TAG - 1, 8 + TAG])
def test_broadcast_truncated_rejected(cut):
    sealer = BroadcastSealer(KEY)
    f1, f2 = sealer.seal(BROADCAST, b"some payload"), sealer.seal(BROADCAST, b"next")
    opener = BroadcastOpener(KEY, next_seq=1)
    with pytest.raises(AuthenticationError):
        opener.open(BROADCAST, f1[:cut])
    assert_opener_dead(opener, BROADCAST, f2)


def test_broadcast_same_payload_twice_differs():
    sealer = BroadcastSealer(KEY)
    a, b = sealer.seal(BROADCAST, b"same"), sealer.seal(BROADCAST, b"same")
    assert a[8:] != b[8:]


def test_broadcast_sequence_overflow_guard():
    sealer = BroadcastSealer(KEY, next_seq=2**64 - 3)
    sealed = []
    with pytest.raises(OverflowError):
        for _ in range(4):
            sealed.append(sealer.seal(BROADCAST, b"x"))
    assert 1 <= len(sealed) <= 3
    seqs = [int.from_bytes(f[:8], "big") for f in sealed]
    assert seqs == sorted(set(seqs))
    with pytest.raises(OverflowError):
        sealer.seal(BROADCAST, b"x")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.binary(max_size=300)), max_size=15))
def test_property_broadcast_with_random_gaps(steps):
    sealer = BroadcastSealer(KEY)
    opener = BroadcastOpener(KEY, next_seq=1)
    for skip, payload in steps:
        for _ in range(skip):
            sealer.seal(BROADCAST, b"missed")
        assert opener.open(BROADCAST, sealer.seal(BROADCAST, payload)) == payload
