"""Strict checks on Ed25519 and X25519 encodings, the ones pycryptodome leaves to its callers.

pycryptodome 4.4 decodes any Ed25519 point, including the eight of small order (the identity
among them), and its verification is cofactored: with such a public key, one signature can
verify for many messages. A device identity must never be one of those keys, so the checks here
are explicit and do not depend on what a given pycryptodome version happens to reject.

Used by :mod:`crypto.identity` only; everything raises ``ValueError`` and callers turn it into
their own error.
"""

from __future__ import annotations

import functools

from Crypto.PublicKey.ECC import EccKey
from Crypto.Signature import eddsa

#: The field prime 2^255 - 19 shared by Ed25519 and X25519.
P = 2**255 - 19
#: The order of the Ed25519 base point (the prime-order subgroup); the cofactor is 8.
L = 2**252 + 27742317777372353535851937790883648493
COFACTOR = 8
ENCODING_SIZE = 32

_LOW_255 = (1 << 255) - 1

# The canonical encodings of the eight Ed25519 points of order dividing 8 (the torsion
# subgroup). The test suite proves the list complete: eight distinct points P with 8P = O.
# Non-canonical spellings of these points (y >= p, or x = 0 with the sign bit set) are refused
# by ed25519_canonical() before this list is consulted. Little-endian, as RFC 8032 encodes.
ED25519_SMALL_ORDER = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # identity, order 1
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # (0, -1), order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    )
)

# X25519 public values u (canonical, u < p) for which X25519 gives the all-zero output for
# every clamped scalar: points of small order on the curve or its twist (the list libsodium
# keeps). Their non-canonical forms (u + p, or the top bit set) are refused by
# x25519_canonical(); the zero-output check in Identity.dh() is the last line of defence.
X25519_LOW_ORDER = frozenset(
    (
        0,
        1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
        P - 1,
    )
)


def ed25519_canonical(encoding: bytes) -> bool:
    """True if ``encoding`` is the one RFC 8032 encoding of some y and sign of x.

    Refuses y >= p, and the sign bit set on a point whose x is 0 (y = 1 or y = p - 1): both
    would give a second byte string for a point that already has one.
    """
    if len(encoding) != ENCODING_SIZE:
        return False
    value = int.from_bytes(encoding, "little")
    y, sign = value & _LOW_255, value >> 255
    if y >= P:
        return False
    return not (sign and y in (1, P - 1))


def ed25519_small_order(encoding: bytes) -> bool:
    """True if a canonical ``encoding`` is one of the eight points of order dividing 8."""
    return encoding in ED25519_SMALL_ORDER


# 1,024 keys: each cached key object holds about 1 KiB, and a relay of thousands of members
# needs each key once (its JOIN proof); a client needs those of the members who talk.
@functools.lru_cache(maxsize=1024)
def ed25519_public_key(encoding: bytes) -> EccKey:
    """Decode a peer's Ed25519 public key, refusing anything an honest key generator cannot
    produce; raises ``ValueError``.

    Checks, in order: 32 bytes; canonical encoding; a point on the curve; not of small order
    (8A != O); in the prime-order subgroup (L*A == O, which also refuses the "mixed order"
    keys that add a torsion component to a genuine key). The two scalar multiplications cost
    about 0.25 ms, so results are cached by encoding: members' keys are checked once per run.
    """
    if len(encoding) != ENCODING_SIZE:
        raise ValueError(f"an Ed25519 public key is {ENCODING_SIZE} bytes")
    if not ed25519_canonical(encoding):
        raise ValueError("Ed25519 public key is not canonically encoded")
    try:
        key = eddsa.import_public_key(encoding)
    except ValueError:
        raise ValueError("Ed25519 public key is not a point on the curve") from None
    point = key.pointQ
    # Explicit on purpose: pycryptodome accepts these keys (see the module docstring).
    if ed25519_small_order(encoding) or (point * COFACTOR).is_point_at_infinity():
        raise ValueError("Ed25519 public key has small order")
    if not (point * L).is_point_at_infinity():
        raise ValueError("Ed25519 public key is not in the prime-order subgroup")
    return key


def x25519_canonical(encoding: bytes) -> bool:
    """True if ``encoding`` is 32 bytes holding u < p with the unused top bit clear.

    RFC 7748 tells generic X25519 code to mask the top bit and reduce u; identity keys have
    one encoding only, so that one key never has two byte strings (two fingerprints).
    """
    if len(encoding) != ENCODING_SIZE:
        return False
    return int.from_bytes(encoding, "little") < P


def x25519_check_public(encoding: bytes) -> None:
    """Raise ``ValueError`` unless ``encoding`` is a canonical X25519 public value whose
    shared secrets are not forced to zero (not a low-order point)."""
    if len(encoding) != ENCODING_SIZE:
        raise ValueError(f"an X25519 public key is {ENCODING_SIZE} bytes")
    if not x25519_canonical(encoding):
        raise ValueError("X25519 public key is not canonically encoded")
    if int.from_bytes(encoding, "little") in X25519_LOW_ORDER:
        raise ValueError("X25519 public key has low order")
