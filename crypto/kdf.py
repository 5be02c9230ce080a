"""Key derivation: scrypt once per room, then labelled HKDF-SHA256 subkeys.

::

    master  = scrypt(password, salt=room_id, N=2**17, r=8, p=1, 32 bytes)
    access  = derive(master, "access")    # the relay's verifier and the SPAKE2 secret
    message = derive(master, "message")   # the end-to-end key; never leaves the members

Derive once per room with :func:`derive_room_keys` and keep the :class:`RoomKeys` for
reconnects: scrypt at this cost takes most of a second on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF, scrypt

from crypto.password import normalize_password

SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
SALT_SIZE = 16
KEY_SIZE = 32
# Every derive() info string starts with this. Protocol v2 changed it from b"SocketChat v1|", so
# no v2 key can ever equal a v1 key derived from the same secret for the same purpose.
_LABEL = b"SocketChat v2|"


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """Plain RFC 5869 HKDF-SHA256. Prefer :func:`derive`, which labels every key."""
    return HKDF(ikm, length, salt, SHA256, context=info)


def derive(key: bytes, purpose: str, *, length: int = KEY_SIZE, context: bytes = b"") -> bytes:
    """Derive a subkey of ``key`` for one ``purpose``; different purposes give unrelated keys.

    ``context`` binds the subkey to a session (for instance a transcript hash).
    """
    if len(key) < 16:
        raise ValueError("key must be at least 16 bytes")
    if not purpose or "|" in purpose:
        raise ValueError("purpose must be a non-empty label without '|'")
    if not 1 <= length <= 255 * 32:
        raise ValueError("length out of range for HKDF-SHA256")
    info = _LABEL + purpose.encode("utf-8") + b"|" + bytes(context)
    return hkdf_sha256(bytes(key), salt=b"", info=info, length=length)


def scrypt_raw(password: bytes, *, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    """Plain RFC 7914 scrypt. Prefer :func:`master_key`, whose parameters are fixed."""
    return scrypt(password, salt, length, N=n, r=r, p=p)


def master_key(password: str | bytes, *, salt: bytes, n: int = SCRYPT_N) -> bytes:
    """Stretch a room password into the 32-byte master key.

    A ``str`` is normalised first; ``bytes`` must already be :func:`normalize_password` output.
    ``n`` exists only so tests can run cheaply: the protocol fixes it and nothing that arrives
    from the network ever sets it.
    """
    if len(salt) != SALT_SIZE:
        raise ValueError(f"salt must be {SALT_SIZE} bytes")
    secret = normalize_password(password) if isinstance(password, str) else bytes(password)
    if not secret:
        raise ValueError("password must not be empty")
    return scrypt_raw(secret, salt=bytes(salt), n=n, r=SCRYPT_R, p=SCRYPT_P, length=KEY_SIZE)


@dataclass(frozen=True, repr=False)
class RoomKeys:
    """The keys one member holds for one room. ``room_id`` is also the scrypt salt.

    A relay must never be handed a RoomKeys: it gets ``access`` only. ``member`` proves the
    password to the other members (membership tags, the PSK of sender-key shares,
    :mod:`crypto.epoch`); no message is ever sealed with a key from the password.
    """

    room_id: bytes
    access: bytes
    member: bytes

    def __post_init__(self) -> None:
        if len(self.room_id) != SALT_SIZE:
            raise ValueError(f"room_id must be {SALT_SIZE} bytes")
        if len(self.access) != KEY_SIZE or len(self.member) != KEY_SIZE:
            raise ValueError(f"keys must be {KEY_SIZE} bytes")

    @classmethod
    def from_master(cls, master: bytes, *, room_id: bytes) -> RoomKeys:
        """Split a master key into the labelled room keys."""
        return cls(
            room_id=bytes(room_id),
            access=derive(master, "access"),
            member=derive(master, "member"),
        )

    def __repr__(self) -> str:
        return f"RoomKeys(room_id={self.room_id.hex()}, keys=<hidden>)"

    __str__ = __repr__


def derive_room_keys(password: str | bytes, *, room_id: bytes, n: int = SCRYPT_N) -> RoomKeys:
    """Run scrypt once and return every key a member needs for the room ``room_id``."""
    return RoomKeys.from_master(master_key(password, salt=room_id, n=n), room_id=room_id)
