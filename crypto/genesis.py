"""A room's birth certificate: who owns it and how it is set, bound to its id.

The identity that creates a room is its owner. The room id is derived from the owner's signing
key and a random nonce, and the owner signs the room's settings, so the relay cannot present
another owner or other settings without changing the room id — and the room id is the scrypt
salt, so a different id means different keys and a handshake that fails::

    room_id   = SHA-256("SocketChat v2 room id|" ‖ owner signing key ‖ nonce (16))[:16]
    signature = Ed25519(owner, context "room", room_id ‖ owner key ‖ u8 settings)

Make one with :meth:`Genesis.create` when a room is created (``room create``, Host a room); a
relay keeps it in the room file and sends it in its hello; clients call :meth:`Genesis.check`.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from Crypto.Random import get_random_bytes

from crypto.errors import AuthenticationError
from crypto.identity import Identity, verify

NONCE_SIZE = 16
ROOM_ID_SIZE = 16
SIZE = 32 + NONCE_SIZE + 1 + 64  # owner key, nonce, settings, signature
_ID_LABEL = b"SocketChat v2 room id|"
_CONTEXT = "room"


class RoomSettings(enum.IntFlag):
    """Choices made once, when the room is created."""

    #: New members can read recent history (a present member shares the keys for it). Without
    #: it, newcomers see only what is sent after they join.
    HISTORY_FOR_NEWCOMERS = 1


def room_id_for(owner_key: bytes, nonce: bytes) -> bytes:
    """The room id of a room created by ``owner_key`` with ``nonce``."""
    if len(owner_key) != 32 or len(nonce) != NONCE_SIZE:
        raise ValueError("the owner key is 32 bytes and the nonce 16")
    return hashlib.sha256(_ID_LABEL + bytes(owner_key) + bytes(nonce)).digest()[:ROOM_ID_SIZE]


@dataclass(frozen=True, slots=True, kw_only=True)
class Genesis:
    """The owner's signed statement creating a room (see the module docstring)."""

    owner_key: bytes
    nonce: bytes
    settings: RoomSettings
    signature: bytes

    @property
    def room_id(self) -> bytes:
        return room_id_for(self.owner_key, self.nonce)

    @classmethod
    def create(
        cls,
        owner: Identity,
        *,
        settings: RoomSettings = RoomSettings.HISTORY_FOR_NEWCOMERS,
        nonce: bytes | None = None,
    ) -> Genesis:
        """A new room owned by ``owner``. ``nonce`` is random unless a test fixes it."""
        nonce = get_random_bytes(NONCE_SIZE) if nonce is None else bytes(nonce)
        room_id = room_id_for(owner.signing_public, nonce)
        signature = owner.sign(_signed(room_id, owner.signing_public, settings), context=_CONTEXT)
        return cls(
            owner_key=owner.signing_public, nonce=nonce, settings=settings, signature=signature
        )

    def check(self, room_id: bytes) -> None:
        """Raise :class:`AuthenticationError` unless this genesis creates ``room_id`` and its
        owner signed these settings."""
        if self.room_id != bytes(room_id):
            raise AuthenticationError("the room's owner and id do not match")
        verify(
            self.owner_key,
            _signed(self.room_id, self.owner_key, self.settings),
            self.signature,
            context=_CONTEXT,
        )

    def encode(self) -> bytes:
        return (
            bytes(self.owner_key)
            + bytes(self.nonce)
            + bytes((int(self.settings),))
            + bytes(self.signature)
        )

    @classmethod
    def decode(cls, data: bytes) -> Genesis:
        """Parse :meth:`encode`'s bytes; ``ValueError`` for a wrong length (nothing checked:
        call :meth:`check`)."""
        if len(data) != SIZE:
            raise ValueError(f"a genesis is {SIZE} bytes")
        return cls(
            owner_key=bytes(data[:32]),
            nonce=bytes(data[32:48]),
            settings=RoomSettings(data[48] & int(RoomSettings.HISTORY_FOR_NEWCOMERS)),
            signature=bytes(data[49:]),
        )


def _signed(room_id: bytes, owner_key: bytes, settings: RoomSettings) -> bytes:
    return bytes(room_id) + bytes(owner_key) + bytes((int(settings),))
