"""End-to-end chat message envelopes (protocol v2): signed by the sender, sealed for the room.

An envelope is what a member hands the relay and what every other member receives unchanged::

    envelope  = message_id (16) ‖ signing_key (32) ‖ u32 epoch
                ‖ XChaCha20-Poly1305(sender key of that epoch, aad, plaintext)
    plaintext = u64 counter ‖ u64 timestamp_ms ‖ str8 content_type ‖ bytes32 body ‖ signature (64)
    aad       = "SocketChat v2 message" ‖ room_id (16) ‖ message_id (16) ‖ signing_key (32)
                ‖ u32 epoch ‖ str8 sender
    signature = Ed25519 over :func:`signed_bytes` (context "message")

The relay can neither read nor alter an envelope. The header names the message, its sender's
identity key and the sender's epoch, so a receiver knows which key opens it (:mod:`crypto.epoch`)
before it has the key. The AEAD binds it to its room, id, sender key, epoch and the sender the
relay attests; the signature, made inside the encryption with the sender's
long-term identity key, proves *which member* wrote it — something the shared room key alone
cannot, since every member who may read it holds that key. Call :func:`seal_message` to send and
:func:`open_message` on receipt; any failure raises :class:`AuthenticationError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from crypto import aead
from crypto._util import str8
from crypto.errors import AuthenticationError, SignatureError
from crypto.identity import Identity, verify

MESSAGE_ID_SIZE = 16
KEY_SIZE = 32
SIGNATURE_SIZE = 64
_HEADER = struct.Struct(">16s32sI")  # message id, signing key, epoch
_AAD_LABEL = b"SocketChat v2 message"
_SIGNATURE_CONTEXT = "message"
_MAX_U64 = 2**64 - 1
_MAX_U32 = 2**32 - 1
#: Bytes an envelope adds to its body, at most (a content type of 255 bytes): the relay's size
#: check allows ``max_message_bytes + MAX_OVERHEAD``.
MAX_OVERHEAD = (
    _HEADER.size + aead.XNONCE_SIZE + aead.TAG_SIZE + 8 + 8 + 1 + 255 + 4 + SIGNATURE_SIZE
)
#: The smallest possible envelope (empty content type and body): anything shorter is garbage.
MIN_SIZE = MAX_OVERHEAD - 255


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedMessage:
    """A verified message: every field here was signed by ``signing_key``."""

    message_id: bytes
    epoch: int
    signing_key: bytes
    counter: int
    timestamp_ms: int
    content_type: str
    body: bytes


def message_aad(
    *, room_id: bytes, message_id: bytes, signing_key: bytes, epoch: int, sender: str
) -> bytes:
    """The AEAD's associated data: binds the envelope to its room, id, sender key, epoch and
    attested sender."""
    if len(room_id) != 16 or len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError("room_id and message_id must be 16 bytes")
    if len(signing_key) != KEY_SIZE:
        raise ValueError(f"signing_key must be {KEY_SIZE} bytes")
    header = _HEADER.pack(message_id, signing_key, epoch)
    return _AAD_LABEL + bytes(room_id) + header + str8(sender, "sender")


def signed_bytes(
    *,
    room_id: bytes,
    message_id: bytes,
    epoch: int,
    sender: str,
    signing_key: bytes,
    counter: int,
    timestamp_ms: int,
    content_type: str,
    body: bytes,
) -> bytes:
    """What the sender's signature covers: everything that gives the message its meaning."""
    return b"".join(
        (
            bytes(room_id),
            bytes(message_id),
            struct.pack(">I", epoch),
            str8(sender, "sender"),
            bytes(signing_key),
            struct.pack(">QQ", counter, timestamp_ms),
            str8(content_type, "content type"),
            struct.pack(">I", len(body)),
            bytes(body),
        )
    )


def seal_message(
    key: bytes,
    *,
    identity: Identity,
    room_id: bytes,
    sender: str,
    message_id: bytes,
    epoch: int,
    counter: int,
    timestamp_ms: int,
    content_type: str,
    body: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """Sign and seal one message; returns the envelope to send.

    ``key`` is the epoch's message key, ``counter`` the sender's next counter in that epoch.
    ``nonce`` (24 bytes) is random when not given; the protocol core passes bytes from its
    injectable random source, so known-answer tests can fix it. ``ValueError`` for a field
    that does not fit (id length, counters out of range, content type over 255 bytes).
    """
    if len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError(f"message_id must be {MESSAGE_ID_SIZE} bytes")
    if not (0 <= epoch <= _MAX_U32 and 0 <= counter <= _MAX_U64 and 0 <= timestamp_ms <= _MAX_U64):
        raise ValueError("epoch, counter or timestamp out of range")
    body = bytes(body)
    signing_key = identity.signing_public
    signed = signed_bytes(
        room_id=room_id,
        message_id=message_id,
        epoch=epoch,
        sender=sender,
        signing_key=signing_key,
        counter=counter,
        timestamp_ms=timestamp_ms,
        content_type=content_type,
        body=body,
    )
    signature = identity.sign(signed, context=_SIGNATURE_CONTEXT)
    plaintext = b"".join(
        (
            struct.pack(">QQ", counter, timestamp_ms),
            str8(content_type, "content type"),
            struct.pack(">I", len(body)),
            body,
            signature,
        )
    )
    aad = message_aad(
        room_id=room_id, message_id=message_id, signing_key=signing_key, epoch=epoch, sender=sender
    )
    sealed = aead.seal_random(key, plaintext, aad=aad, nonce=nonce)
    return _HEADER.pack(message_id, signing_key, epoch) + sealed


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """What anyone can read of an envelope: its id, its sender's key and the sender's epoch."""

    message_id: bytes
    signing_key: bytes
    epoch: int


def envelope_header(envelope: bytes | memoryview) -> EnvelopeHeader:
    """The header of an envelope, readable without any key. ``ValueError`` if it is too short
    to be one."""
    if len(envelope) < MIN_SIZE:
        raise ValueError("envelope too short")
    message_id, signing_key, epoch = _HEADER.unpack_from(envelope)
    return EnvelopeHeader(bytes(message_id), bytes(signing_key), int(epoch))


def open_message(key: bytes, envelope: bytes, *, room_id: bytes, sender: str) -> OpenedMessage:
    """Open and verify an envelope attested as sent by ``sender`` in ``room_id``.

    Raises :class:`AuthenticationError` if it does not open under ``key`` for that room and
    sender or is malformed inside, and its subclass :class:`SignatureError` if it opens but its
    signature does not verify under the signing key its header names. The caller must still
    check that key is the one it knows for ``sender``.
    """
    envelope = bytes(envelope)
    try:
        header = envelope_header(envelope)
    except ValueError:
        raise AuthenticationError("envelope too short") from None
    message_id, signing_key, epoch = header.message_id, header.signing_key, header.epoch
    aad = message_aad(
        room_id=room_id, message_id=message_id, signing_key=signing_key, epoch=epoch, sender=sender
    )
    plaintext = aead.open_random(key, envelope[_HEADER.size :], aad=aad)
    try:
        content = _parse_plaintext(plaintext)
    except (ValueError, struct.error, UnicodeDecodeError):
        raise AuthenticationError("envelope contents are malformed") from None
    counter, timestamp_ms, content_type, body, signature = content
    signed = signed_bytes(
        room_id=room_id,
        message_id=message_id,
        epoch=epoch,
        sender=sender,
        signing_key=signing_key,
        counter=counter,
        timestamp_ms=timestamp_ms,
        content_type=content_type,
        body=body,
    )
    try:
        verify(signing_key, signed, signature, context=_SIGNATURE_CONTEXT)
    except AuthenticationError:
        raise SignatureError("the sender's signature does not verify") from None
    return OpenedMessage(
        message_id=message_id,
        epoch=epoch,
        signing_key=signing_key,
        counter=counter,
        timestamp_ms=timestamp_ms,
        content_type=content_type,
        body=body,
    )


def _parse_plaintext(data: bytes) -> tuple[int, int, str, bytes, bytes]:
    view = memoryview(data)
    if len(view) < 16 + 1:
        raise ValueError("truncated")
    counter, timestamp_ms = struct.unpack_from(">QQ", view, 0)
    pos = 16
    type_length = view[pos]
    pos += 1
    content_type = str(view[pos : pos + type_length], "utf-8", "strict")
    pos += type_length
    if len(view) < pos + 4:
        raise ValueError("truncated")
    (body_length,) = struct.unpack_from(">I", view, pos)
    pos += 4
    if len(view) != pos + body_length + SIGNATURE_SIZE:
        raise ValueError("lengths do not add up")
    body = bytes(view[pos : pos + body_length])
    signature = bytes(view[pos + body_length :])
    return counter, timestamp_ms, content_type, body, signature
