"""One row of the archive: what a message holds, the bounds of every field, and how it is laid
out, sealed and opened.

Private to :mod:`net.client.archive`, which re-exports :class:`StoredMessage` and
:class:`OutgoingMessage` and whose module docstring says what is sealed and what is not.
Nothing here touches the file.

Versions of what is sealed (its first byte). A message row: 1 (text only) is
``1 ‖ str8 sender ‖ str8 signing_key ‖ str8 content_type ‖ text``; 2, written since replies,
file offers and private messages, is ``2 ‖ str8 sender ‖ str8 signing_key ‖ str8 content_type
‖ str8 private_with ‖ str8 private_name ‖ u32 text length ‖ text ‖ body``. An outbox row: 1 is
``1 ‖ text``; 2 is ``2 ‖ str8 content_type ‖ u32 text length ‖ text ‖ body`` (the body as
sealed in the envelope: a reply's, or the private box, so a resend carries the same bytes).
Both versions are read; only 2 is written (an older app counts such rows as damaged).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from crypto.aead import open_random, seal_random
from crypto.errors import AuthenticationError
from net.client import events as ce
from net.client.content import decode
from net.proto import MESSAGE_ID_SIZE, ContentError, PendingMessage

ROOM_ID_SIZE = 16
MAX_TEXT_BYTES = 64 * 1024
MAX_NAME_BYTES = 255  # also the bound of a signing key and a content type (one length byte)
MAX_LIMIT = 1_000_000
MAX_U64 = 2**64 - 1
MAX_TIMESTAMP_MS = 2**63 - 1  # SQLite's INTEGER is a signed 64-bit number

LABEL = b"SocketChat archive v1|"
BODY_VERSION = 2  # what is written; 1 is read too (see the module docstring)
_TEXT_ONLY = 1
_TEXT_TYPE = "text/plain"
_LENGTH = struct.Struct(">I")
_SIGNING_KEY_SIZE = 32  # a private message's other person
# Positions are stored as 8 big-endian bytes: SQLite's INTEGER is signed, so cannot hold every
# u64, and it compares blobs byte by byte, which for these is numeric order.
U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as this device keeps it. ``position`` is the relay's (None until known);
    ``own`` marks what this device sent. The repr shows ids only, never who said what.

    ``content_type`` and ``body`` are those of what was shown: for a private message, the
    content inside its box (``body`` empty for text, which ``text`` holds). ``text`` is the
    readable text (a reply's own text, a file's name), what search looks through;
    :attr:`content` reads the rest. ``private_with`` and ``private_name``: the other person
    of a private message (as in ``MessageReceived``), None and empty otherwise. A file
    offer's body holds the file's key: it stays sealed here, and exports leave it out."""

    room_id: bytes
    message_id: bytes
    position: int | None
    sender: str
    signing_key: bytes
    timestamp_ms: int
    text: str
    own: bool
    content_type: str = _TEXT_TYPE
    body: bytes = b""
    private_with: bytes | None = None
    private_name: str = ""

    def __repr__(self) -> str:
        return f"StoredMessage(room_id={self.room_id.hex()}, message_id={self.message_id.hex()})"

    @property
    def content(self) -> ce.Content:
        """What the message says, as ``MessageReceived.content`` said it."""
        try:
            return decode(self.content_type, self.body, self.text)[0]
        except ContentError:  # it parsed when it arrived: a row altered since, or a bug
            return ce.UnknownContent(content_type=self.content_type)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message written on this device and not yet confirmed by the relay: its readable
    ``text`` and, for any type but text, the ``body`` sealed (a reply's, a private box)."""

    room_id: bytes
    message_id: bytes
    text: str
    created_ms: int
    content_type: str = _TEXT_TYPE
    body: bytes = b""

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


def _str8(data: bytes) -> bytes:
    return bytes((len(data),)) + data


def _bytes_field(value: object, what: str, limit: int) -> bytes:
    if not isinstance(value, bytes) or len(value) > limit:
        raise ValueError(f"{what} must be at most {limit} bytes")
    return value


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
    key = _bytes_field(message.signing_key, "signing_key", MAX_NAME_BYTES)
    peer = message.private_with
    if peer is not None and (not isinstance(peer, bytes) or len(peer) != _SIGNING_KEY_SIZE):
        raise ValueError(f"private_with must be a {_SIGNING_KEY_SIZE}-byte key, or None")
    peer_name = encode(message.private_name, "private_name", MAX_NAME_BYTES)
    text = encode(message.text, "text", MAX_TEXT_BYTES)
    body = _bytes_field(message.body, "body", MAX_TEXT_BYTES)
    return b"".join(
        (
            bytes((BODY_VERSION,)),
            _str8(sender),
            _str8(key),
            _str8(content_type),
            _str8(peer or b""),
            _str8(peer_name),
            _LENGTH.pack(len(text)),
            text,
            body,
        )
    )


@dataclass(frozen=True, slots=True)
class Body:
    """What a message row seals, as :func:`unpack_body` reads it."""

    sender: str
    signing_key: bytes
    content_type: str
    text: str
    body: bytes = b""
    private_with: bytes | None = None
    private_name: str = ""


def _fields(data: bytes, at: int, count: int) -> tuple[list[bytes], int]:
    """``count`` str8 fields from ``data[at:]``, and where they end."""
    fields: list[bytes] = []
    for _ in range(count):
        if at >= len(data) or at + 1 + data[at] > len(data):
            raise ValueError("truncated body")
        fields.append(data[at + 1 : at + 1 + data[at]])
        at += 1 + data[at]
    return fields, at


def _text_and_rest(data: bytes, at: int) -> tuple[str, bytes]:
    if at + _LENGTH.size > len(data):
        raise ValueError("truncated body")
    (size,) = _LENGTH.unpack_from(data, at)
    at += _LENGTH.size
    if at + size > len(data):
        raise ValueError("truncated body")
    return data[at : at + size].decode("utf-8"), data[at + size :]


def unpack_body(data: bytes) -> Body:
    """Read a message row's sealed part (version 1 or 2); ValueError if the layout is wrong."""
    version = data[0] if data else None
    if version not in (_TEXT_ONLY, BODY_VERSION):
        raise ValueError("unknown body version")
    if version == _TEXT_ONLY:
        (sender, key, content_type), at = _fields(data, 1, 3)
        return Body(sender.decode("utf-8"), key, content_type.decode("utf-8"), data[at:].decode())
    (sender, key, content_type, peer, peer_name), at = _fields(data, 1, 5)
    text, body = _text_and_rest(data, at)
    if peer and len(peer) != _SIGNING_KEY_SIZE:
        raise ValueError("bad private peer")
    return Body(
        sender=sender.decode("utf-8"),
        signing_key=key,
        content_type=content_type.decode("utf-8"),
        text=text,
        body=body,
        private_with=peer or None,
        private_name=peer_name.decode("utf-8"),
    )


def pack_outgoing(message: PendingMessage) -> bytes:
    """Check ``message`` and lay out what an outbox row seals (version 2)."""
    content_type = encode(message.content_type, "content_type", MAX_NAME_BYTES)
    text = encode(message.text, "text", MAX_TEXT_BYTES)
    body = _bytes_field(bytes(message.body), "body", MAX_TEXT_BYTES)
    return b"".join(
        (bytes((BODY_VERSION,)), _str8(content_type), _LENGTH.pack(len(text)), text, body)
    )


def unpack_outgoing(data: bytes) -> tuple[str, str, bytes]:
    """(content type, text, body) of an outbox row (version 1 or 2); ValueError if wrong."""
    version = data[0] if data else None
    if version == _TEXT_ONLY:
        return _TEXT_TYPE, data[1:].decode("utf-8"), b""
    if version != BODY_VERSION:
        raise ValueError("unknown body version")
    (content_type,), at = _fields(data, 1, 1)
    text, body = _text_and_rest(data, at)
    return content_type.decode("utf-8"), text, body


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
            sealed = unpack_body(plain)
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
                sender=shared.setdefault(sealed.sender, sealed.sender),
                signing_key=shared.setdefault(sealed.signing_key, sealed.signing_key),
                timestamp_ms=timestamp_ms,
                text=sealed.text,
                own=bool(own),
                content_type=shared.setdefault(sealed.content_type, sealed.content_type),
                body=sealed.body,
                private_with=sealed.private_with,
                private_name=sealed.private_name,
            ),
        )
