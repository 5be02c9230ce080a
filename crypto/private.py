"""Private messages: a box only two members of a room can open, carried as a room message.

A private message travels as an ordinary room envelope (:mod:`crypto.envelope`) whose content
type is ``application/vnd.socketchat.private`` and whose body is a box::

    box        = slot(recipient) (80) ‖ slot(sender) (80) ‖ commitment (32)
                 ‖ XChaCha20-Poly1305(content_key, aad, inner)          (xnonce ‖ ct ‖ tag)
    slot(X)    = HPKE base mode to X's X25519 identity key of content_key (32): enc ‖ ct ‖ tag
                 info = "SocketChat v2 private|" ‖ room_id ‖ sender signing_key ‖ message_id
    commitment = SHA-256("SocketChat v2 private key|" ‖ content_key)
    aad        = "SocketChat v2 private" ‖ room_id ‖ message_id ‖ sender signing_key ‖ commitment
    inner      = recipient signing_key (32) ‖ str8 recipient_name ‖ str8 content_type ‖ body

The envelope around it is signed by the sender and sealed under the sender key, so only
members receive it and nobody can alter it or claim it; inside, only the recipient and the
sender (who seals a slot to itself, to read its own messages back from the room's history)
can open the content key. The relay and the other members learn that the sender wrote a
private message of about this size, not to whom. The commitment binds the box to one content
key: a sender cannot craft a box that reads differently for the two slots.

Call :func:`seal_private` to send; every member calls :func:`open_private` on each private box
it receives, and :class:`AuthenticationError` means "not for this device" (or tampered: the
two cannot be told apart, and neither is shown).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from crypto import aead, hpke
from crypto._util import as_bytes, str8
from crypto.errors import AuthenticationError
from crypto.identity import PUBLIC_KEY_SIZE, Identity

CONTENT_KEY_SIZE = 32
SLOT_SIZE = hpke.OVERHEAD + CONTENT_KEY_SIZE  # 80
COMMITMENT_SIZE = 32
#: Bytes a box adds to its body, at most (a 255-byte recipient name and content type).
MAX_OVERHEAD = (
    2 * SLOT_SIZE
    + COMMITMENT_SIZE
    + aead.XNONCE_SIZE
    + aead.TAG_SIZE
    + PUBLIC_KEY_SIZE
    + (1 + 255) * 2
)
_MIN_SIZE = 2 * SLOT_SIZE + COMMITMENT_SIZE + aead.XNONCE_SIZE + aead.TAG_SIZE
_SLOT_INFO = b"SocketChat v2 private|"
_COMMIT_LABEL = b"SocketChat v2 private key|"
_AAD_LABEL = b"SocketChat v2 private"


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateContent:
    """What an opened box holds. ``recipient_name`` is the name the sender used for the
    recipient (a claim: show the recipient's name as this device knows its key)."""

    recipient_signing: bytes
    recipient_name: str
    content_type: str
    body: bytes


def _check_ids(room_id: bytes, message_id: bytes, signing: bytes) -> None:
    if len(room_id) != 16 or len(message_id) != 16 or len(signing) != PUBLIC_KEY_SIZE:
        raise ValueError("room_id and message_id are 16 bytes, a signing key 32")


def _commitment(content_key: bytes) -> bytes:
    return hashlib.sha256(_COMMIT_LABEL + content_key).digest()


def _aad(room_id: bytes, message_id: bytes, sender_signing: bytes, commitment: bytes) -> bytes:
    return _AAD_LABEL + room_id + message_id + sender_signing + commitment


def seal_private(
    *,
    sender: Identity,
    recipient_signing: bytes,
    recipient_dh: bytes,
    recipient_name: str,
    room_id: bytes,
    message_id: bytes,
    content_type: str,
    body: bytes,
) -> bytes:
    """Seal ``body`` (of ``content_type``) for ``recipient`` and ``sender`` only; returns the
    box, the body of a ``application/vnd.socketchat.private`` room message with this
    ``message_id``. Seal once, when the person sends: a resend reuses the same box.

    Raises :class:`AuthenticationError` for a recipient key that is not a valid X25519 key,
    ``ValueError`` for wrong sizes or names over 255 bytes.
    """
    room_id, message_id = as_bytes(room_id, "room_id"), as_bytes(message_id, "message_id")
    recipient_signing = as_bytes(recipient_signing, "recipient_signing")
    sender_signing = sender.public.signing_public
    _check_ids(room_id, message_id, recipient_signing)
    inner = (
        recipient_signing
        + str8(recipient_name, "recipient name")
        + str8(content_type, "content type")
        + as_bytes(body, "body")
    )
    content_key = secrets.token_bytes(CONTENT_KEY_SIZE)
    info = _SLOT_INFO + room_id + sender_signing + message_id
    slots = b"".join(
        hpke.seal(dh, content_key, info=info, aad=b"")
        for dh in (recipient_dh, sender.public.dh_public)
    )
    commitment = _commitment(content_key)
    sealed = aead.seal_random(
        content_key, inner, aad=_aad(room_id, message_id, sender_signing, commitment)
    )
    return slots + commitment + sealed


def open_private(
    *,
    identity: Identity,
    sender_signing: bytes,
    room_id: bytes,
    message_id: bytes,
    box: bytes,
) -> PrivateContent:
    """Open a box from the member ``sender_signing`` (the signing key of the verified envelope
    it came in) with this device's ``identity``, as its recipient or as its sender.

    Raises :class:`AuthenticationError` if this device is neither, or anything was altered.
    """
    room_id, message_id = as_bytes(room_id, "room_id"), as_bytes(message_id, "message_id")
    sender_signing = as_bytes(sender_signing, "sender_signing")
    box = as_bytes(box, "box")
    _check_ids(room_id, message_id, sender_signing)
    if len(box) < _MIN_SIZE:
        raise AuthenticationError("private box too short")
    info = _SLOT_INFO + room_id + sender_signing + message_id
    own = identity.public.signing_public == sender_signing
    # The sender reads its own slot; anyone else can only be the recipient.
    start = SLOT_SIZE if own else 0
    content_key = hpke.open(identity, box[start : start + SLOT_SIZE], info=info, aad=b"")
    commitment = box[2 * SLOT_SIZE : 2 * SLOT_SIZE + COMMITMENT_SIZE]
    if not secrets.compare_digest(_commitment(content_key), commitment):
        raise AuthenticationError("private box commitment does not match")
    inner = aead.open_random(
        content_key,
        box[2 * SLOT_SIZE + COMMITMENT_SIZE :],
        aad=_aad(room_id, message_id, sender_signing, commitment),
    )
    content = _parse_inner(inner)
    if not own and content.recipient_signing != identity.public.signing_public:
        raise AuthenticationError("private box names another recipient")
    return content


def _parse_inner(inner: bytes) -> PrivateContent:
    try:
        at = PUBLIC_KEY_SIZE
        recipient = inner[:at]
        fields = []
        for _ in range(2):
            size = inner[at]
            if at + 1 + size > len(inner):
                raise IndexError
            fields.append(inner[at + 1 : at + 1 + size].decode("utf-8", "strict"))
            at += 1 + size
    except (IndexError, UnicodeDecodeError):
        raise AuthenticationError("private box content does not parse") from None
    if len(recipient) != PUBLIC_KEY_SIZE:
        raise AuthenticationError("private box content does not parse")
    return PrivateContent(
        recipient_signing=recipient,
        recipient_name=fields[0],
        content_type=fields[1],
        body=inner[at:],
    )
