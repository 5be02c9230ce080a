"""One row of the archive: what a message holds, the bounds of every field, and how it is laid
out, sealed and opened.

Private to :mod:`net.client.archive`, which re-exports :class:`StoredMessage` and
:class:`OutgoingMessage` and whose module docstring says what is sealed and what is not.
Nothing here touches the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from crypto.aead import open_random, seal_random
from crypto.errors import AuthenticationError
from net.proto import MESSAGE_ID_SIZE

ROOM_ID_SIZE = 16
MAX_TEXT_BYTES = 64 * 1024
MAX_NAME_BYTES = 255  # also the bound of a signing key and a content type (one length byte)
MAX_LIMIT = 1_000_000
MAX_U64 = 2**64 - 1
MAX_TIMESTAMP_MS = 2**63 - 1  # SQLite's INTEGER is a signed 64-bit number

LABEL = b"SocketChat archive v1|"
BODY_VERSION = 1
# Positions are stored as 8 big-endian bytes: SQLite's INTEGER is signed, so cannot hold every
# u64, and it compares blobs byte by byte, which for these is numeric order.
U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as this device keeps it. ``position`` is the relay's (None until known);
    ``own`` marks what this device sent. The repr shows ids only, never who said what."""

    room_id: bytes
    message_id: bytes
    position: int | None
    sender: str
    signing_key: bytes
    timestamp_ms: int
    text: str
    own: bool
    content_type: str = "text/plain"

    def __repr__(self) -> str:
        return f"StoredMessage(room_id={self.room_id.hex()}, message_id={self.message_id.hex()})"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message written on this device and not yet confirmed by the relay."""

    room_id: bytes
    message_id: bytes
    text: str
    created_ms: int

    def __repr__(self) -> str:
        return f"OutgoingMessage(room_id={self.room_id.hex()}, message_id={self.message_id.hex()})"


# -- input bounds -------------------------------------------------------------------------------


def check_id(value: object, what: str, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return value


def encode(value: object, what: str, limit: int) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a str")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode") from None
    if len(encoded) > limit:
        raise ValueError(f"{what} is longer than {limit} bytes")
    return encoded


def check_int(value: object, what: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ValueError(f"{what} must be an integer from 0 to {maximum}")
    return value


def check_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


# -- sealing ------------------------------------------------------------------------------------


def message_aad(room: bytes, message_id: bytes, timestamp_ms: int, own: bool) -> bytes:
    # Fixed-size fields only, so no two different rows can have the same AAD.
    return b"".join(
        (LABEL, b"message|", room, message_id, U64.pack(timestamp_ms), b"\x01" if own else b"\0")
    )


def outbox_aad(room: bytes, message_id: bytes, created_ms: int) -> bytes:
    return b"".join((LABEL, b"outbox|", room, message_id, U64.pack(created_ms)))


def pack_body(message: StoredMessage) -> bytes:
    """Check every field of ``message`` and lay out the part that gets sealed."""
    check_id(message.room_id, "room_id", ROOM_ID_SIZE)
    check_id(message.message_id, "message_id", MESSAGE_ID_SIZE)
    if message.position is not None:
        check_int(message.position, "position", MAX_U64)
    check_int(message.timestamp_ms, "timestamp_ms", MAX_TIMESTAMP_MS)
    if not isinstance(message.own, bool):
        raise ValueError("own must be a bool")
    sender = encode(message.sender, "sender", MAX_NAME_BYTES)
    content_type = encode(message.content_type, "content_type", MAX_NAME_BYTES)
    key = message.signing_key
    if not isinstance(key, bytes) or len(key) > MAX_NAME_BYTES:
        raise ValueError(f"signing_key must be at most {MAX_NAME_BYTES} bytes")
    text = encode(message.text, "text", MAX_TEXT_BYTES)
    return b"".join(
        (
            bytes((BODY_VERSION, len(sender))),
            sender,
            bytes((len(key),)),
            key,
            bytes((len(content_type),)),
            content_type,
            text,
        )
    )


def unpack_body(body: bytes) -> tuple[str, bytes, str, str]:
    """(sender, signing key, content type, text); ValueError if the layout is wrong."""
    if not body or body[0] != BODY_VERSION:
        raise ValueError("unknown body version")
    fields: list[bytes] = []
    at = 1
    for _ in range(3):
        if at >= len(body) or at + 1 + body[at] > len(body):
            raise ValueError("truncated body")
        fields.append(body[at + 1 : at + 1 + body[at]])
        at += 1 + body[at]
    sender, key, content_type = fields
    return sender.decode("utf-8"), key, content_type.decode("utf-8"), body[at:].decode("utf-8")


def decode_position(stored: object) -> int | None:
    if stored is None:
        return None
    if not isinstance(stored, bytes) or len(stored) != U64.size:
        raise ValueError("bad position")
    return int(U64.unpack(stored)[0])


def valid_position(stored: object) -> int | None:
    """The position kept in a row, or None if it is not one (none, or damaged)."""
    if not isinstance(stored, bytes) or len(stored) != U64.size:
        return None
    return int(U64.unpack(stored)[0])


def seal_message(key: bytes, message: StoredMessage) -> bytes:
    """Check every field of ``message`` (``ValueError``) and seal its body under ``key``."""
    body = pack_body(message)
    aad = message_aad(message.room_id, message.message_id, message.timestamp_ms, message.own)
    return seal_random(key, body, aad=aad)


def open_rows(
    key: bytes, rows: Iterable[tuple[Any, ...]], on_damaged: Callable[[int], None]
) -> Iterator[tuple[int, StoredMessage]]:
    """(row id, message) for each row (id, room, message id, position, timestamp, own, body)
    that opens under ``key``; the row id of each one that does not goes to ``on_damaged``."""
    # One object per distinct room id, sender, key and content type: a warmed room of
    # 100,000 messages from a few senders keeps a few of each, not 100,000.
    shared: dict[object, Any] = {}
    for row_id, room, message_id, position, timestamp_ms, own, body in rows:
        try:
            aad = message_aad(room, message_id, timestamp_ms, bool(own))
            plain = open_random(key, body, aad=aad)
            sender, signing_key, content_type, text = unpack_body(plain)
            stored_position = decode_position(position)
        except (AuthenticationError, ValueError, TypeError, struct.error):
            # Altered in the file (or by a bug): shown to nobody.
            on_damaged(row_id)
            continue
        yield (
            row_id,
            StoredMessage(
                room_id=shared.setdefault(room, room),
                message_id=message_id,
                position=stored_position,
                sender=shared.setdefault(sender, sender),
                signing_key=shared.setdefault(signing_key, signing_key),
                timestamp_ms=timestamp_ms,
                text=text,
                own=bool(own),
                content_type=shared.setdefault(content_type, content_type),
            ),
        )
