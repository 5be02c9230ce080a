"""crypto.envelope: end-to-end chat message envelopes (AES-256-GCM, random nonce, header AAD).

Groups: API misuse; security properties (every header field bound, every byte authenticated,
fresh nonces, unambiguous AAD); known answers (the sealed layout equals AES-GCM computed here).
"""

from __future__ import annotations

import dataclasses

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.envelope import (
    ENVELOPE_VERSION,
    MESSAGE_ID_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    MessageHeader,
    open_message,
    seal_message,
)
from crypto.errors import AuthenticationError
from crypto.kdf import derive_room_keys

from ._reference import flip

KEY = bytes(range(32))
ROOM = bytes.fromhex("00112233445566778899aabbccddeeff")
HEADER = MessageHeader(
    room_id=ROOM,
    sender="alice",
    message_id=bytes(range(100, 116)),
    timestamp_ms=1_700_000_000_123,
)
TEXT = "héllo, wörld ✓".encode()


def sealed_text(**kwargs) -> bytes:
    return seal_message(KEY, HEADER, TEXT, **kwargs)


# --------------------------------------------------------------------------- API misuse


def test_constants():
    assert ENVELOPE_VERSION == 1
    assert MESSAGE_ID_SIZE == 16
    assert NONCE_SIZE == 12
    assert TAG_SIZE == 16
    assert HEADER.content_type == "text/plain"


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33, 64])
def test_wrong_key_size_is_value_error(size):
    with pytest.raises(ValueError):
        seal_message(bytes(size), HEADER, TEXT)
    with pytest.raises(ValueError):
        open_message(bytes(size), HEADER, sealed_text())


@pytest.mark.parametrize("size", [0, 8, 11, 13, 16])
def test_injected_nonce_wrong_size_is_value_error(size):
    with pytest.raises(ValueError):
        seal_message(KEY, HEADER, TEXT, nonce=bytes(size))


@pytest.mark.parametrize("size", [0, 1, NONCE_SIZE, NONCE_SIZE + TAG_SIZE - 1])
def test_shorter_than_nonce_plus_tag_is_value_error(size):
    with pytest.raises(ValueError):
        open_message(KEY, HEADER, sealed_text()[:size])


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_header_message_id_size(size):
    with pytest.raises(ValueError):
        dataclasses.replace(HEADER, message_id=bytes(size))


@pytest.mark.parametrize("ts", [-1, 2**64])
def test_header_timestamp_range(ts):
    with pytest.raises(ValueError):
        dataclasses.replace(HEADER, timestamp_ms=ts)


def test_header_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HEADER.sender = "mallory"


@pytest.mark.parametrize("plaintext", ["text", 5, None, ["x"]])
def test_plaintext_must_be_bytes(plaintext):
    # bytes(5) would silently be five zero bytes: an int must not be sealed as data.
    with pytest.raises(TypeError):
        seal_message(KEY, HEADER, plaintext)


def test_sealed_must_be_bytes():
    with pytest.raises(TypeError):
        open_message(KEY, HEADER, sealed_text().hex())


# --------------------------------------------------------------------------- round trips


def test_round_trip():
    sealed = sealed_text()
    assert len(sealed) == NONCE_SIZE + len(TEXT) + TAG_SIZE
    assert TEXT not in sealed
    out = open_message(KEY, HEADER, sealed)
    assert out == TEXT
    assert isinstance(out, bytes)


def test_round_trip_empty_and_large():
    for plaintext in (b"", b"\x00", b"x" * 65_536):
        assert open_message(KEY, HEADER, seal_message(KEY, HEADER, plaintext)) == plaintext


def test_accepts_bytearray_and_memoryview():
    sealed = seal_message(bytearray(KEY), HEADER, bytearray(TEXT))
    assert open_message(KEY, HEADER, memoryview(sealed)) == TEXT


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=2048),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=32),
    st.binary(min_size=16, max_size=16),
    st.integers(min_value=0, max_value=2**64 - 1),
)
def test_property_round_trip(plaintext, sender, message_id, ts):
    header = MessageHeader(room_id=ROOM, sender=sender, message_id=message_id, timestamp_ms=ts)
    assert open_message(KEY, header, seal_message(KEY, header, plaintext)) == plaintext


# --------------------------------------------------------------------------- security properties


def test_same_plaintext_twice_gives_different_bytes():
    # The old project's ECB leaked equal messages; random nonces must not.
    outputs = {seal_message(KEY, HEADER, TEXT) for _ in range(50)}
    assert len(outputs) == 50
    nonces = {s[:NONCE_SIZE] for s in outputs}
    assert len(nonces) == 50
    ciphertexts = {s[NONCE_SIZE:] for s in outputs}
    assert len(ciphertexts) == 50


@pytest.mark.parametrize(
    "change",
    [
        {"room_id": flip(ROOM, 0)},
        {"room_id": flip(ROOM, 15, 0x80)},
        {"room_id": ROOM[:15]},
        {"room_id": ROOM + b"\x00"},
        {"sender": "bob"},
        {"sender": "alice "},
        {"sender": "Alice"},
        {"sender": "alicf"},
        {"message_id": flip(HEADER.message_id, 0)},
        {"message_id": flip(HEADER.message_id, 15, 0x80)},
        {"timestamp_ms": HEADER.timestamp_ms + 1},
        {"timestamp_ms": HEADER.timestamp_ms - 1},
        {"timestamp_ms": HEADER.timestamp_ms ^ (1 << 63)},
        {"timestamp_ms": 0},
        {"content_type": "text/html"},
        {"content_type": "text/plain "},
        {"content_type": ""},
    ],
    ids=lambda c: f"{next(iter(c))}",
)
def test_changing_any_header_field_fails(change):
    sealed = sealed_text()
    other = dataclasses.replace(HEADER, **change)
    assert other != HEADER
    with pytest.raises(AuthenticationError):
        open_message(KEY, other, sealed)


def test_every_single_byte_flip_fails():
    sealed = sealed_text()
    for index in range(len(sealed)):  # nonce, ciphertext and tag
        for mask in (0x01, 0x80, 0xFF):
            with pytest.raises(AuthenticationError):
                open_message(KEY, HEADER, flip(sealed, index, mask))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.data())
def test_property_random_flip_fails(plaintext, data):
    sealed = seal_message(KEY, HEADER, plaintext)
    index = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises(AuthenticationError):
        open_message(KEY, HEADER, flip(sealed, index, mask))


def test_truncated_or_extended_fails():
    sealed = sealed_text()
    for cut in range(1, len(sealed)):
        with pytest.raises((ValueError, AuthenticationError)):
            open_message(KEY, HEADER, sealed[:cut])
        if cut >= NONCE_SIZE + TAG_SIZE:
            with pytest.raises(AuthenticationError):
                open_message(KEY, HEADER, sealed[:cut])
    for extra in (b"\x00", b"\x00" * 16, sealed[-TAG_SIZE:]):
        with pytest.raises(AuthenticationError):
            open_message(KEY, HEADER, sealed + extra)
    with pytest.raises(AuthenticationError):  # tag moved to the front
        open_message(KEY, HEADER, sealed[-TAG_SIZE:] + sealed[:-TAG_SIZE])


def test_wrong_key_fails():
    sealed = sealed_text()
    for key in (bytes(32), flip(KEY, 0), flip(KEY, 31, 0x80), KEY[::-1]):
        with pytest.raises(AuthenticationError):
            open_message(key, HEADER, sealed)


def test_another_rooms_key_fails():
    room_a = derive_room_keys("same password", room_id=ROOM, n=2**10)
    room_b = derive_room_keys("same password", room_id=flip(ROOM, 0), n=2**10)
    sealed = seal_message(room_a.message, HEADER, TEXT)
    assert open_message(room_a.message, HEADER, sealed) == TEXT
    with pytest.raises(AuthenticationError):
        open_message(room_b.message, HEADER, sealed)
    # The relay's verifier (access key) must not open messages either.
    with pytest.raises(AuthenticationError):
        open_message(room_a.access, HEADER, sealed)


def test_envelope_moved_to_another_message_fails():
    # Same key, same sender: a relay replaying alice's envelope under a new id or time fails.
    sealed = sealed_text()
    for change in ({"message_id": bytes(16)}, {"timestamp_ms": 1}):
        with pytest.raises(AuthenticationError):
            open_message(KEY, dataclasses.replace(HEADER, **change), sealed)


def test_authentication_error_is_not_a_value_error():
    # Callers must be able to tell "malformed" (ValueError) from "forged" apart.
    assert not issubclass(AuthenticationError, ValueError)


# --------------------------------------------------------------------------- AAD encoding


def test_aad_is_bytes_and_covers_every_field():
    aad = HEADER.aad()
    assert isinstance(aad, bytes)
    assert HEADER.room_id in aad
    assert b"alice" in aad
    assert HEADER.message_id in aad
    assert b"text/plain" in aad
    assert HEADER.aad() == aad  # deterministic


SHIFTS = [
    # (header fields A, header fields B): same concatenated bytes, different split.
    ({"sender": "ab", "content_type": "c"}, {"sender": "a", "content_type": "bc"}),
    ({"sender": "a", "content_type": "bc"}, {"sender": "abc", "content_type": ""}),
    ({"room_id": ROOM + b"a", "sender": "b"}, {"room_id": ROOM, "sender": "ab"}),
    ({"room_id": ROOM[:15], "sender": "\x00b"}, {"room_id": ROOM[:15] + b"\x00", "sender": "b"}),
    ({"sender": "", "content_type": "x"}, {"sender": "x", "content_type": ""}),
    ({"sender": "a\x00\x00\x00\x01b"}, {"sender": "a", "content_type": "b"}),
]


@pytest.mark.parametrize(("a", "b"), SHIFTS)
def test_aad_is_unambiguous_under_field_shifts(a, b):
    ha = dataclasses.replace(HEADER, **a)
    hb = dataclasses.replace(HEADER, **b)
    assert ha.aad() != hb.aad()
    sealed = seal_message(KEY, ha, TEXT)
    with pytest.raises(AuthenticationError):
        open_message(KEY, hb, sealed)


def test_aad_distinguishes_timestamps_and_utf8():
    seen = {dataclasses.replace(HEADER, timestamp_ms=t).aad() for t in (0, 1, 256, 2**32, 2**63)}
    assert len(seen) == 5
    nfc = dataclasses.replace(HEADER, sender="\u00e9")
    nfd = dataclasses.replace(HEADER, sender="e\u0301")
    assert nfc.aad() != nfd.aad()
    assert "\u00e9".encode() in nfc.aad()


HEADERS = st.builds(
    MessageHeader,
    room_id=st.binary(min_size=0, max_size=20),
    sender=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
    message_id=st.binary(min_size=16, max_size=16),
    timestamp_ms=st.integers(min_value=0, max_value=2**64 - 1),
    content_type=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
)


@settings(max_examples=300)
@given(HEADERS, HEADERS)
def test_property_aad_injective(a, b):
    if a != b:
        assert a.aad() != b.aad()
    else:
        assert a.aad() == b.aad()


# --------------------------------------------------------------------------- known answer


def test_layout_matches_aes_gcm_computed_here():
    nonce = bytes.fromhex("cafebabefacedbaddecaf888")
    sealed = seal_message(KEY, HEADER, TEXT, nonce=nonce)
    cipher = AES.new(KEY, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(HEADER.aad())
    ciphertext, tag = cipher.encrypt_and_digest(TEXT)
    assert sealed == nonce + ciphertext + tag
    assert open_message(KEY, HEADER, sealed) == TEXT
