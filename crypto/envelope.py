"""End-to-end chat message envelopes: AES-256-GCM under the room's message key.

The relay forwards envelopes without being able to read or change them. Every field a reader
relies on (room, sender, id, time, content type) is bound into the AAD, so an envelope cannot be
moved to another room, another sender or another id without :class:`AuthenticationError`.

Seal with :func:`seal_message` before sending; open with :func:`open_message` using the sender
the relay attests: a mismatch means someone tried to speak in another member's name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes

from crypto._util import as_bytes
from crypto.errors import AuthenticationError

ENVELOPE_VERSION = 1
MESSAGE_ID_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
_AAD_LABEL = b"SocketChat message"


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass(frozen=True)
class MessageHeader:
    """The authenticated, unencrypted facts about one chat message."""

    room_id: bytes
    sender: str
    message_id: bytes
    timestamp_ms: int
    content_type: str = "text/plain"

    def __post_init__(self) -> None:
        if len(self.message_id) != MESSAGE_ID_SIZE:
            raise ValueError(f"message_id must be {MESSAGE_ID_SIZE} bytes")
        if not 0 <= self.timestamp_ms < 2**64:
            raise ValueError("timestamp_ms must fit in an unsigned 64-bit integer")

    def aad(self) -> bytes:
        """Canonical encoding: every field length-prefixed, so no two headers share an AAD."""
        return b"".join(
            (
                _field(_AAD_LABEL),
                struct.pack(">H", ENVELOPE_VERSION),
                _field(bytes(self.room_id)),
                _field(self.sender.encode("utf-8")),
                _field(bytes(self.message_id)),
                struct.pack(">Q", self.timestamp_ms),
                _field(self.content_type.encode("utf-8")),
            )
        )


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"message key must be {KEY_SIZE} bytes")


def seal_message(
    key: bytes, header: MessageHeader, plaintext: bytes, *, nonce: bytes | None = None
) -> bytes:
    """Encrypt ``plaintext``; returns ``nonce || ciphertext || tag``.

    The nonce is random (96 bits): safe for far more messages than a room will ever carry.
    ``nonce`` may be injected by known-answer tests only.
    """
    _check_key(key)
    if nonce is None:
        nonce = get_random_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_SIZE)
    cipher.update(header.aad())
    ciphertext, tag = cipher.encrypt_and_digest(as_bytes(plaintext, "plaintext"))
    return bytes(nonce) + ciphertext + tag


def open_message(key: bytes, header: MessageHeader, sealed: bytes) -> bytes:
    """Decrypt and verify an envelope, or raise :class:`AuthenticationError`."""
    _check_key(key)
    sealed = as_bytes(sealed, "sealed")
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        raise ValueError("sealed message is too short")
    nonce, ciphertext, tag = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:-TAG_SIZE], sealed[-TAG_SIZE:]
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_SIZE)
    cipher.update(header.aad())
    try:
        return cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        raise AuthenticationError("message failed authentication") from None
