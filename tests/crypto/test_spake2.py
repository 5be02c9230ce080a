"""crypto.spake2: SPAKE2-P256-SHA256-HKDF-HMAC (RFC 9382) with key confirmation.

Groups: API misuse; call order and the permanent failed state; security properties (wrong
password, tampering, reflection, invalid points, binding of identities and AAD, fresh
ephemerals); known answers (the four RFC 9382 vectors, read from this directory's copy).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from Crypto.PublicKey import ECC
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import AuthenticationError
from crypto.kdf import derive
from crypto.spake2 import (
    CONFIRMATION_SIZE,
    SESSION_KEY_SIZE,
    SHARE_SIZE,
    Role,
    Spake2,
    Spake2Secret,
    identities,
)

from ._reference import flip

VECTOR_FILE = Path(__file__).with_name("rfc9382-p256.json")
RFC = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))

# NIST P-256 (FIPS 186-4 D.1.2.3), written out so the tests do not lean on crypto/.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
G = ECC.EccPoint(
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    curve="p256",
)
M = ECC.import_key(bytes.fromhex(RFC["M"]), curve_name="P-256").pointQ
N = ECC.import_key(bytes.fromhex(RFC["N"]), curve_name="P-256").pointQ

ROOM = bytes.fromhex("00112233445566778899aabbccddeeff")
ID_A, ID_B = identities(ROOM)
AAD = hashlib.sha256(b"client hello || relay hello").digest()
SECRET = Spake2Secret.from_access_key(bytes(range(32)))
OTHER_SECRET = Spake2Secret.from_access_key(bytes(range(1, 33)))


def enc(point: ECC.EccPoint) -> bytes:
    x, y = (int(c) for c in point.xy)
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def compressed(point: ECC.EccPoint) -> bytes:
    x, y = (int(c) for c in point.xy)
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def pair(secret_a=SECRET, secret_b=SECRET, *, aad_a=AAD, aad_b=AAD, ids_a=None, ids_b=None):
    ida = ids_a or (ID_A, ID_B)
    idb = ids_b or (ID_A, ID_B)
    a = Spake2(secret_a, role=Role.A, identity_a=ida[0], identity_b=ida[1], aad=aad_a)
    b = Spake2(secret_b, role=Role.B, identity_a=idb[0], identity_b=idb[1], aad=aad_b)
    return a, b


def run(a: Spake2, b: Spake2):
    """A full honest exchange; returns (A_conf, B_conf)."""
    p_a = a.start()
    p_b = b.start()
    b_conf = b.finish(p_a)
    a_conf = a.finish(p_b)
    return a_conf, b_conf


def started():
    a, b = pair()
    return a, b, a.start(), b.start()


def assert_failed_forever(party: Spake2, peer_share: bytes = b"\x04" + bytes(64)):
    """Every call on a failed object raises AuthenticationError, whatever the call order."""
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            party.start()
        with pytest.raises(AuthenticationError):
            party.finish(peer_share)
        with pytest.raises(AuthenticationError):
            party.verify(bytes(CONFIRMATION_SIZE))


# --------------------------------------------------------------------------- constants, helpers


def test_constants():
    assert SHARE_SIZE == 65
    assert CONFIRMATION_SIZE == 32
    assert SESSION_KEY_SIZE == 16
    assert Role.A.value == "A" and Role.B.value == "B"


def test_identities():
    a, b = identities(ROOM)
    assert a == b"SocketChat/2 client"
    assert b == b"SocketChat/2 relay 00112233445566778899aabbccddeeff"
    assert identities(flip(ROOM, 0))[1] != b


def test_vector_file_constants_match_rfc_generation():
    # M and N in the file are the RFC's compressed points; sanity-check they are on the curve
    # and distinct from the generator, so the KATs below test what they claim to.
    assert M != N and M != G and N != G
    assert compressed(M).hex() == RFC["M"]
    assert compressed(N).hex() == RFC["N"]


# --------------------------------------------------------------------------- API misuse


@pytest.mark.parametrize("w", [0, ORDER, ORDER + 1, -1, 2**300])
def test_secret_out_of_range_is_value_error(w):
    with pytest.raises(ValueError):
        Spake2Secret(w)


@pytest.mark.parametrize("w", [1, ORDER - 1])
def test_secret_bounds_accepted(w):
    secret = Spake2Secret(w)
    assert secret.w == w
    a, b = pair(secret, secret)  # and usable: both sides agree on a key
    a_conf, b_conf = run(a, b)
    assert a.verify(b_conf) == b.verify(a_conf)


@pytest.mark.parametrize("w", ["5", b"\x05", 5.0, None])
def test_secret_wrong_type(w):
    with pytest.raises((TypeError, ValueError)):
        Spake2Secret(w)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_from_access_key_wrong_length(size):
    with pytest.raises(ValueError):
        Spake2Secret.from_access_key(bytes(size))


def test_secret_repr_hides_w():
    w = 0x1234567890ABCDEF1234567890ABCDEF
    text = repr(Spake2Secret(w)) + str(Spake2Secret(w))
    assert str(w) not in text
    assert f"{w:x}" not in text.lower()


def test_role_must_be_a_role():
    with pytest.raises((TypeError, ValueError)):
        Spake2(SECRET, role="A", identity_a=ID_A, identity_b=ID_B)


def test_identities_must_be_bytes():
    with pytest.raises(TypeError):
        Spake2(SECRET, role=Role.A, identity_a="client", identity_b=ID_B)


@pytest.mark.parametrize("scalar", [0, ORDER, ORDER + 5, -1])
def test_injected_scalar_out_of_range_is_refused(scalar):
    pake = Spake2(
        SECRET, role=Role.A, identity_a=ID_A, identity_b=ID_B, random_scalar=lambda: scalar
    )
    with pytest.raises(ValueError):
        pake.start()


# --------------------------------------------------------------------------- call order


def test_finish_before_start():
    a, _ = pair()
    with pytest.raises(RuntimeError):
        a.finish(b"\x04" + bytes(64))


def test_verify_before_start_and_before_finish():
    a, _ = pair()
    with pytest.raises(RuntimeError):
        a.verify(bytes(32))
    a.start()
    with pytest.raises(RuntimeError):
        a.verify(bytes(32))


def test_start_twice():
    a, _ = pair()
    a.start()
    with pytest.raises(RuntimeError):
        a.start()


def test_finish_twice_and_start_after_finish():
    a, _b, _p_a, p_b = started()
    a.finish(p_b)
    with pytest.raises(RuntimeError):
        a.finish(p_b)
    with pytest.raises(RuntimeError):
        a.start()


def test_calls_after_success_are_out_of_order():
    a, b = pair()
    a_conf, b_conf = run(a, b)
    assert a.verify(b_conf) == b.verify(a_conf)
    for party, conf in ((a, b_conf), (b, a_conf)):
        with pytest.raises(RuntimeError):
            party.verify(conf)
        with pytest.raises(RuntimeError):
            party.start()
        with pytest.raises(RuntimeError):
            party.finish(b"\x04" + bytes(64))


def test_out_of_order_call_does_not_break_a_good_run():
    a, b = pair()
    with pytest.raises(RuntimeError):
        a.verify(bytes(32))
    a_conf, b_conf = run(a, b)
    assert a.verify(b_conf) == b.verify(a_conf)


def test_failed_state_is_permanent_after_bad_confirmation():
    a, b = pair()
    a_conf, b_conf = run(a, b)
    with pytest.raises(AuthenticationError):
        a.verify(flip(b_conf, 0))
    # Even the genuine confirmation is refused now: one online guess per object.
    with pytest.raises(AuthenticationError):
        a.verify(b_conf)
    assert_failed_forever(a)
    # The honest peer is unaffected by our failure.
    assert len(b.verify(a_conf)) == SESSION_KEY_SIZE


def test_failed_state_is_permanent_after_bad_point():
    a, _b, _p_a, p_b = started()
    with pytest.raises(AuthenticationError):
        a.finish(flip(p_b, 64))  # off the curve
    with pytest.raises(AuthenticationError):
        a.finish(p_b)  # the genuine share no longer helps
    assert_failed_forever(a, p_b)


def test_failed_state_is_permanent_after_reflection():
    a, _b, p_a, p_b = started()
    with pytest.raises(AuthenticationError):
        a.finish(p_a)
    assert_failed_forever(a, p_b)


# --------------------------------------------------------------------------- security properties


def test_honest_exchange_agrees():
    a, b = pair()
    p_a = a.start()
    p_b = b.start()
    for share in (p_a, p_b):
        assert len(share) == SHARE_SIZE and share[0] == 4
    b_conf = b.finish(p_a)
    a_conf = a.finish(p_b)
    assert len(a_conf) == len(b_conf) == CONFIRMATION_SIZE
    assert a_conf != b_conf
    assert a.transcript == b.transcript
    key_b = b.verify(a_conf)
    key_a = a.verify(b_conf)
    assert key_a == key_b
    assert len(key_a) == SESSION_KEY_SIZE
    assert isinstance(key_a, bytes)


def test_relay_order_start_after_receiving():
    # The relay calls start() only once pA has arrived, then finish(pA) at once.
    a, b = pair()
    p_a = a.start()
    p_b = b.start()
    b_conf = b.finish(p_a)
    a_conf = a.finish(p_b)
    assert a.verify(b_conf) == b.verify(a_conf)


def test_wrong_password_fails_on_both_sides():
    a, b = pair(SECRET, OTHER_SECRET)
    a_conf, b_conf = run(a, b)  # the shares themselves are valid points
    with pytest.raises(AuthenticationError):
        b.verify(a_conf)  # the relay refuses the client
    with pytest.raises(AuthenticationError):
        a.verify(b_conf)  # the client refuses the relay
    assert a.transcript != b.transcript
    assert_failed_forever(a)
    assert_failed_forever(b)


def test_tampered_share_valid_point_gives_confirmation_mismatch():
    # A MITM replaces pA by another valid point (pA + G): B can't tell until confirmation.
    a, b, p_a, p_b = started()
    x_a = ECC.EccPoint(
        int.from_bytes(p_a[1:33], "big"), int.from_bytes(p_a[33:], "big"), curve="p256"
    )
    b_conf = b.finish(enc(x_a + G))
    a_conf = a.finish(p_b)
    with pytest.raises(AuthenticationError):
        b.verify(a_conf)
    with pytest.raises(AuthenticationError):
        a.verify(b_conf)


def test_tampered_confirmations_fail():
    for index in (0, 15, 16, 31):
        a, b = pair()
        a_conf, b_conf = run(a, b)
        with pytest.raises(AuthenticationError):
            b.verify(flip(a_conf, index))
        with pytest.raises(AuthenticationError):
            a.verify(flip(b_conf, index, 0x80))


@pytest.mark.parametrize("conf", [b"", bytes(31), bytes(33), bytes(32), bytes(64)])
def test_malformed_confirmation_fails(conf):
    a, b = pair()
    _a_conf, b_conf = run(a, b)
    with pytest.raises(AuthenticationError):
        a.verify(conf)
    with pytest.raises(AuthenticationError):
        a.verify(b_conf)


def test_reflected_confirmation_fails():
    # A MITM bounces A's own confirmation back to it (and B's to B).
    a, b = pair()
    a_conf, b_conf = run(a, b)
    with pytest.raises(AuthenticationError):
        a.verify(a_conf)
    with pytest.raises(AuthenticationError):
        b.verify(b_conf)


def test_reflected_share_is_rejected_both_roles():
    a, b, p_a, p_b = started()
    with pytest.raises(AuthenticationError):
        a.finish(p_a)
    with pytest.raises(AuthenticationError):
        b.finish(p_b)


def _valid_point() -> ECC.EccPoint:
    return G * 0xC0FFEE


def _small_x_point() -> tuple[int, int]:
    """A curve point with x < 2**256 - p, so that x + p still fits in 32 bytes."""
    x = 0
    while True:
        x += 1
        rhs = (x**3 - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)  # p = 3 mod 4
        if y * y % P == rhs:
            return x, y


def _bad_shares():
    good = enc(_valid_point())
    x, y = (int(c) for c in _valid_point().xy)
    sx, sy = _small_x_point()
    assert sx + P < 2**256
    return {
        "empty": b"",
        "identity-sec1": b"\x00",
        "identity-zeros": b"\x04" + bytes(64),
        "off-curve-y+1": b"\x04" + x.to_bytes(32, "big") + ((y + 1) % P).to_bytes(32, "big"),
        "off-curve-x+1": b"\x04" + ((x + 1) % P).to_bytes(32, "big") + y.to_bytes(32, "big"),
        "off-curve-ones": b"\x04" + b"\xff" * 64,
        "truncated-64": good[:64],
        "extended-66": good + b"\x00",
        "no-prefix-64": good[1:],
        "compressed-33": compressed(_valid_point()),
        "compressed-prefix-65": bytes([2 + (y & 1)]) + good[1:],
        "hybrid-06": b"\x06" + good[1:],
        "hybrid-07": b"\x07" + good[1:],
        "prefix-05": b"\x05" + good[1:],
        "x-plus-p": b"\x04" + (sx + P).to_bytes(32, "big") + sy.to_bytes(32, "big"),
        "x-equals-p": b"\x04" + P.to_bytes(32, "big") + sy.to_bytes(32, "big"),
    }


BAD_SHARES = _bad_shares()


@pytest.mark.parametrize("role", [Role.A, Role.B])
@pytest.mark.parametrize("name", sorted(BAD_SHARES))
def test_invalid_peer_share_is_rejected(name, role):
    pake = Spake2(SECRET, role=role, identity_a=ID_A, identity_b=ID_B, aad=AAD)
    pake.start()
    with pytest.raises(AuthenticationError):
        pake.finish(BAD_SHARES[name])
    assert_failed_forever(pake)


def test_small_x_point_control_is_valid():
    # The x+p share above is rejected for its encoding, not because the point is bad: the
    # canonical encoding of the same point is accepted.
    sx, sy = _small_x_point()
    pake = Spake2(SECRET, role=Role.A, identity_a=ID_A, identity_b=ID_B)
    pake.start()
    share = b"\x04" + sx.to_bytes(32, "big") + sy.to_bytes(32, "big")
    assert len(pake.finish(share)) == CONFIRMATION_SIZE


@pytest.mark.parametrize("role", [Role.A, Role.B])
def test_share_giving_identity_k_is_rejected(role):
    # pB = w*N (for A) makes K = x*(pB - w*N) the point at infinity, which has no 65-byte
    # encoding for TT. It must fail cleanly with AuthenticationError, not crash.
    w = 0xDEADBEEF
    secret = Spake2Secret(w)
    blind = N * w if role is Role.A else M * w
    pake = Spake2(secret, role=role, identity_a=ID_A, identity_b=ID_B)
    pake.start()
    with pytest.raises(AuthenticationError):
        pake.finish(enc(blind))
    assert_failed_forever(pake)


@pytest.mark.parametrize(
    "sides",
    [
        {"ids_a": (ID_A, ID_B), "ids_b": identities(flip(ROOM, 0))},
        {"ids_a": (ID_A, ID_B), "ids_b": (ID_B, ID_A)},
        {"ids_a": (b"", ID_B), "ids_b": (ID_A, ID_B)},
        {"ids_a": (ID_A + b"x", ID_B), "ids_b": (ID_A, b"x" + ID_B)},  # shifted bytes
        {"aad_a": AAD, "aad_b": b""},
        {"aad_a": AAD, "aad_b": flip(AAD, 31)},
    ],
)
def test_mismatched_identities_or_aad_fail(sides):
    a, b = pair(**sides)
    a_conf, b_conf = run(a, b)
    with pytest.raises(AuthenticationError):
        b.verify(a_conf)
    with pytest.raises(AuthenticationError):
        a.verify(b_conf)


def test_fresh_ephemeral_scalars():
    # Same secret, same identities, same AAD: every run still has its own transcript,
    # confirmations and session key (forward secrecy rests on this).
    transcripts, confirmations, keys = set(), set(), set()
    for _ in range(5):
        a, b = pair()
        a_conf, b_conf = run(a, b)
        transcripts.add(a.transcript)
        confirmations.add(b_conf)
        keys.add(a.verify(b_conf))
        b.verify(a_conf)
    assert len(transcripts) == len(confirmations) == len(keys) == 5


def test_two_runs_same_secret_give_different_shares():
    firsts = {pair()[0].start() for _ in range(10)}
    assert len(firsts) == 10
    seconds = {pair()[1].start() for _ in range(10)}
    assert len(seconds) == 10
    assert not firsts & seconds


def test_from_access_key_deterministic_and_in_range():
    access = bytes(range(32))
    expected_w = int.from_bytes(derive(access, "spake2 w", length=48), "big") % ORDER
    assert 1 <= expected_w <= ORDER - 1

    def share(secret):
        pake = Spake2(
            secret, role=Role.A, identity_a=ID_A, identity_b=ID_B, random_scalar=lambda: 12345
        )
        return pake.start()

    s1 = Spake2Secret.from_access_key(access)
    s2 = Spake2Secret.from_access_key(bytes(access))
    assert share(s1) == share(s2) == share(Spake2Secret(expected_w))
    # ...and pA = 12345*G + w*M computed independently.
    assert share(s1) == enc(G * 12345 + M * expected_w)
    assert share(Spake2Secret.from_access_key(flip(access, 0))) != share(s1)


def test_session_key_differs_from_shares_and_secret_material():
    a, b = pair()
    a_conf, b_conf = run(a, b)
    key = a.verify(b_conf)
    assert key not in a.transcript
    assert key not in a_conf + b_conf


@settings(max_examples=15, deadline=None)
@given(
    st.integers(min_value=1, max_value=ORDER - 1),
    st.integers(min_value=1, max_value=ORDER - 1),
    st.integers(min_value=1, max_value=ORDER - 1),
    st.binary(max_size=40),
)
def test_property_agreement_and_rfc_equations(w, x, y, aad):
    secret = Spake2Secret(w)
    a = Spake2(
        secret, role=Role.A, identity_a=ID_A, identity_b=ID_B, aad=aad, random_scalar=lambda: x
    )
    b = Spake2(
        secret, role=Role.B, identity_a=ID_A, identity_b=ID_B, aad=aad, random_scalar=lambda: y
    )
    p_a, p_b = a.start(), b.start()
    assert p_a == enc(G * x + M * w)
    assert p_b == enc(G * y + N * w)
    b_conf = b.finish(p_a)
    a_conf = a.finish(p_b)
    assert a.transcript == b.transcript
    assert enc(G * (x * y % ORDER)) in a.transcript  # K = xy*G
    assert a.verify(b_conf) == b.verify(a_conf)


# --------------------------------------------------------------------------- RFC 9382 vectors


def _tt(v) -> bytes:
    # Layout from the vector file's "notes": six fields, each with an 8-byte LE length.
    fields = [
        v["A"].encode(),
        v["B"].encode(),
        bytes.fromhex(v["pA"]),
        bytes.fromhex(v["pB"]),
        bytes.fromhex(v["K"]),
        bytes.fromhex(v["w"]),
    ]
    return b"".join(len(f).to_bytes(8, "little") + f for f in fields)


@pytest.mark.parametrize("v", RFC["vectors"], ids=lambda v: f"A={v['A']!r},B={v['B']!r}")
def test_rfc9382_vector(v):
    h = bytes.fromhex
    assert _tt(v) == h(v["TT"])  # our reading of the layout is the RFC's
    secret = Spake2Secret(int(v["w"], 16))
    ids = {"identity_a": v["A"].encode(), "identity_b": v["B"].encode()}
    a = Spake2(secret, role=Role.A, random_scalar=lambda: int(v["x"], 16), **ids)
    b = Spake2(secret, role=Role.B, random_scalar=lambda: int(v["y"], 16), **ids)

    assert a.start() == h(v["pA"])
    assert b.start() == h(v["pB"])
    assert b.finish(h(v["pA"])) == h(v["B_conf"])
    assert a.finish(h(v["pB"])) == h(v["A_conf"])
    assert a.transcript == b.transcript == h(v["TT"])
    assert a.verify(h(v["B_conf"])) == h(v["Ke"])
    assert b.verify(h(v["A_conf"])) == h(v["Ke"])


@pytest.mark.parametrize("v", RFC["vectors"][:1])
def test_rfc9382_vector_with_aad_changes_confirmations_only(v):
    # AAD enters only the confirmation-key HKDF: same TT and Ke, different confirmations.
    h = bytes.fromhex
    secret = Spake2Secret(int(v["w"], 16))
    ids = {"identity_a": v["A"].encode(), "identity_b": v["B"].encode()}
    a = Spake2(secret, role=Role.A, random_scalar=lambda: int(v["x"], 16), aad=b"x", **ids)
    b = Spake2(secret, role=Role.B, random_scalar=lambda: int(v["y"], 16), aad=b"x", **ids)
    a.start()
    b.start()
    b_conf = b.finish(h(v["pA"]))
    a_conf = a.finish(h(v["pB"]))
    assert a.transcript == h(v["TT"])
    assert a_conf != h(v["A_conf"]) and b_conf != h(v["B_conf"])
    assert a.verify(b_conf) == b.verify(a_conf) == h(v["Ke"])
    # The RFC's (empty-AAD) confirmation must not pass a run bound to a different AAD.
    c = Spake2(secret, role=Role.A, random_scalar=lambda: int(v["x"], 16), aad=b"x", **ids)
    c.start()
    c.finish(h(v["pB"]))
    with pytest.raises(AuthenticationError):
        c.verify(h(v["B_conf"]))


def test_set_aad_after_start_binds_the_confirmations_like_the_constructor_does():
    # The v2 relay signs a hello that carries its share, so it learns the aad only after
    # start(); setting it then must be the same as giving it up front.
    a = Spake2(SECRET, role=Role.A, identity_a=ID_A, identity_b=ID_B, aad=AAD)
    b = Spake2(SECRET, role=Role.B, identity_a=ID_A, identity_b=ID_B)
    share_b = b.start()
    b.set_aad(AAD)
    share_a = a.start()
    confirm_a = a.finish(share_b)
    confirm_b = b.finish(share_a)
    assert b.verify(confirm_a) == a.verify(confirm_b)


def test_set_aad_with_another_value_makes_the_confirmations_disagree():
    a = Spake2(SECRET, role=Role.A, identity_a=ID_A, identity_b=ID_B, aad=AAD)
    b = Spake2(SECRET, role=Role.B, identity_a=ID_A, identity_b=ID_B)
    share_b = b.start()
    b.set_aad(AAD + b"!")
    share_a = a.start()
    confirm_a = a.finish(share_b)
    b.finish(share_a)
    with pytest.raises(AuthenticationError):
        b.verify(confirm_a)


def test_set_aad_only_between_start_and_finish():
    pake = Spake2(SECRET, role=Role.B, identity_a=ID_A, identity_b=ID_B)
    with pytest.raises(RuntimeError):
        pake.set_aad(AAD)  # before start
    other = Spake2(SECRET, role=Role.A, identity_a=ID_A, identity_b=ID_B)
    pake.start()
    pake.finish(other.start())
    with pytest.raises(RuntimeError):
        pake.set_aad(AAD)  # after finish
