"""crypto.identity: device keys, strict Ed25519 verification, X25519, safety codes.

Groups: API misuse; behaviour (signatures bound to message, key and context; malicious keys and
signatures refused, each built by hand with the stdlib reference in _reference.py); known
answers (RFC 8032, RFC 7748, pinned signature, fingerprint and safety codes computed here by an
independent spelling of the documented formulas). Wycheproof runs in
test_wycheproof_ed25519_x25519.py, the identity file in test_identity_file.py.
"""

from __future__ import annotations

import copy
import hashlib
import pickle

import pytest
from Crypto.Signature import eddsa

from crypto import _curve25519 as curve
from crypto import identity as identity_module
from crypto.errors import AuthenticationError
from crypto.identity import (
    PUBLIC_KEY_SIZE,
    SECRET_SIZE,
    SIGNATURE_SIZE,
    Identity,
    PublicIdentity,
    pair_safety_code,
    safety_code,
    signed_bytes,
    verify,
)

from . import _reference as ref
from ._reference import flip

SECRET_A = bytes(range(64))
SECRET_B = bytes(range(64, 128))
NINE = (9).to_bytes(32, "little")  # the X25519 base point
P = ref.ED_P
L = ref.ED_L


@pytest.fixture(scope="module")
def alice() -> Identity:
    return Identity.from_secret(SECRET_A)


@pytest.fixture(scope="module")
def bob() -> Identity:
    return Identity.from_secret(SECRET_B)


def _encode_y(y: int, sign: int = 0) -> bytes:
    return (y | (sign << 255)).to_bytes(32, "little")


def _torsion_points() -> list[bytes]:
    """The 8 points of order dividing 8, found from the curve equation (not from the module).

    Order 1, 2: y = 1, y = -1 (x = 0). Order 4: y = 0. Order 8: 2T has y = 0, i.e. x^2 = -y^2,
    and on -x^2 + y^2 = 1 + d x^2 y^2 that gives d y^4 + 2 y^2 - 1 = 0.
    """
    d = -121665 * pow(121666, P - 2, P) % P
    found = [_encode_y(1), _encode_y(P - 1), _encode_y(0), _encode_y(0, 1)]
    disc = (4 + 4 * d) % P
    for root in _sqrt_all(disc):
        y2 = (-2 + root) * pow(2 * d, P - 2, P) % P
        for y in _sqrt_all(y2):
            found += [_encode_y(y, 0), _encode_y(y, 1)]
    return found


def _sqrt_all(a: int) -> list[int]:
    x = pow(a, (P + 3) // 8, P)
    if (x * x - a) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    return [x, P - x] if (x * x - a) % P == 0 else []


TORSION = _torsion_points()

# Non-canonical spellings of torsion points: y + p (possible only for y < 19) and a set sign
# bit on the two points whose x is 0.
NON_CANONICAL_TORSION = [
    _encode_y(P),  # y = 0
    _encode_y(P, 1),
    _encode_y(P + 1),  # y = 1, the identity
    _encode_y(P + 1, 1),
    _encode_y(1, 1),  # identity with the sign bit
    _encode_y(P - 1, 1),  # (0, -1) with the sign bit
]


def _forgery_for_small_order_key(message: bytes) -> bytes:
    # With A of small order, 8kA = O, so R = B, S = 1 satisfies 8SB = 8R + 8kA for any message.
    return ref.ed_compress(ref.ED_BASE) + (1).to_bytes(32, "little")


# --------------------------------------------------------------------------- API misuse


@pytest.mark.parametrize("size", [0, 32, 63, 65, 96])
def test_from_secret_length(size):
    with pytest.raises(ValueError):
        Identity.from_secret(bytes(size))


@pytest.mark.parametrize("bad", ["x" * 64, 64, None])
def test_from_secret_type(bad):
    with pytest.raises(TypeError):
        Identity.from_secret(bad)


@pytest.mark.parametrize(
    "context",
    ["", "a|b", "|", "x" * 65, "message\n", "nul\x00", "tab\t", "café", "\u202emessage", "\x7f"],
)
def test_bad_context_is_value_error(alice, context):
    with pytest.raises(ValueError):
        alice.sign(b"m", context=context)
    with pytest.raises(ValueError):
        verify(alice.signing_public, b"m", bytes(64), context=context)
    with pytest.raises(ValueError):
        signed_bytes(b"m", context=context)


@pytest.mark.parametrize("context", [b"message", None, 5])
def test_context_must_be_str(alice, context):
    with pytest.raises(TypeError):
        alice.sign(b"m", context=context)


def test_context_is_keyword_only(alice):
    with pytest.raises(TypeError):
        alice.sign(b"m", "message")
    with pytest.raises(TypeError):
        alice.sign(b"m")
    with pytest.raises(TypeError):
        verify(alice.signing_public, b"m", bytes(64), "message")


@pytest.mark.parametrize("bad", ["text", 5, None])
def test_message_must_be_bytes(alice, bad):
    with pytest.raises(TypeError):
        alice.sign(bad, context="message")
    with pytest.raises(TypeError):
        verify(alice.signing_public, bad, bytes(64), context="message")


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_verify_public_key_length_is_value_error(alice, size):
    sig = alice.sign(b"m", context="message")
    with pytest.raises(ValueError):
        verify(bytes(size), b"m", sig, context="message")


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_dh_peer_length_is_value_error(alice, size):
    with pytest.raises(ValueError):
        alice.dh(bytes(size))


def test_dh_peer_must_be_bytes(alice, bob):
    with pytest.raises(TypeError):
        alice.dh(bob.dh_public.hex())
    with pytest.raises(TypeError):
        alice.dh(bob.public)


def test_public_identity_from_bytes_length(alice):
    wire = alice.public.to_bytes()
    for data in (wire[:-1], wire + b"\x00", b""):
        with pytest.raises(ValueError):
            PublicIdentity.from_bytes(data)


def test_public_identity_fields_required_and_typed(alice):
    with pytest.raises(TypeError):
        PublicIdentity(signing_public=alice.signing_public)
    with pytest.raises(TypeError):  # two 32-byte keys: never by position
        PublicIdentity(alice.signing_public, alice.dh_public)
    with pytest.raises(TypeError):
        PublicIdentity(signing_public=alice.signing_public.hex(), dh_public=alice.dh_public)


def test_safety_code_needs_public_identity(alice, bob):
    with pytest.raises(TypeError):
        safety_code(alice.signing_public)
    with pytest.raises(TypeError):
        pair_safety_code(alice, bob.public)


def test_identity_cannot_be_pickled_or_copied(alice):
    with pytest.raises(TypeError):
        pickle.dumps(alice)
    with pytest.raises(TypeError):
        copy.deepcopy(alice)


def test_repr_hides_secret(alice):
    secret = alice.to_secret()
    for text in (repr(alice), str(alice), repr([alice]), f"{alice}"):
        for part in (secret[:32], secret[32:]):
            assert part.hex() not in text
            assert part.hex()[:16] not in text
    assert "hidden" in repr(alice)


# --------------------------------------------------------------------------- keys


def test_generate_is_random_and_round_trips():
    identities = [Identity.generate() for _ in range(5)]
    assert len({i.to_secret() for i in identities}) == 5
    assert len({i.public for i in identities}) == 5
    for i in identities:
        again = Identity.from_secret(i.to_secret())
        assert again.public == i.public
        assert len(i.to_secret()) == SECRET_SIZE
        assert len(i.signing_public) == len(i.dh_public) == PUBLIC_KEY_SIZE


def test_secret_halves_are_independent():
    base = Identity.from_secret(SECRET_A)
    other_sign = Identity.from_secret(flip(SECRET_A, 0))
    other_dh = Identity.from_secret(flip(SECRET_A, 40))
    assert other_sign.signing_public != base.signing_public
    assert other_sign.dh_public == base.dh_public
    assert other_dh.signing_public == base.signing_public
    assert other_dh.dh_public != base.dh_public


def test_public_identity_equality_hash_and_wire(alice, bob):
    again = PublicIdentity.from_bytes(alice.public.to_bytes())
    assert again == alice.public
    assert hash(again) == hash(alice.public)
    assert again != bob.public
    assert len({alice.public, again, bob.public}) == 2
    mixed = PublicIdentity(signing_public=alice.signing_public, dh_public=bob.dh_public)
    assert mixed != alice.public and mixed != bob.public
    assert mixed.fingerprint() not in (alice.public.fingerprint(), bob.public.fingerprint())
    by_buffer = PublicIdentity(
        signing_public=bytearray(alice.signing_public), dh_public=memoryview(alice.dh_public)
    )
    assert by_buffer == alice.public and hash(by_buffer) == hash(alice.public)
    assert isinstance(by_buffer.signing_public, bytes)
    with pytest.raises(AttributeError):
        alice.public.signing_public = bob.signing_public


def test_public_identity_refuses_small_order_and_non_canonical_keys(alice):
    for bad in TORSION + NON_CANONICAL_TORSION:
        with pytest.raises(ValueError):
            PublicIdentity(signing_public=bad, dh_public=alice.dh_public)
    for u in sorted(curve.X25519_LOW_ORDER):
        with pytest.raises(ValueError):
            PublicIdentity(signing_public=alice.signing_public, dh_public=u.to_bytes(32, "little"))
    high_bit = flip(alice.dh_public, 31, 0x80)
    with pytest.raises(ValueError):
        PublicIdentity(signing_public=alice.signing_public, dh_public=high_bit)


def test_public_identity_refuses_point_off_curve(alice):
    # y = 2 is not the y of any curve point.
    assert ref.ed_decompress(_encode_y(2)) is None
    with pytest.raises(ValueError):
        PublicIdentity(signing_public=_encode_y(2), dh_public=alice.dh_public)


# --------------------------------------------------------------------------- signatures


def test_sign_verify_round_trip(alice, bob):
    for message in (b"", b"hello", bytes(range(256)) * 20):
        sig = alice.sign(message, context="message")
        assert isinstance(sig, bytes) and len(sig) == SIGNATURE_SIZE
        assert verify(alice.signing_public, message, sig, context="message") is None
        alice.public.verify(message, sig, context="message")
        with pytest.raises(AuthenticationError):
            verify(bob.signing_public, message, sig, context="message")


def test_signature_is_deterministic(alice):
    assert alice.sign(b"m", context="message") == alice.sign(b"m", context="message")


def test_every_flip_of_signature_message_or_key_fails(alice):
    message = b"the quick brown fox"
    sig = alice.sign(message, context="message")
    for index in range(SIGNATURE_SIZE):
        for mask in (0x01, 0x80):
            with pytest.raises(AuthenticationError):
                verify(alice.signing_public, message, flip(sig, index, mask), context="message")
    for index in range(len(message)):
        with pytest.raises(AuthenticationError):
            verify(alice.signing_public, flip(message, index), sig, context="message")
    for index in range(PUBLIC_KEY_SIZE):
        with pytest.raises(AuthenticationError):
            verify(flip(alice.signing_public, index), message, sig, context="message")
    for extra in (message + b"\x00", message[:-1], b""):
        with pytest.raises(AuthenticationError):
            verify(alice.signing_public, extra, sig, context="message")


@pytest.mark.parametrize("length", [0, 32, 63, 65, 128])
def test_wrong_length_signature_is_authentication_error(alice, length):
    sig = alice.sign(b"m", context="message")
    forged = (sig * 3)[:length]
    with pytest.raises(AuthenticationError):
        verify(alice.signing_public, b"m", forged, context="message")
    # Refused by our own check too, not only by pycryptodome's.
    with pytest.raises(AuthenticationError):
        identity_module._check_signature_shape(forged)


def test_context_separates_signatures(alice):
    sig = alice.sign(b"payload", context="message")
    for other in ("epoch key", "Message", "message ", "messag"):
        with pytest.raises(AuthenticationError):
            verify(alice.signing_public, b"payload", sig, context=other)
    # The context cannot be shifted into the message: "a" + "|b" ... is not "a|b" (refused).
    assert signed_bytes(b"b|c", context="a") != signed_bytes(b"c", context="ab")
    assert signed_bytes(b"", context="ab") != signed_bytes(b"b", context="a")


def test_signature_is_over_the_documented_bytes(alice):
    # A plain RFC 8032 verifier (pycryptodome, no checks of ours) accepts the signature for
    # exactly b"SocketChat v2 signature|" + context + b"|" + message.
    sig = alice.sign(b"hello", context="message")
    expected = b"SocketChat v2 signature|message|hello"
    assert signed_bytes(b"hello", context="message") == expected
    key = eddsa.import_public_key(alice.signing_public)
    eddsa.new(key, "rfc8032").verify(expected, sig)
    with pytest.raises(ValueError):
        eddsa.new(key, "rfc8032").verify(b"hello", sig)


def test_s_plus_l_is_refused(alice):
    sig = alice.sign(b"m", context="message")
    s = int.from_bytes(sig[32:], "little")
    assert s + L < 2**256
    malleated = sig[:32] + (s + L).to_bytes(32, "little")
    with pytest.raises(AuthenticationError):
        verify(alice.signing_public, b"m", malleated, context="message")
    # Our own check refuses it, independently of pycryptodome's (which also does today).
    with pytest.raises(AuthenticationError):
        identity_module._check_signature_shape(malleated)
    for s_bad in (L, L + 1, 2**256 - 1, 2**255):
        with pytest.raises(AuthenticationError):
            identity_module._check_signature_shape(sig[:32] + s_bad.to_bytes(32, "little"))
    identity_module._check_signature_shape(sig[:32] + (L - 1).to_bytes(32, "little"))


@pytest.mark.parametrize("index", range(8))
def test_small_order_public_keys_are_refused(index):
    # pycryptodome alone accepts this forgery: it verifies for *any* message.
    key = TORSION[index]
    message = signed_bytes(b"any message at all", context="message")
    forged = _forgery_for_small_order_key(message)
    eddsa.new(eddsa.import_public_key(key), "rfc8032").verify(message, forged)
    with pytest.raises(AuthenticationError):
        verify(key, b"any message at all", forged, context="message")


@pytest.mark.parametrize("encoding", NON_CANONICAL_TORSION)
def test_non_canonical_public_keys_are_refused(encoding):
    with pytest.raises(AuthenticationError):
        verify(encoding, b"m", _forgery_for_small_order_key(b""), context="message")


def test_non_canonical_refused_by_our_own_check(monkeypatch):
    # If pycryptodome's decoder were lenient (reduced y mod p, ignored a sign bit on x = 0),
    # our canonical-encoding check must still refuse these keys, and be the reason.
    # (Every non-canonical spelling is of a torsion point or of a point outside the prime-order
    # subgroup, y + p being possible for y < 19 only, so the later checks are a second net.)
    real = eddsa.import_public_key

    def lenient(encoding: bytes):
        value = int.from_bytes(encoding, "little")
        y, sign = (value & ((1 << 255) - 1)) % P, value >> 255
        if y in (1, P - 1):
            sign = 0
        return real((y | sign << 255).to_bytes(32, "little"))

    monkeypatch.setattr(curve.eddsa, "import_public_key", lenient)
    curve.ed25519_public_key.cache_clear()
    noncanonical_others = [_encode_y(P + y, s) for y in (3, 4, 18) for s in (0, 1)]
    try:
        for encoding in NON_CANONICAL_TORSION + noncanonical_others:
            assert not curve.ed25519_canonical(encoding)
            lenient(encoding)  # the lenient decoder takes it
            with pytest.raises(ValueError, match="canonical"):
                curve.ed25519_public_key(encoding)
    finally:
        curve.ed25519_public_key.cache_clear()


def test_mixed_order_public_key_is_refused(alice):
    # A genuine key plus a point of order 8: decodes fine, signs "for" alice under cofactored
    # verification, but no honest key generator produces it.
    genuine = ref.ed_decompress(alice.signing_public)
    torsion8 = ref.ed_decompress(TORSION[4])
    assert genuine is not None and torsion8 is not None
    mixed = ref.ed_compress(ref.ed_add(genuine, torsion8))
    eddsa.import_public_key(mixed)  # pycryptodome accepts it
    with pytest.raises(ValueError):
        PublicIdentity(signing_public=mixed, dh_public=alice.dh_public)
    with pytest.raises(AuthenticationError):
        verify(mixed, b"m", alice.sign(b"m", context="message"), context="message")


@pytest.mark.parametrize("index", range(8))
def test_small_order_r_is_refused(index):
    # S = k*a with R of small order satisfies the cofactored equation: pycryptodome accepts.
    seed = SECRET_A[:32]
    signer = Identity.from_secret(SECRET_A)
    data = signed_bytes(b"hello", context="message")
    forged = ref.ed_sign_with_r(seed, data, TORSION[index])
    eddsa.new(eddsa.import_public_key(signer.signing_public), "rfc8032").verify(data, forged)
    with pytest.raises(AuthenticationError):
        verify(signer.signing_public, b"hello", forged, context="message")


@pytest.mark.parametrize("encoding", NON_CANONICAL_TORSION)
def test_non_canonical_r_is_refused(encoding, alice):
    forged = encoding + alice.sign(b"m", context="message")[32:]
    with pytest.raises(AuthenticationError):
        identity_module._check_signature_shape(forged)
    with pytest.raises(AuthenticationError):
        verify(alice.signing_public, b"m", forged, context="message")


def test_torsion_list_is_complete_and_matches_module():
    # 8 distinct points with 8P = O: the whole torsion subgroup, so nothing is missing.
    points = [ref.ed_decompress(e) for e in TORSION]
    assert all(p is not None for p in points)
    assert len(set(TORSION)) == 8
    for p in points:
        assert p is not None
        assert ref.ed_equal(ref.ed_mul(8, p), ref.ED_IDENTITY)
    assert set(TORSION) == curve.ED25519_SMALL_ORDER


def test_canonical_check():
    assert curve.ed25519_canonical(_encode_y(P - 1))
    assert curve.ed25519_canonical(_encode_y(2, 1))
    for y in (P, P + 1, P + 18, 2**255 - 1):
        assert not curve.ed25519_canonical(_encode_y(y))
    assert not curve.ed25519_canonical(bytes(31))


# --------------------------------------------------------------------------- X25519


def test_dh_agrees(alice, bob):
    shared = alice.dh(bob.dh_public)
    assert shared == bob.dh(alice.dh_public)
    assert len(shared) == 32
    assert shared != alice.dh(Identity.generate().dh_public)


def test_dh_refuses_low_order_and_non_canonical(alice):
    for u in sorted(curve.X25519_LOW_ORDER):
        for encoding in {u.to_bytes(32, "little"), (u | 1 << 255).to_bytes(32, "little")}:
            with pytest.raises(AuthenticationError):
                alice.dh(encoding)
    for u in (P, P + 1, 2**255 - 1):  # non-canonical spellings of 0, 1 and 18
        with pytest.raises(AuthenticationError):
            alice.dh(u.to_bytes(32, "little"))
    with pytest.raises(AuthenticationError):
        alice.dh(flip(Identity.from_secret(SECRET_B).dh_public, 31, 0x80))


def test_low_order_list_really_gives_zero():
    # Checked with the stdlib X25519, for several scalars: every listed u forces the output.
    for u in curve.X25519_LOW_ORDER:
        for scalar in (SECRET_A[32:], SECRET_B[32:], bytes(range(100, 132))):
            assert ref.x25519(scalar, u.to_bytes(32, "little")) == bytes(32)


def test_zero_shared_secret_is_refused_even_past_the_key_checks(alice, bob, monkeypatch):
    # Defence in depth: should a low-order key slip past the list and pycryptodome, an
    # all-zero result must still never be returned.
    monkeypatch.setattr(Identity, "_agree", lambda self, peer: bytes(32))
    with pytest.raises(AuthenticationError):
        alice.dh(bob.dh_public)


def test_library_rejection_maps_to_authentication_error(alice, monkeypatch):
    monkeypatch.setattr(curve, "x25519_check_public", lambda encoding: None)
    with pytest.raises(AuthenticationError):
        alice.dh(bytes(32))  # pycryptodome's own low-order refusal, as our error type


# --------------------------------------------------------------------------- known answers


def test_rfc8032_test_1_public_key_and_signature():
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    rfc_sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    identity = Identity.from_secret(seed + bytes(32))
    assert identity.signing_public == public
    assert ref.ed_sign(seed, b"") == rfc_sig  # the reference signer is right
    identity_module._verify_raw(public, b"", rfc_sig)


def test_rfc7748_x25519_alice_and_bob():
    alice_priv = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_priv = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    alice = Identity.from_secret(bytes(32) + alice_priv)
    bob = Identity.from_secret(bytes(32) + bob_priv)
    assert alice.dh_public.hex() == (
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    assert bob.dh_public.hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert alice.dh(bob.dh_public).hex() == shared
    assert bob.dh(alice.dh_public).hex() == shared


# Fixed identities: SECRET_A = 00 01 .. 3f, SECRET_B = 40 41 .. 7f. Values from the stdlib
# reference (Ed25519 and X25519 in _reference.py, the documented formulas spelled out below).
A_SIGNING = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
A_DH = "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
B_SIGNING = "2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d"
B_DH = "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f"
A_FINGERPRINT = "1aea7899c87e62b97916d30ffd26b2f273c3b5428b070a1a3a3e97fb1b7e60fd"
A_SIGNATURE_HELLO = (
    "554d83cc76f3e67cade782fe769d1547605743c30c2c9fa38de79ad8be00c2f0"
    "626225746160195324f6341d85185fb06f5730f022ac7c8ffbb9d77a01118608"
)
AB_SHARED = "7c79d7b5f31b9aac367477f5f7c7a68b5c44cac28ed5c902a59ec48c02956a6a"
A_CODE = "30296 49660 77521 36066 06955 31725"
B_CODE = "94335 10334 20160 63579 03107 17962"


def _reference_safety_code(signing: bytes, dh: bytes) -> str:
    h = b"SocketChat v2 safety code|"
    for _ in range(5200):
        h = hashlib.sha512(h + signing + dh).digest()
    return " ".join(
        str(int.from_bytes(h[i : i + 5], "big") % 100000).zfill(5) for i in range(0, 30, 5)
    )


def test_fixed_identity_known_answers(alice, bob):
    assert ref.ed_public(SECRET_A[:32]).hex() == A_SIGNING
    assert ref.x25519(SECRET_A[32:], NINE).hex() == A_DH
    assert alice.signing_public.hex() == A_SIGNING
    assert alice.dh_public.hex() == A_DH
    assert bob.signing_public.hex() == B_SIGNING
    assert bob.dh_public.hex() == B_DH
    assert alice.public.to_bytes().hex() == A_SIGNING + A_DH
    expected_fp = hashlib.sha256(
        b"SocketChat v2 identity fingerprint|" + bytes.fromhex(A_SIGNING + A_DH)
    ).hexdigest()
    assert expected_fp == A_FINGERPRINT
    assert alice.public.fingerprint().hex() == A_FINGERPRINT


def test_signature_known_answer(alice):
    data = b"SocketChat v2 signature|message|hello"
    assert ref.ed_sign(SECRET_A[:32], data).hex() == A_SIGNATURE_HELLO
    assert alice.sign(b"hello", context="message").hex() == A_SIGNATURE_HELLO


def test_dh_known_answer(alice, bob):
    assert ref.x25519(SECRET_A[32:], bytes.fromhex(B_DH)).hex() == AB_SHARED
    assert alice.dh(bob.dh_public).hex() == AB_SHARED


def test_safety_code_known_answers(alice, bob):
    assert _reference_safety_code(bytes.fromhex(A_SIGNING), bytes.fromhex(A_DH)) == A_CODE
    assert _reference_safety_code(bytes.fromhex(B_SIGNING), bytes.fromhex(B_DH)) == B_CODE
    assert safety_code(alice.public) == A_CODE
    assert safety_code(bob.public) == B_CODE
    assert pair_safety_code(alice.public, bob.public) == A_CODE + " " + B_CODE


# --------------------------------------------------------------------------- safety codes


def test_safety_code_shape(alice):
    code = safety_code(alice.public)
    groups = code.split(" ")
    assert len(groups) == 6
    assert all(len(g) == 5 and g.isdigit() and g.isascii() for g in groups)


def test_pair_code_is_order_independent_and_built_from_both_halves(alice, bob):
    ab = pair_safety_code(alice.public, bob.public)
    assert ab == pair_safety_code(bob.public, alice.public)
    groups = ab.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    halves = {" ".join(groups[:6]), " ".join(groups[6:])}
    assert halves == {safety_code(alice.public), safety_code(bob.public)}
    assert " ".join(groups[:6]) < " ".join(groups[6:])  # sorted, so both screens agree


def test_codes_depend_on_both_keys(alice, bob):
    base = pair_safety_code(alice.public, bob.public)
    other = Identity.generate()
    swapped_signing = PublicIdentity(signing_public=other.signing_public, dh_public=bob.dh_public)
    swapped_dh = PublicIdentity(signing_public=bob.signing_public, dh_public=other.dh_public)
    for replacement in (swapped_signing, swapped_dh, other.public):
        assert safety_code(replacement) != safety_code(bob.public)
        assert pair_safety_code(alice.public, replacement) != base
