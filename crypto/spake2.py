"""SPAKE2 (RFC 9382), ciphersuite SPAKE2-P256-SHA256-HKDF-HMAC, with key confirmation.

Both sides know the secret scalar ``w`` (derived from the room's access key). Each sends one
share; each then proves it computed the same transcript by a MAC over it. An eavesdropper learns
nothing to test password guesses against, and an active attacker gets one guess per run.

Use it as a start → finish → verify object::

    pake = Spake2(secret, role=Role.A, identity_a=a, identity_b=b, aad=hello_hash)
    send(pake.start())
    my_confirmation = pake.finish(peer_share)      # AuthenticationError on a bad point
    send(my_confirmation)
    session_key = pake.verify(peer_confirmation)   # AuthenticationError on any mismatch

After any failure the object refuses all further input.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable

from Crypto.PublicKey import ECC

from crypto.errors import AuthenticationError
from crypto.kdf import derive, hkdf_sha256

SHARE_SIZE = 65
CONFIRMATION_SIZE = 32
SESSION_KEY_SIZE = 16

_CURVE = "p256"
# NIST P-256 domain parameters (FIPS 186-4, D.1.2.3): field prime, group order, base point.
_FIELD = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = ECC.EccPoint(
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    curve=_CURVE,
)
_SCALAR_SIZE = 32


# RFC 9382, section 6: the P-256 constants M and N (compressed SEC1).
def _constant(sec1_hex: str) -> ECC.EccPoint:
    return ECC.import_key(bytes.fromhex(sec1_hex), curve_name="P-256").pointQ


_M = _constant("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")
_N = _constant("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")


class Role(enum.Enum):
    """A sends the first share (our client); B answers (our relay)."""

    A = "A"
    B = "B"


def identities(room_id: bytes) -> tuple[bytes, bytes]:
    """The SPAKE2 identities (A, B) for a room: they bind the protocol version and the room."""
    return b"SocketChat/2 client", b"SocketChat/2 relay " + bytes(room_id).hex().encode("ascii")


class Spake2Secret:
    """The shared scalar ``w`` plus the points that depend only on it, computed once per room."""

    __slots__ = ("_neg_w_m", "_neg_w_n", "_w_m", "_w_n", "w")

    def __init__(self, w: int) -> None:
        if not 0 < w < _ORDER:
            raise ValueError("w must be in [1, n-1]")
        self.w = w
        self._w_m = _M * w
        self._w_n = _N * w
        self._neg_w_m = -self._w_m
        self._neg_w_n = -self._w_n

    @classmethod
    def from_access_key(cls, access: bytes) -> Spake2Secret:
        """Map the room's 32-byte access key to ``w`` (48 bytes reduced mod n: bias < 2^-128)."""
        if len(access) != 32:
            raise ValueError("access key must be 32 bytes")
        w = int.from_bytes(derive(access, "spake2 w", length=48), "big") % _ORDER
        return cls(w or 1)

    def __repr__(self) -> str:
        return "Spake2Secret(<hidden>)"


def _random_scalar() -> int:
    return secrets.randbelow(_ORDER - 1) + 1


def _encode_point(point: ECC.EccPoint) -> bytes:
    x, y = point.xy
    return b"\x04" + int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def _decode_point(data: bytes) -> ECC.EccPoint:
    if len(data) != SHARE_SIZE or data[0] != 4:
        raise AuthenticationError("peer share is not an uncompressed P-256 point")
    x = int.from_bytes(data[1:33], "big")
    y = int.from_bytes(data[33:], "big")
    if x >= _FIELD or y >= _FIELD:
        raise AuthenticationError("peer share is out of range")
    try:
        point = ECC.EccPoint(x, y, curve=_CURVE)
    except ValueError:
        raise AuthenticationError("peer share is not on the curve") from None
    # pycryptodome spells the point at infinity as (0, 0); it is not a valid share.
    if point.is_point_at_infinity():
        raise AuthenticationError("peer share is the identity")
    return point


def _length_prefixed(*fields: bytes) -> bytes:
    return b"".join(struct.pack("<Q", len(f)) + f for f in fields)


class _State(enum.Enum):
    NEW = "new"
    STARTED = "started"
    FINISHED = "finished"
    VERIFIED = "verified"
    FAILED = "failed"


class Spake2:
    """One SPAKE2 run. Create a fresh object per connection attempt."""

    def __init__(
        self,
        secret: Spake2Secret,
        *,
        role: Role,
        identity_a: bytes,
        identity_b: bytes,
        aad: bytes = b"",
        random_scalar: Callable[[], int] | None = None,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError("role must be a Role")
        self._secret = secret
        self._role = role
        self._identity_a = bytes(identity_a)
        self._identity_b = bytes(identity_b)
        self._aad = bytes(aad)
        self._random_scalar = random_scalar or _random_scalar
        self._state = _State.NEW
        self._scalar = 0
        self._my_share = b""
        self._peer_confirmation_key = b""
        self._session_key = b""
        self.transcript = b""

    def _require(self, state: _State) -> None:
        if self._state is _State.FAILED:
            raise AuthenticationError("this SPAKE2 run has already failed")
        if self._state is not state:
            raise RuntimeError(f"SPAKE2 call out of order (state {self._state.value})")

    def _fail(self, reason: str) -> AuthenticationError:
        self._state = _State.FAILED
        self._scalar = 0
        self._session_key = b""
        return AuthenticationError(reason)

    def start(self) -> bytes:
        """Pick the ephemeral scalar and return this side's 65-byte share. Call once."""
        self._require(_State.NEW)
        scalar = self._random_scalar()
        if not 0 < scalar < _ORDER:
            raise ValueError("ephemeral scalar out of range")
        self._scalar = scalar
        blind = self._secret._w_m if self._role is Role.A else self._secret._w_n
        self._my_share = _encode_point(_G * scalar + blind)
        self._state = _State.STARTED
        return self._my_share

    def set_aad(self, aad: bytes) -> None:
        """Set the aad after :meth:`start` and before :meth:`finish`: for a side whose share is
        itself covered by the aad (the v2 relay signs a hello that carries its share)."""
        self._require(_State.STARTED)
        self._aad = bytes(aad)

    def finish(self, peer_share: bytes) -> bytes:
        """Take the peer's share; return this side's confirmation MAC to send."""
        self._require(_State.STARTED)
        peer_share = bytes(peer_share)
        if hmac.compare_digest(peer_share, self._my_share):
            raise self._fail("peer reflected our own share")
        try:
            peer = _decode_point(peer_share)
        except AuthenticationError as exc:
            raise self._fail(str(exc)) from None
        unblind = self._secret._neg_w_n if self._role is Role.A else self._secret._neg_w_m
        k_point = (peer + unblind) * self._scalar
        if k_point.is_point_at_infinity():
            raise self._fail("shared point is the identity")
        share_a, share_b = (
            (self._my_share, peer_share) if self._role is Role.A else (peer_share, self._my_share)
        )
        self.transcript = _length_prefixed(
            self._identity_a,
            self._identity_b,
            share_a,
            share_b,
            _encode_point(k_point),
            self._secret.w.to_bytes(_SCALAR_SIZE, "big"),
        )
        digest = hashlib.sha256(self.transcript).digest()
        session_key, confirmation_root = digest[:16], digest[16:]
        confirmation_keys = hkdf_sha256(
            confirmation_root, salt=b"", info=b"ConfirmationKeys" + self._aad, length=32
        )
        key_a, key_b = confirmation_keys[:16], confirmation_keys[16:]
        mine, theirs = (key_a, key_b) if self._role is Role.A else (key_b, key_a)
        self._peer_confirmation_key = theirs
        self._session_key = session_key
        self._scalar = 0
        self._state = _State.FINISHED
        return hmac.new(mine, self.transcript, hashlib.sha256).digest()

    def verify(self, peer_confirmation: bytes) -> bytes:
        """Check the peer's confirmation in constant time; return the 16-byte session key."""
        self._require(_State.FINISHED)
        expected = hmac.new(self._peer_confirmation_key, self.transcript, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, bytes(peer_confirmation)):
            raise self._fail("peer confirmation does not match: wrong password or tampering")
        self._state = _State.VERIFIED
        return self._session_key
