"""Events the protocol core hands to its driver through ``events_received()``.

Frozen, slotted dataclasses with keyword-only fields, in the manner of h11's events: they are
plain facts about what the peer did, safe to pass between threads and to compare in tests.
Each docstring says which side sees the event and what the driver should do next.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from net.proto._frames import Reason
from net.proto._messages import OutgoingMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class KeysRequired:
    """Client: the relay hosts ``room_id`` and we hold no keys for it.

    Run ``derive_room_keys(password, room_id=room_id)`` off the I/O thread (scrypt is slow on
    purpose), then call ``provide_keys``.
    """

    room_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeComplete:
    """Client: the relay proved it knows the room password; JOIN has been queued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticated:
    """Relay: the client proved it knows the room password; expect JoinRequested next."""


class AuthFailure(enum.Enum):
    """Why a password proof failed; decide on this, never on text."""

    #: Relay: the client's confirmation did not verify. Client: the relay said AUTH_FAILED.
    WRONG_PASSWORD = "wrong password"  # noqa: S105 - a label, not a password
    #: Either side: the peer's SPAKE2 share was not a valid point.
    INVALID_SHARE = "invalid handshake share"
    #: Client: the relay's confirmation did not verify (wrong password, or a man in the middle).
    RELAY_UNPROVEN = "relay could not prove it knows the room password"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticationFailed:
    """Either side: the password proof failed (or a share was invalid). Close; never retry alone.

    On the relay, count it against the peer's address for rate limiting.
    """

    cause: AuthFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """Client: the relay refused the connection before the handshake finished.

    Relay: the core refused the peer itself (incompatible version). Close after flushing.
    ``code`` is a :class:`Reason`, or a plain int for a code this version does not know.
    """

    code: Reason | int
    text: str
    retry_after_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequested:
    """Relay: the client asks to join as ``username`` (exactly as sent).

    Check it with ``validate_username`` and for uniqueness with ``username_key``, then call
    ``accept_join`` or ``reject_join``.
    """

    username: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatOpened:
    """Client: a chat message that opened under the room key with the relay-attested sender.

    Your own messages come back this way too (``sender`` is your name): use that as delivery
    confirmation. Messages whose id was seen before never get here.
    """

    sender: str
    text: str
    message_id: bytes
    timestamp_ms: int
    content_type: str
    from_history: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatForged:
    """Client: a chat item that does NOT open as coming from ``sender`` (or is unreadable).

    Someone tried to speak in another member's name, or moved a message from another room.
    Never show it as a message from ``sender``; a warning line at most.
    """

    sender: str
    message_id: bytes
    from_history: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcomed:
    """Client: we are in the room. ``members`` as the relay lists them, ``history`` oldest first.

    ``max_message_bytes`` is the largest UTF-8 text ``send_messages`` will accept.
    """

    your_name: str
    members: tuple[str, ...]
    history: tuple[ChatOpened | ChatForged, ...]
    max_message_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesSubmitted:
    """Relay: a joined member submitted sealed messages; attest and broadcast them.

    Turn each into ``ChatItem.from_outgoing(message, sender=member_name)``.
    """

    messages: tuple[OutgoingMessage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberArrived:
    """Client: ``name`` entered the room."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberDeparted:
    """Client: ``name`` left the room; ``code`` says why."""

    name: str
    code: Reason | int


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeReceived:
    """Client: a non-fatal message from the relay (for example RATE_LIMITED "slow down")."""

    code: Reason | int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GoodbyeReceived:
    """Either side: the peer is closing (and says why). Flush ``data_to_send`` and close."""

    code: Reason | int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PingReceived:
    """Either side: the peer pinged us; the core has already queued the PONG."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PongReceived:
    """Either side: the answer to our ``send_ping(token)``; the peer is alive."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolViolation:
    """Either side: the peer broke the protocol; ``reason`` is for the local log only.

    Nothing after the bad input was processed. Flush ``data_to_send`` (it may hold a fixed
    error frame for the peer) and close.
    """

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """Either side: the transport reached EOF (reported once, by ``receive_eof``)."""


Event = (
    KeysRequired
    | HandshakeComplete
    | Authenticated
    | AuthenticationFailed
    | Refused
    | JoinRequested
    | Welcomed
    | ChatOpened
    | ChatForged
    | MessagesSubmitted
    | MemberArrived
    | MemberDeparted
    | NoticeReceived
    | GoodbyeReceived
    | PingReceived
    | PongReceived
    | ProtocolViolation
    | ConnectionClosed
)
