"""What a message says beyond plain text, in both directions (PROTOCOL.md 5.6).

Sending: :meth:`~net.client.ChatClient.send` and :meth:`~net.client.ChatClient.send_private`
build bodies here — :func:`reply_body` for a reply, :func:`private_size` to check a private box
against the room's limit before sealing it (``crypto.private.seal_private``, once, when the
person sends: a resend carries the same box).

Receiving: the client calls :func:`read_opened` for every message the core opened (live and
history, our own echoes too) and reports what it returns; :func:`decode` reads a content type
and body again from what the archive kept. Every body came from another person: the codecs in
``net.proto`` check every length, and a body that does not parse raises
:class:`~net.proto.ContentError` (the message is *unreadable*, never shown). A private box this
device cannot open is not for it — or was altered, which cannot be told apart — and is
dropped without a word (:data:`NOT_FOR_US`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crypto import aead
from crypto.errors import AuthenticationError
from crypto.identity import PUBLIC_KEY_SIZE, Identity
from crypto.private import COMMITMENT_SIZE, SLOT_SIZE, open_private
from net import proto
from net.client import events as ce
from net.proto import MESSAGE_ID_SIZE, ContentError, ContentType

#: Bytes a reply's body adds to its text, besides the quoted sender and excerpt.
REPLY_FIXED = MESSAGE_ID_SIZE + 1 + 2  # to_message_id, str8 and str16 lengths
#: Bytes a private box adds to its inner body, besides the recipient's name and the inner
#: content type (crypto/private.py: two slots, commitment, nonce, tag, recipient key, lengths).
PRIVATE_FIXED = (
    2 * SLOT_SIZE + COMMITMENT_SIZE + aead.XNONCE_SIZE + aead.TAG_SIZE + PUBLIC_KEY_SIZE + 2
)
_MAX_STR8 = 255


class _NotForUs(enum.Enum):
    NOT_FOR_US = "not for us"


#: :func:`read_opened`: a private message between two other members (or altered).
NOT_FOR_US = _NotForUs.NOT_FOR_US


@dataclass(frozen=True, slots=True, kw_only=True)
class Readable:
    """An opened message as this device shows and keeps it.

    ``content_type`` and ``body`` are those of what is shown — for a private message, the
    content inside the box — with ``body`` empty for text (``text`` holds it). ``private_with``
    is the other person's signing key for a private message (None otherwise) and
    ``private_name`` the name the box gives them: for a message we sent, the name we used for
    the recipient; for one we received, empty (the attested sender is the name to show)."""

    content: ce.Content
    text: str
    content_type: str
    body: bytes
    private_with: bytes | None = None
    private_name: str = ""


# -- sending --------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return proto.excerpt(text, limit)


def quoted(reply_to: ce.ReplyTo) -> ce.ReplyTo:
    """``reply_to`` as it is sent: the sender's name cut to 255 UTF-8 bytes and the excerpt to
    300 (at a character). ``ValueError`` for an id that is not 16 bytes or text with no UTF-8
    form."""
    if not isinstance(reply_to.message_id, bytes) or len(reply_to.message_id) != MESSAGE_ID_SIZE:
        raise ValueError("a reply answers a message id of 16 bytes")
    try:
        sender = _cut(reply_to.sender, _MAX_STR8)
        excerpt = _cut(reply_to.excerpt, proto.MAX_EXCERPT_BYTES)
        sender.encode("utf-8")
        excerpt.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the quoted message contains a broken character") from None
    return ce.ReplyTo(message_id=reply_to.message_id, sender=sender, excerpt=excerpt)


def reply_overhead(reply_to: ce.ReplyTo) -> int:
    """What a reply's body adds to its text, for ``reply_to`` as :func:`quoted` gives it."""
    return (
        REPLY_FIXED + len(reply_to.sender.encode("utf-8")) + len(reply_to.excerpt.encode("utf-8"))
    )


def reply_body(reply_to: ce.ReplyTo, text: str) -> bytes:
    """The body of a reply to ``reply_to`` (as :func:`quoted` gives it) saying ``text``."""
    return proto.encode_reply(
        proto.Reply(
            to_message_id=reply_to.message_id,
            quoted_sender=reply_to.sender,
            quoted_excerpt=reply_to.excerpt,
            text=text,
        )
    )


def private_size(recipient_name: str, content_type: str, body_size: int) -> int:
    """The exact size of the private box of a ``body_size``-byte body: what counts against
    the room's limit."""
    return (
        PRIVATE_FIXED
        + len(recipient_name.encode("utf-8"))
        + len(content_type.encode("utf-8"))
        + body_size
    )


# -- receiving ------------------------------------------------------------------------------


def decode(content_type: str, body: bytes, text: str = "") -> tuple[ce.Content, str]:
    """The content of a message of ``content_type`` and its readable text.

    ``text`` is a ``text/plain`` message's text when already decoded (then ``body`` may be
    empty, as the archive keeps it). Raises :class:`ContentError` for a body that does not
    parse — and for a private box inside a private box, which nobody sends.
    """
    if content_type == ContentType.TEXT:
        if not text and body:
            try:
                text = bytes(body).decode("utf-8", "strict")
            except UnicodeDecodeError:
                raise ContentError("text is not UTF-8") from None
        return ce.TextContent(text=text), text
    if content_type == ContentType.REPLY:
        reply = proto.decode_reply(bytes(body))
        reply_to = ce.ReplyTo(
            message_id=reply.to_message_id,
            sender=reply.quoted_sender,
            excerpt=reply.quoted_excerpt,
        )
        return ce.ReplyContent(reply_to=reply_to, text=reply.text), reply.text
    if content_type == ContentType.FILE:
        offer = proto.decode_file_offer(bytes(body))
        return ce.FileContent(offer=offer), offer.name
    if content_type == ContentType.PRIVATE:
        raise ContentError("a private box inside a private box")
    return ce.UnknownContent(content_type=content_type), ""


def read_opened(
    event: proto.ChatOpened, *, identity: Identity, room_id: bytes
) -> Readable | _NotForUs:
    """What an opened message says to this device (``identity``, in ``room_id``).

    Returns :data:`NOT_FOR_US` for a private box this device cannot open, and raises
    :class:`ContentError` if the body (or the content inside a box) does not parse.
    """
    return read(
        content_type=event.content_type,
        body=event.body,
        text=event.text,
        sender_signing=event.signing_key,
        message_id=event.message_id,
        identity=identity,
        room_id=room_id,
    )


def read_written(
    message: proto.PendingMessage, *, identity: Identity, room_id: bytes
) -> Readable | _NotForUs:
    """:func:`read_opened` for a message this device wrote and has not seen come back."""
    plain = message.content_type == ContentType.TEXT
    return read(
        content_type=message.content_type,
        body=b"" if plain else bytes(message.body),
        text=message.text if plain else "",
        sender_signing=identity.public.signing_public,
        message_id=message.message_id,
        identity=identity,
        room_id=room_id,
    )


def read(
    *,
    content_type: str,
    body: bytes,
    text: str,
    sender_signing: bytes,
    message_id: bytes,
    identity: Identity,
    room_id: bytes,
) -> Readable | _NotForUs:
    """A message of ``content_type`` signed by ``sender_signing``: its text (when
    ``text/plain`` and already decoded) or ``body``, read as :func:`read_opened` says."""
    if content_type != ContentType.PRIVATE:
        content, text = decode(content_type, body, text)
        kept = b"" if content_type == ContentType.TEXT else bytes(body)
        return Readable(content=content, text=text, content_type=content_type, body=kept)
    try:
        inner = open_private(
            identity=identity,
            sender_signing=sender_signing,
            room_id=room_id,
            message_id=message_id,
            box=body,
        )
    except (AuthenticationError, ValueError):
        return NOT_FOR_US
    content, text = decode(inner.content_type, inner.body)
    ours = sender_signing == identity.public.signing_public
    return Readable(
        content=content,
        text=text,
        content_type=inner.content_type,
        body=b"" if inner.content_type == ContentType.TEXT else inner.body,
        private_with=inner.recipient_signing if ours else bytes(sender_signing),
        private_name=inner.recipient_name if ours else "",
    )
