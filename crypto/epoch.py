"""Epoch keys: the random message keys current members share, and how they are handed out.

A room's messages are sealed under the key of an *epoch*. An epoch key is 32 random bytes made
by one member (the distributor) and sealed to each current member's X25519 identity key with
HPKE in PSK mode, the PSK being the room's ``member`` key (derived from the password): only a
device that holds the password *and* the recipient's private key opens it, so a relay that adds
a member of its own without the password receives nothing it can open. A new epoch starts when
someone leaves or is removed, and after enough messages or time: a password learned later, or a
member who has left, opens nothing sealed under a newer epoch key.

::

    message key  = derive(epoch_key, "messages", room_id ‖ u32 epoch)
    sealed share = HPKE-PSK(recipient dh key, epoch_key,
                            info = "SocketChat v2 epoch key|" ‖ room_id ‖ u32 epoch,
                            aad  = recipient signing key, psk = member key)
    membership   = HMAC-SHA256(derive(member_key, "membership"),
                               "SocketChat v2 member|" ‖ room_id ‖ signing key ‖ dh key)

Membership tags let every member check that another member knows the room password without
any interaction: a member list entry whose tag does not verify is not a member (it receives no
keys, and its messages are refused).
"""

from __future__ import annotations

import hmac
import struct

from Crypto.Random import get_random_bytes

from crypto import hpke
from crypto._util import as_bytes
from crypto.errors import AuthenticationError
from crypto.identity import Identity
from crypto.kdf import KEY_SIZE, derive

EPOCH_KEY_SIZE = 32
TAG_SIZE = 32
#: An epoch key sealed to one member: HPKE's enc (32), the key (32), the tag (16).
SEALED_SHARE_SIZE = hpke.OVERHEAD + EPOCH_KEY_SIZE
_INFO = b"SocketChat v2 epoch key|"
_MEMBER_LABEL = b"SocketChat v2 member|"


def new_epoch_key() -> bytes:
    """32 random bytes: the key of a new epoch. Make one per epoch, never reuse."""
    return get_random_bytes(EPOCH_KEY_SIZE)


def _epoch_context(room_id: bytes, epoch: int) -> bytes:
    if len(room_id) != 16:
        raise ValueError("room_id must be 16 bytes")
    if not 1 <= epoch < 2**32:
        raise ValueError("an epoch is a number from 1 to 2^32 - 1")
    return bytes(room_id) + struct.pack(">I", epoch)


def message_key(epoch_key: bytes, *, room_id: bytes, epoch: int) -> bytes:
    """The key envelopes of ``epoch`` are sealed with (crypto.envelope's ``key``)."""
    if len(epoch_key) != EPOCH_KEY_SIZE:
        raise ValueError(f"an epoch key is {EPOCH_KEY_SIZE} bytes")
    return derive(epoch_key, "messages", context=_epoch_context(room_id, epoch))


def seal_share(
    epoch_key: bytes,
    *,
    recipient_signing: bytes,
    recipient_dh: bytes,
    room_id: bytes,
    epoch: int,
    member_key: bytes,
) -> bytes:
    """Seal ``epoch_key`` to one member (HPKE PSK mode). :class:`AuthenticationError` if the
    recipient's X25519 key is refused (non-canonical or of low order)."""
    if len(epoch_key) != EPOCH_KEY_SIZE:
        raise ValueError(f"an epoch key is {EPOCH_KEY_SIZE} bytes")
    return hpke.seal(
        recipient_dh,
        epoch_key,
        info=_INFO + _epoch_context(room_id, epoch),
        aad=bytes(recipient_signing),
        psk=_psk(member_key),
    )


def open_share(
    identity: Identity, sealed: bytes, *, room_id: bytes, epoch: int, member_key: bytes
) -> bytes:
    """Open an epoch key sealed to ``identity``; :class:`AuthenticationError` if it is not
    ours, was altered, or the sender did not know the room password."""
    key = hpke.open(
        identity,
        sealed,
        info=_INFO + _epoch_context(room_id, epoch),
        aad=identity.signing_public,
        psk=_psk(member_key),
    )
    if len(key) != EPOCH_KEY_SIZE:
        raise AuthenticationError("a sealed epoch key of the wrong length")
    return key


def _psk(member_key: bytes) -> bytes:
    member_key = as_bytes(member_key, "member_key")
    if len(member_key) != KEY_SIZE:
        raise ValueError(f"the member key is {KEY_SIZE} bytes")
    return derive(member_key, "epoch key psk")


def membership_tag(
    member_key: bytes, *, room_id: bytes, signing_key: bytes, dh_key: bytes
) -> bytes:
    """The tag a member publishes with its identity keys: proof it knows the room password."""
    member_key = as_bytes(member_key, "member_key")
    if len(member_key) != KEY_SIZE or len(room_id) != 16:
        raise ValueError("the member key is 32 bytes and a room id 16")
    if len(signing_key) != 32 or len(dh_key) != 32:
        raise ValueError("identity keys are 32 bytes each")
    key = derive(member_key, "membership")
    message = _MEMBER_LABEL + bytes(room_id) + bytes(signing_key) + bytes(dh_key)
    return hmac.new(key, message, "sha256").digest()


def check_membership(
    member_key: bytes, tag: bytes, *, room_id: bytes, signing_key: bytes, dh_key: bytes
) -> None:
    """Raise :class:`AuthenticationError` unless ``tag`` proves the password for these keys."""
    expected = membership_tag(member_key, room_id=room_id, signing_key=signing_key, dh_key=dh_key)
    if not hmac.compare_digest(expected, bytes(tag)):
        raise AuthenticationError("membership tag does not verify")
