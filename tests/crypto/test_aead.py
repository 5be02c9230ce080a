"""crypto.aead: ChaCha20-Poly1305 with a caller's counter nonce, XChaCha20-Poly1305 box.

Groups: API misuse (lengths are ValueError, non-bytes TypeError, keywords required); call
behaviour (random nonces, tampering, truncation, AAD and key binding); known answers (RFC 8439,
draft-irtf-cfrg-xchacha, and the stdlib reference in _reference.py against pycryptodome).
The Wycheproof files run in test_wycheproof_chacha20_poly1305.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import aead
from crypto.aead import KEY_SIZE, NONCE_SIZE, TAG_SIZE, XNONCE_SIZE
from crypto.errors import AuthenticationError

from . import _reference as ref
from ._reference import flip

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
NONCE = bytes(range(12))
XNONCE = bytes(range(24))
AAD = b"header"


def test_constants():
    assert (KEY_SIZE, NONCE_SIZE, XNONCE_SIZE, TAG_SIZE) == (32, 12, 24, 16)


# --------------------------------------------------------------------------- API misuse


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33, 64])
def test_wrong_key_size_is_value_error(size):
    key = bytes(size)
    with pytest.raises(ValueError):
        aead.seal(key, nonce=NONCE, plaintext=b"x", aad=b"")
    with pytest.raises(ValueError):
        aead.open(key, nonce=NONCE, sealed=bytes(32), aad=b"")
    with pytest.raises(ValueError):
        aead.seal_random(key, b"x", aad=b"")
    with pytest.raises(ValueError):
        aead.open_random(key, bytes(64), aad=b"")


@pytest.mark.parametrize("size", [0, 8, 11, 13, 16, 24, 32])
def test_wrong_nonce_size_is_value_error(size):
    # 8 and 24 bytes are real pycryptodome modes (original ChaCha20, XChaCha20): a wrapper that
    # passed them through would silently run another algorithm than the one specified.
    with pytest.raises(ValueError):
        aead.seal(KEY, nonce=bytes(size), plaintext=b"x", aad=b"")
    with pytest.raises(ValueError):
        aead.open(KEY, nonce=bytes(size), sealed=bytes(32), aad=b"")


@pytest.mark.parametrize("size", [0, 8, 12, 16, 23, 25, 32])
def test_wrong_xnonce_size_is_value_error(size):
    with pytest.raises(ValueError):
        aead.seal_random(KEY, b"x", aad=b"", nonce=bytes(size))


@pytest.mark.parametrize("bad", ["text", 5, None, 1.5])
def test_inputs_must_be_bytes(bad):
    # bytes(5) is five zero bytes and a str has no single encoding: refuse both.
    with pytest.raises(TypeError):
        aead.seal(KEY, nonce=NONCE, plaintext=bad, aad=b"")
    with pytest.raises(TypeError):
        aead.seal(KEY, nonce=NONCE, plaintext=b"", aad=bad)
    with pytest.raises(TypeError):
        aead.seal_random(KEY, bad, aad=b"")
    with pytest.raises(TypeError):
        aead.seal_random(KEY, b"", aad=bad)
    with pytest.raises(TypeError):
        aead.open_random(KEY, bad, aad=b"")
    with pytest.raises(TypeError):
        aead.seal(bad, nonce=NONCE, plaintext=b"", aad=b"")


def test_keywords_are_required():
    with pytest.raises(TypeError):
        aead.seal(KEY, NONCE, b"x", b"")
    with pytest.raises(TypeError):
        aead.seal(KEY, nonce=NONCE, plaintext=b"x")
    with pytest.raises(TypeError):
        aead.seal_random(KEY, b"x")  # forgetting the AAD is a bug
    with pytest.raises(TypeError):
        aead.seal_random(KEY, b"x", b"")
    with pytest.raises(TypeError):
        aead.open_random(KEY, bytes(40))


def test_bytearray_and_memoryview_accepted():
    sealed = aead.seal(
        bytearray(KEY), nonce=memoryview(NONCE), plaintext=bytearray(b"hi"), aad=memoryview(AAD)
    )
    assert aead.open(KEY, nonce=NONCE, sealed=memoryview(sealed), aad=AAD) == b"hi"
    boxed = aead.seal_random(memoryview(KEY), memoryview(b"hi"), aad=bytearray(AAD))
    assert aead.open_random(bytearray(KEY), bytearray(boxed), aad=AAD) == b"hi"


# --------------------------------------------------------------------------- behaviour


def test_seal_layout_and_round_trip():
    for size in (0, 1, 63, 64, 65, 1000):
        plaintext = bytes([size % 251]) * size
        sealed = aead.seal(KEY, nonce=NONCE, plaintext=plaintext, aad=AAD)
        assert isinstance(sealed, bytes)
        assert len(sealed) == size + TAG_SIZE
        assert aead.open(KEY, nonce=NONCE, sealed=sealed, aad=AAD) == plaintext


def test_seal_random_layout_and_round_trip():
    for size in (0, 1, 100, 4000):
        plaintext = b"p" * size
        boxed = aead.seal_random(KEY, plaintext, aad=AAD)
        assert isinstance(boxed, bytes)
        assert len(boxed) == XNONCE_SIZE + size + TAG_SIZE
        assert aead.open_random(KEY, boxed, aad=AAD) == plaintext


def test_seal_random_nonces_are_fresh():
    boxes = [aead.seal_random(KEY, b"same text", aad=AAD) for _ in range(50)]
    assert len({b[:XNONCE_SIZE] for b in boxes}) == 50
    assert len({b[XNONCE_SIZE:] for b in boxes}) == 50


def test_seal_random_injected_nonce_is_prepended():
    boxed = aead.seal_random(KEY, b"kat", aad=AAD, nonce=XNONCE)
    assert boxed[:XNONCE_SIZE] == XNONCE
    assert boxed == aead.seal_random(KEY, b"kat", aad=AAD, nonce=XNONCE)


@pytest.mark.parametrize("which", ["seal", "box"])
def test_every_bit_position_flip_fails(which):
    if which == "seal":
        sealed = aead.seal(KEY, nonce=NONCE, plaintext=b"0123456789", aad=AAD)

        def opener(data: bytes) -> bytes:
            return aead.open(KEY, nonce=NONCE, sealed=data, aad=AAD)
    else:
        sealed = aead.seal_random(KEY, b"0123456789", aad=AAD)

        def opener(data: bytes) -> bytes:
            return aead.open_random(KEY, data, aad=AAD)

    for index in range(len(sealed)):
        for mask in (0x01, 0x80):
            with pytest.raises(AuthenticationError):
                opener(flip(sealed, index, mask))


def test_truncated_is_authentication_error():
    # Truncated input comes from the network, not from a bug here: AuthenticationError.
    sealed = aead.seal(KEY, nonce=NONCE, plaintext=b"abc", aad=AAD)
    for cut in range(len(sealed)):
        with pytest.raises(AuthenticationError):
            aead.open(KEY, nonce=NONCE, sealed=sealed[:cut], aad=AAD)
    boxed = aead.seal_random(KEY, b"abc", aad=AAD)
    for cut in range(len(boxed)):
        with pytest.raises(AuthenticationError):
            aead.open_random(KEY, boxed[:cut], aad=AAD)
    with pytest.raises(AuthenticationError):
        aead.open_random(KEY, boxed + b"\x00", aad=AAD)


def test_aad_key_and_nonce_are_bound():
    sealed = aead.seal(KEY, nonce=NONCE, plaintext=b"msg", aad=AAD)
    for key, nonce, aad in [
        (OTHER, NONCE, AAD),
        (KEY, flip(NONCE, 11), AAD),
        (KEY, NONCE, b""),
        (KEY, NONCE, AAD + b"\x00"),
        (KEY, NONCE, flip(AAD, 0)),
    ]:
        with pytest.raises(AuthenticationError):
            aead.open(key, nonce=nonce, sealed=sealed, aad=aad)
    boxed = aead.seal_random(KEY, b"msg", aad=AAD)
    for key, aad in [(OTHER, AAD), (KEY, b""), (KEY, AAD[:-1])]:
        with pytest.raises(AuthenticationError):
            aead.open_random(key, boxed, aad=aad)


def test_empty_aad_differs_from_no_aad_only_by_nothing():
    # The AAD is not length-prefixed by the caller: b"" is the empty AAD of RFC 8439.
    sealed = aead.seal(KEY, nonce=NONCE, plaintext=b"x", aad=b"")
    assert sealed == ref.chacha20_poly1305_seal(KEY, NONCE, b"x", b"")


def test_box_is_not_the_counter_mode():
    # XChaCha20 with nonce n is not ChaCha20 with the last 12 bytes of n.
    boxed = aead.seal_random(KEY, b"msg", aad=AAD, nonce=XNONCE)
    assert boxed[XNONCE_SIZE:] != aead.seal(KEY, nonce=XNONCE[12:], plaintext=b"msg", aad=AAD)
    with pytest.raises(AuthenticationError):
        aead.open(KEY, nonce=XNONCE[12:], sealed=boxed[XNONCE_SIZE:], aad=AAD)


# --------------------------------------------------------------------------- known answers

# RFC 8439, 2.8.2 (also Wycheproof chacha20_poly1305 tcId 1) and draft-irtf-cfrg-xchacha-03,
# A.3.1 (Wycheproof xchacha20_poly1305 tcId 1): same key, AAD and text.
RFC_KEY = bytes(range(0x80, 0xA0))
RFC_AAD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
RFC_TEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    b"future, sunscreen would be it."
)
RFC8439_NONCE = bytes.fromhex("070000004041424344454647")
RFC8439_SEALED = bytes.fromhex(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691"
)
XCHACHA_NONCE = bytes(range(0x40, 0x58))
XCHACHA_SEALED = bytes.fromhex(
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e"
    "c0875924c1c7987947deafd8780acf49"
)


def test_rfc8439_aead_vector():
    sealed = aead.seal(RFC_KEY, nonce=RFC8439_NONCE, plaintext=RFC_TEXT, aad=RFC_AAD)
    assert sealed == RFC8439_SEALED
    assert aead.open(RFC_KEY, nonce=RFC8439_NONCE, sealed=sealed, aad=RFC_AAD) == RFC_TEXT
    assert ref.chacha20_poly1305_seal(RFC_KEY, RFC8439_NONCE, RFC_TEXT, RFC_AAD) == sealed


def test_xchacha_draft_vector():
    boxed = aead.seal_random(RFC_KEY, RFC_TEXT, aad=RFC_AAD, nonce=XCHACHA_NONCE)
    assert boxed == XCHACHA_NONCE + XCHACHA_SEALED
    assert aead.open_random(RFC_KEY, boxed, aad=RFC_AAD) == RFC_TEXT
    assert ref.xchacha20_poly1305_seal(RFC_KEY, XCHACHA_NONCE, RFC_TEXT, RFC_AAD) == boxed[24:]


def test_reference_hchacha20_draft_vector():
    # draft-irtf-cfrg-xchacha-03, 2.2.1: checks the reference used by the tests themselves.
    key = bytes(range(32))
    nonce = bytes.fromhex("000000090000004a0000000031415927")
    expected = "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
    assert ref.hchacha20(key, nonce).hex() == expected


def test_reference_poly1305_rfc_vector():
    # RFC 8439, 2.5.2.
    key = bytes.fromhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
    tag = ref.poly1305(key, b"Cryptographic Forum Research Group")
    assert tag.hex() == "a8061dc1305136c6c22b8baf0c0127a9"


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=50), st.binary(min_size=12, max_size=12))
def test_property_seal_equals_reference(plaintext, aad, nonce):
    assert aead.seal(KEY, nonce=nonce, plaintext=plaintext, aad=aad) == (
        ref.chacha20_poly1305_seal(KEY, nonce, plaintext, aad)
    )


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=50), st.binary(min_size=24, max_size=24))
def test_property_box_equals_reference(plaintext, aad, nonce):
    boxed = aead.seal_random(KEY, plaintext, aad=aad, nonce=nonce)
    assert boxed == nonce + ref.xchacha20_poly1305_seal(KEY, nonce, plaintext, aad)
    assert aead.open_random(KEY, boxed, aad=aad) == plaintext
