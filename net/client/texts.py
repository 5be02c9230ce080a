"""Every sentence the client library says to a person, in one place.

The session decides *what* happened (an :class:`~net.client.events.ErrorKind`, a
:class:`~net.proto.Reason`); these functions word it. The desktop app words final failures
itself (``gui/errors.py``, keyed by ``ErrorKind``); the terminal client prints these texts.
Text that came from the relay is passed through only where the relay had authenticated itself
(GOODBYE, NOTICE), and callers escape it before printing.
"""

from __future__ import annotations

from net.proto import AuthFailure, InviteError, InvitePart, Reason

# -- connecting ------------------------------------------------------------------------------


def host_not_found(host: str) -> str:
    return f"The host name '{host}' was not found. Check the spelling of the address."


def connection_refused(where: str) -> str:
    return f"Connection to {where} was refused. Is the room running? Is the port right?"


def connect_timed_out(where: str, seconds: float) -> str:
    return (
        f"No answer from {where} within {seconds:g} s. Check the address, and that the host's "
        "firewall or router lets the port through."
    )


def cannot_connect(where: str, detail: str) -> str:
    return f"Cannot connect to {where}: {detail}."


def connection_lost(detail: str = "") -> str:
    if detail:
        return f"The connection to the room was lost ({detail})."
    return "The connection to the room was lost."


ROOM_RECREATED = "The room was recreated since you joined; join it again with its password."
LOGIN_INTERRUPTED = (
    "The connection ended while the room password was being checked. SocketChat does not try "
    "again on its own, so that a fake relay cannot use retries to guess the password. Connect "
    "again when you are ready."
)
REPLACED = "You joined this room again from another window or device; this one was closed."


def relay_changed(where: str) -> str:
    return (
        f"This is not the room's relay you joined before: {where} proved a different key. "
        "Nothing that depends on the password was sent. If the host made a new room there, "
        "you can choose to trust the new relay; otherwise someone may be impersonating it."
    )


def not_the_invited_relay(where: str) -> str:
    return (
        f"This is not the relay your invite names: {where} proved a different key. Nothing that "
        "depends on the password was sent. Someone may be impersonating the room, or it was "
        "made again since: ask the person who sent the invite for a new one."
    )


def no_such_room(where: str) -> str:
    return f"{where} does not host the room you asked for (any more)."


CLOSED_DURING_HANDSHAKE = "The room closed the connection during the handshake."
TAMPERED = "The connection was corrupted or tampered with; reconnecting."


def handshake_timed_out(where: str, seconds: float) -> str:
    return (
        f"{where} did not complete the SocketChat handshake in {seconds:g} s. "
        "Is it really a SocketChat room?"
    )


def not_socketchat(where: str) -> str:
    return f"{where} does not speak the SocketChat protocol (or the connection was tampered with)."


def stopped_answering(silence: float) -> str:
    return f"The room stopped answering ({silence:.0f} s without a word)."


# -- the password ----------------------------------------------------------------------------

_AUTH_FAILURES = {
    AuthFailure.WRONG_PASSWORD: "Wrong room password. Check it with the host and try again.",
    AuthFailure.RELAY_UNPROVEN: (
        "The relay could not prove it knows the room password: either the password is wrong "
        "or someone is intercepting the connection."
    ),
    AuthFailure.INVALID_SHARE: (
        "The relay answered the password check with garbage: either it is not a SocketChat "
        "room or someone is intercepting the connection."
    ),
}


def auth_failed(cause: AuthFailure) -> str:
    return _AUTH_FAILURES[cause]


# -- refusals (REFUSED, before any key: its text is never shown) -----------------------------

INCOMPATIBLE_VERSION = (
    "This room runs a different SocketChat version. Update the app that is older."
)
ROOM_FULL = "The room is full. Try again later."
BUSY = "The room is busy with other people joining; try again in a moment."
TOO_SLOW_TO_JOIN = "The connection was too slow to finish joining."


def too_many_attempts(wait: float) -> str:
    return f"Too many wrong passwords from your address; try again in {max(1, round(wait))} s."


def refused_with_code(code: int) -> str:
    return f"The relay refused the connection (code {code})."


# -- goodbyes (GOODBYE, from the authenticated relay) ----------------------------------------

HOST_CLOSED = "The host closed the room. You can rejoin once they host it again."
# The relay is coming back (GOODBYE RELAY_RESTARTING) or may (ROOM_CLOSING, also refused while
# it stops): the client reconnects by itself, with backoff, keeping what waits to be sent.
RELAY_RESTARTING = "The relay is restarting; reconnecting."
RELAY_SHUTTING_DOWN = "The relay shut down; trying again until it is back."


def name_refused(relay_text: str) -> str:
    return f"The relay refused the name: {relay_text}"


def name_taken(username: str) -> str:
    return f"Someone in this room is already called {username!r}; choose another name."


def relay_closed(relay_text: str, code: Reason | int) -> str:
    return f"The relay closed the connection: {relay_text or left_reason(code)}."


# -- members ---------------------------------------------------------------------------------

_LEFT_REASONS = {
    Reason.LEAVING: "left the room",
    Reason.CONNECTION_LOST: "lost the connection",
    Reason.IDLE_TIMEOUT: "stopped answering",
    Reason.SLOW_READER: "could not keep up",
    Reason.PROTOCOL_ERROR: "was disconnected (protocol error)",
    Reason.ROOM_CLOSING: "the room is closing",
    Reason.RATE_LIMITED: "sent too fast",
    Reason.MESSAGE_TOO_LARGE: "sent a message that was too large",
    Reason.REMOVED: "was removed from the room",
}


def left_reason(code: Reason | int) -> str:
    """How a member's departure reads ("alice left the room"); a newer code reads "left"."""
    if isinstance(code, Reason):
        return _LEFT_REASONS.get(code, "left")
    return "left"


REMOVED = (
    "You were removed from this room by its owner or an admin. You cannot join it again with "
    "this device."
)


# Words about a password, not passwords (S105).
PASSWORD_SWITCHED = "The room password changed; reconnecting with the new one."  # noqa: S105
PASSWORD_CHANGED = (
    "The room password was changed and this device was not given the new one. Ask the room's "  # noqa: S105
    "owner for it, then join again."
)
NO_OWNER = (
    "This room has no owner, so nobody can appoint admins or remove members. A room made with "
    "Host a room or `room create` has one: the person who made it."
)
NOT_ALLOWED = (
    "Only the room's owner can do that (owners appoint admins; admins remove members who are "
    "not admins)."
)


def not_a_member(name: str) -> str:
    return f"{name!r} is not in the room now."


def action_refused(reason: str) -> str:
    return f"That did not happen: {reason}."


# -- sending ---------------------------------------------------------------------------------

EMPTY_MESSAGE = "Type a message first."
BROKEN_CHARACTER = "The message contains a broken character; retype it."
CHAT_CLOSED = "This chat has been closed."


def message_too_long(size: int, limit: int) -> str:
    return (
        f"That message is {size:,} bytes long; the limit is {limit:,} bytes "
        f"(about {limit:,} letters, or fewer with accents and emoji)."
    )


def room_limit_smaller(limit: int) -> str:
    return f"this room accepts messages of at most {limit:,} bytes"


def reply_too_long(size: int, limit: int) -> str:
    return (
        f"That reply is {size:,} bytes long; with its quote the limit is {max(limit, 0):,} "
        "bytes (the quote and the replied message's id count too)."
    )


def private_too_long(size: int, limit: int) -> str:
    return (
        f"That private message is {size:,} bytes long; the limit is {max(limit, 0):,} bytes "
        "(sealing it for two people takes some of the room's limit)."
    )


NOT_IN_ROOM_YET = "You are not in the room yet; wait until you have joined."
PRIVATE_TO_SELF = "A private message goes to someone else."
UNKNOWN_PEER = (
    "That person is not in the room, and this device does not remember them from it: a "
    "private message can go only to someone it knows."
)
BAD_PEER_KEY = "That person's keys cannot take a private message."
#: ForgedMessage.why for a message whose content does not parse (never shown as a message).
CONTENT_UNREADABLE = "its content does not parse"


# -- invites ---------------------------------------------------------------------------------

_INVITE_PROBLEMS = {
    InvitePart.NOT_AN_INVITE: "This is not a SocketChat invite (it starts with socketchat://).",
    InvitePart.VERSION: "This invite was made by a newer SocketChat; update this one to use it.",
    InvitePart.LAYOUT: "This invite is incomplete or has parts added: copy it again, whole.",
    InvitePart.HOST: "The invite's host is wrong",
    InvitePart.PORT: "The invite's port is wrong",
    InvitePart.ROOM: "The invite's room id is damaged",
    InvitePart.RELAY_KEY: "The invite's relay key is damaged",
    InvitePart.PASSPHRASE: "The invite's passphrase is wrong",
    InvitePart.CHECK: (
        "The invite was changed or not copied whole (its check does not match): "
        "copy it again from the person who sent it."
    ),
}


def invite_problem(error: InviteError) -> str:
    """One sentence saying which part of an invite is wrong, and what to do."""
    text = _INVITE_PROBLEMS[error.part]
    if text.endswith("."):
        return text
    return f"{text} ({error}): copy the invite again from the person who sent it."
