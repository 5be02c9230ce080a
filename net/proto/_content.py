"""What a message says besides plain text: replies, file offers, private boxes.

Every end-to-end envelope (PROTOCOL.md 5.1) carries a ``content_type`` and a ``body``, both
signed by the sender. This module names the types SocketChat sends and encodes their bodies
(PROTOCOL.md 5.6). It runs after the envelope opened and verified, so what it reads is what
the sender wrote — and the sender is another person: every length is checked before use, and
names and texts are only checked as UTF-8 here (whoever shows or saves them makes them safe).

Decoders raise :class:`ContentError` on anything malformed; the receiver then treats the message
as unreadable, as it does for bad UTF-8 in a text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crypto.filechunk import (
    CHUNK_SIZE,
    FILE_ID_SIZE,
    FILE_KEY_SIZE,
    SEALED_CHUNK_OVERHEAD,
    chunk_count,
    sealed_size,
)
from net.proto._codec import Reader, Writer
from net.proto._errors import DecodeError, LocalProtocolError

__all__ = [
    "CHUNK_SIZE",
    "MAX_EXCERPT_BYTES",
    "SEALED_CHUNK_OVERHEAD",
    "ContentError",
    "ContentType",
    "FileOffer",
    "Reply",
    "chunk_count",
    "decode_file_offer",
    "decode_reply",
    "encode_file_offer",
    "encode_reply",
    "excerpt",
    "sealed_size",
]

MESSAGE_ID_SIZE = 16
SHA256_SIZE = 32
#: A reply quotes at most this much of the original (UTF-8 bytes, cut at a character).
MAX_EXCERPT_BYTES = 300
#: The largest file an offer may describe: what a u32 chunk count allows.
MAX_FILE_SIZE = CHUNK_SIZE * (2**32 - 1)


class ContentType(str, enum.Enum):
    """The content types of SocketChat messages. Any other is shown as "a message this
    version cannot show" and kept as it came."""

    TEXT = "text/plain"
    REPLY = "application/vnd.socketchat.reply"
    FILE = "application/vnd.socketchat.file"
    PRIVATE = "application/vnd.socketchat.private"


class ContentError(ValueError):
    """A body that does not parse as its content type says."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A text that answers an earlier message. ``quoted_sender`` and ``quoted_excerpt`` are
    the replier's claim of what it answers: a receiver that holds ``to_message_id`` shows its
    own copy instead (and jumps to it)."""

    to_message_id: bytes
    quoted_sender: str
    quoted_excerpt: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOffer:
    """A file whose sealed chunks the relay holds under ``file_id``; ``file_key`` opens them
    (:mod:`crypto.filechunk`) and ``sha256`` is the whole file's hash. ``name`` and
    ``media_type`` are the sender's words (hostile); ``width``/``height`` are 0 unless the
    sender says it is a picture of that size (a claim: previews read the real size)."""

    file_id: bytes
    file_key: bytes
    size: int
    sha256: bytes
    name: str
    media_type: str
    width: int = 0
    height: int = 0

    @property
    def chunk_count(self) -> int:
        return chunk_count(self.size)

    @property
    def stored_size(self) -> int:
        """What the relay stores for it: FILE_OPEN's ``stored_size``."""
        return sealed_size(self.size)


def excerpt(text: str, limit: int = MAX_EXCERPT_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, at a character boundary."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def encode_reply(reply: Reply) -> bytes:
    """The body of a ``REPLY`` message. Raises ``ValueError`` for an id that is not 16 bytes,
    an excerpt over :data:`MAX_EXCERPT_BYTES` or a name over 255 bytes."""
    if len(reply.to_message_id) != MESSAGE_ID_SIZE:
        raise ValueError("a message id is 16 bytes")
    try:
        if len(reply.quoted_excerpt.encode("utf-8")) > MAX_EXCERPT_BYTES:
            raise ValueError(f"a quote is at most {MAX_EXCERPT_BYTES} bytes")
        writer = (
            Writer()
            .raw(bytes(reply.to_message_id))
            .str8(reply.quoted_sender, "quoted sender")
            .str16(reply.quoted_excerpt, "quote")
        )
        return writer.getvalue() + reply.text.encode("utf-8")
    except (LocalProtocolError, UnicodeEncodeError) as error:
        raise ValueError(str(error)) from None


def decode_reply(body: bytes) -> Reply:
    """Read a ``REPLY`` body, or raise :class:`ContentError`."""
    try:
        reader = Reader(body)
        to_message_id = reader.raw(MESSAGE_ID_SIZE, "replied message id")
        sender = reader.str8("quoted sender")
        quote = reader.str16("quote")
        text = reader.raw(reader.remaining, "text").decode("utf-8", "strict")
    except (DecodeError, UnicodeDecodeError) as error:
        raise ContentError(f"reply does not parse: {error}") from None
    if len(quote.encode("utf-8")) > MAX_EXCERPT_BYTES:
        raise ContentError("reply quotes too much")
    return Reply(to_message_id=to_message_id, quoted_sender=sender, quoted_excerpt=quote, text=text)


def encode_file_offer(offer: FileOffer) -> bytes:
    """The body of a ``FILE`` message. Raises ``ValueError`` for wrong sizes or a name or
    media type over 255 bytes."""
    if len(offer.file_id) != FILE_ID_SIZE or len(offer.file_key) != FILE_KEY_SIZE:
        raise ValueError("a file id is 16 bytes and a file key 32")
    if len(offer.sha256) != SHA256_SIZE:
        raise ValueError("a SHA-256 hash is 32 bytes")
    if not 0 <= offer.size <= MAX_FILE_SIZE:
        raise ValueError("file size out of range")
    try:
        writer = (
            Writer()
            .raw(bytes(offer.file_id))
            .raw(bytes(offer.file_key))
            .u64(offer.size)
            .raw(bytes(offer.sha256))
            .str8(offer.name, "file name")
            .str8(offer.media_type, "media type")
            .u16(offer.width, "width")
            .u16(offer.height, "height")
        )
    except (LocalProtocolError, UnicodeEncodeError) as error:
        raise ValueError(str(error)) from None
    return writer.getvalue()


def decode_file_offer(body: bytes) -> FileOffer:
    """Read a ``FILE`` body, or raise :class:`ContentError`."""
    try:
        reader = Reader(body)
        offer = FileOffer(
            file_id=reader.raw(FILE_ID_SIZE, "file id"),
            file_key=reader.raw(FILE_KEY_SIZE, "file key"),
            size=reader.u64("file size"),
            sha256=reader.raw(SHA256_SIZE, "file hash"),
            name=reader.str8("file name"),
            media_type=reader.str8("media type"),
            width=reader.u16("width"),
            height=reader.u16("height"),
        )
        reader.finish()
    except DecodeError as error:
        raise ContentError(f"file offer does not parse: {error}") from None
    if offer.size > MAX_FILE_SIZE:
        raise ContentError("file offer too large to exist")
    return offer
