"""Sender keys: the random keys a member seals its messages with, and how they are handed out.

Each member sends under its own *sender key*, numbered by an *epoch* that only grows (per
member and room). A sender key is 32 random bytes made by its member and sealed to each other
current member's X25519 identity key with HPKE in PSK mode, the PSK being derived from the
room's ``member`` key (itself from the password): only a device that holds the password *and*
the recipient's private key opens it, so a relay that adds a member of its own without the
password receives nothing it can open. The distributor signs every share it sends.

A member moves to a new epoch when someone leaves, after 500 messages or a day: a fresh random
key, shared again with everyone present. When members only arrive, it moves on by one step of a
one-way ratchet (:func:`next_sender_key`): members who hold the old key compute the new one
themselves, newcomers receive only the new one and cannot go back. A password learned later,
or a member who has left, opens nothing sealed after that::

    message key = derive(sender_key, "messages", room_id ‖ signing key ‖ u32 epoch)
    next key    = derive(sender_key, "next sender key", room_id ‖ signing key ‖ u32 epoch + 1)
    share       = owner signing key (32) ‖ u32 epoch ‖ sealed (80) ‖ signature (64)
    sealed      = HPKE-PSK(recipient dh key, sender_key,
                           info = "SocketChat v2 sender key|" ‖ room_id ‖ owner key ‖ u32 epoch,
                           aad  = recipient signing key ‖ distributor signing key,
                           psk  = derive(member_key, "epoch key psk"))
    signature   = Ed25519(distributor, context "sender key",
                          room_id ‖ recipient signing key ‖ owner key ‖ u32 epoch ‖ sealed)
    membership  = HMAC-SHA256(derive(member_key, "membership"),
                              "SocketChat v2 member|" ‖ room_id ‖ signing key ‖ dh key)

The *owner* of a sender key is the member who sends under it; the *distributor* is whoever
seals it to the recipient: the owner itself, or — for the keys of recent history, when the
owner is away — another member who holds it.

Membership tags let every member check that another member knows the room password without
any interaction: a member list entry whose tag does not verify is not a member (it receives no
keys, and its messages are refused).
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from Crypto.Random import get_random_bytes

from crypto import hpke
from crypto._util import as_bytes
from crypto.errors import AuthenticationError
from crypto.identity import Identity, verify
from crypto.kdf import KEY_SIZE, derive

SENDER_KEY_SIZE = 32
TAG_SIZE = 32
_EPOCH = struct.Struct(">I")
#: A sender key sealed to one member: HPKE's enc (32), the key (32), the tag (16).
SEALED_SIZE = hpke.OVERHEAD + SENDER_KEY_SIZE
#: A whole share: owner key, epoch, sealed key, signature.
SHARE_SIZE = 32 + _EPOCH.size + SEALED_SIZE + 64
_INFO = b"SocketChat v2 sender key|"
_MEMBER_LABEL = b"SocketChat v2 member|"
_SIGNATURE_CONTEXT = "sender key"


def new_sender_key() -> bytes:
    """32 random bytes: the key of a new epoch. Make one per epoch, never reuse."""
    return get_random_bytes(SENDER_KEY_SIZE)


def _context(room_id: bytes, signing_key: bytes, epoch: int) -> bytes:
    if len(room_id) != 16 or len(signing_key) != 32:
        raise ValueError("room_id is 16 bytes and a signing key 32")
    if not 1 <= epoch < 2**32:
        raise ValueError("an epoch is a number from 1 to 2^32 - 1")
    return bytes(room_id) + bytes(signing_key) + _EPOCH.pack(epoch)


def _check_key(sender_key: bytes) -> bytes:
    sender_key = as_bytes(sender_key, "sender_key")
    if len(sender_key) != SENDER_KEY_SIZE:
        raise ValueError(f"a sender key is {SENDER_KEY_SIZE} bytes")
    return sender_key


def message_key(sender_key: bytes, *, room_id: bytes, signing_key: bytes, epoch: int) -> bytes:
    """The key the envelopes of ``signing_key``'s ``epoch`` are sealed with."""
    context = _context(room_id, signing_key, epoch)
    return derive(_check_key(sender_key), "messages", context=context)


def next_sender_key(sender_key: bytes, *, room_id: bytes, signing_key: bytes, epoch: int) -> bytes:
    """The key of ``epoch + 1`` when it follows ``epoch`` by the one-way ratchet (members only
    arrived). Whoever holds the key of ``epoch`` can compute it; not the other way round."""
    context = _context(room_id, signing_key, epoch + 1)
    return derive(_check_key(sender_key), "next sender key", context=context)


@dataclass(frozen=True, slots=True)
class OpenedShare:
    """A sender key received in a share: whose it is, its epoch, and the key."""

    owner: bytes
    epoch: int
    sender_key: bytes


def seal_share(
    sender_key: bytes,
    *,
    distributor: Identity,
    owner: bytes,
    epoch: int,
    recipient_signing: bytes,
    recipient_dh: bytes,
    room_id: bytes,
    member_key: bytes,
) -> bytes:
    """Seal ``owner``'s sender key of ``epoch`` to one member and sign it (see the module
    docstring). :class:`AuthenticationError` if the recipient's X25519 key is refused
    (non-canonical or of low order)."""
    context = _context(room_id, owner, epoch)
    sealed = hpke.seal(
        recipient_dh,
        _check_key(sender_key),
        info=_INFO + context,
        aad=bytes(recipient_signing) + distributor.signing_public,
        psk=_psk(member_key),
    )
    head = bytes(owner) + _EPOCH.pack(epoch)
    signature = distributor.sign(
        bytes(room_id) + bytes(recipient_signing) + head + sealed, context=_SIGNATURE_CONTEXT
    )
    return head + sealed + signature


def open_share(
    identity: Identity, share: bytes, *, distributor: bytes, room_id: bytes, member_key: bytes
) -> OpenedShare:
    """Open a share sealed to ``identity`` by ``distributor`` (its signing key). Raises
    :class:`AuthenticationError` if it is malformed, not signed by ``distributor``, not ours,
    altered, or its distributor did not know the room password."""
    share = bytes(share)
    if len(share) != SHARE_SIZE:
        raise AuthenticationError("a share of the wrong length")
    owner, (epoch,) = share[:32], _EPOCH.unpack_from(share, 32)
    sealed, signature = share[36:-64], share[-64:]
    if epoch == 0:
        raise AuthenticationError("a share for epoch 0")
    signed = bytes(room_id) + identity.signing_public + share[:-64]
    verify(distributor, signed, signature, context=_SIGNATURE_CONTEXT)
    key = hpke.open(
        identity,
        sealed,
        info=_INFO + _context(room_id, owner, epoch),
        aad=identity.signing_public + bytes(distributor),
        psk=_psk(member_key),
    )
    if len(key) != SENDER_KEY_SIZE:
        raise AuthenticationError("a sealed sender key of the wrong length")
    return OpenedShare(owner=owner, epoch=epoch, sender_key=key)


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
