"""What to tell a person when joining or hosting fails: what happened, then what to do.

The client reports a final failure as ``Failed(kind, message)``; the GUI words it itself,
keyed by :class:`net.client.ErrorKind`, so every failure reads the same way whichever layer
noticed it; ``tests/gui/test_errors.py`` checks that every kind has an entry.
"""

from __future__ import annotations

import errno

from gui.validate import format_address
from net.client import ErrorKind, InviteError, InvitePart

# kind -> (what happened, what to do)
_FAILURES: dict[ErrorKind, tuple[str, str]] = {
    ErrorKind.REFUSED: (
        "The connection was refused: nothing is accepting connections at {address}.",
        "Is the room running? Is the port right?",
    ),
    ErrorKind.TIMED_OUT: (
        "No answer from {address}: the connection timed out.",
        "Check the host address. If the room is on another network, its host may need to "
        "forward the port on their router, or a firewall may be blocking it.",
    ),
    ErrorKind.HOST_NOT_FOUND: (
        "The host {host!r} was not found.",
        "Check the spelling of the host name, or use the IP address the host gave you.",
    ),
    ErrorKind.NETWORK: (
        "The network failed while connecting to {address}.",
        "Check your network connection and try again.",
    ),
    ErrorKind.WRONG_PASSWORD: (
        "Wrong room password.",
        "Ask the person who hosts the room for the exact password, then try again.",
    ),
    ErrorKind.BAD_PASSWORD: (
        "This room password cannot be used.",
        "Use only visible characters.",
    ),
    ErrorKind.NAME_TAKEN: (
        "The name {username!r} belongs to another member of this room (someone who joined "
        "with it before, here now or not).",
        "Pick another name.",
    ),
    ErrorKind.NAME_LOOKALIKE: (
        "The room refused the name {username!r}: it looks too much like the name of another "
        "member.",
        "Pick a name that looks different, not just in capitals or in similar-looking letters.",
    ),
    ErrorKind.NAME_INVALID: (
        "The room did not accept the name {username!r}.",
        "Use 1 to 32 visible characters.",
    ),
    ErrorKind.ROOM_FULL: (
        "The room is full.",
        "Try again later, or ask the host to make room.",
    ),
    ErrorKind.BUSY: (
        "The room is busy with other people joining right now.",
        "Wait a few seconds, then connect again.",
    ),
    ErrorKind.TOO_MANY_ATTEMPTS: (
        "Too many failed attempts from this address.",
        "Wait a minute, check the password, then try again.",
    ),
    ErrorKind.INCOMPATIBLE_VERSION: (
        "The room runs a SocketChat version that this app cannot talk to.",
        "Make sure you and the host use the same SocketChat version.",
    ),
    # The words of the client's HOST_CLOSED: the chat window offers Rejoin beside them.
    ErrorKind.ROOM_CLOSED: (
        "The host closed the room.",
        "You can rejoin once they host it again.",
    ),
    ErrorKind.PROTOCOL_ERROR: (
        "The room sent something this app did not understand, so it disconnected.",
        "Make sure you and the host use the same SocketChat version.",
    ),
    ErrorKind.RELAY_CHANGED: (
        "This is not the room's relay you joined before: it proved a different key, so "
        "SocketChat stopped before sending anything that depends on the password.",
        "If the host set the room up again, they can confirm it; then choose to trust the new "
        "relay. If not, someone may be impersonating the room: do not connect.",
    ),
    ErrorKind.LOGIN_INTERRUPTED: (
        "The connection ended while the room password was being checked.",
        "SocketChat does not try again on its own, so that a fake room cannot use retries to "
        "guess the password. Connect again when you are ready.",
    ),
    ErrorKind.NO_SUCH_ROOM: (
        "The relay does not host the room you asked for (any more).",
        "Ask the host whether the room moved or was closed.",
    ),
    ErrorKind.REPLACED: (
        "You joined this room again as {username!r} from another window or device, so this "
        "connection was closed.",
        "Use the other one, or connect again here (that closes the other one).",
    ),
    ErrorKind.IDENTITY_UNAVAILABLE: (
        "This device's identity file cannot be read.",
        "SocketChat will not make a new identity in its place, since that would change your "
        "safety code for everyone who verified you: restore the file from a backup, or move it "
        "away to start again as a new device.",
    ),
    ErrorKind.REMOVED: (
        "You were removed from this room by its owner or an admin.",
        "The room refuses this device from now on: it cannot join again.",
    ),
    ErrorKind.PASSWORD_CHANGED: (
        "The room password was changed, and this device was not given the new one.",
        "Ask the room's owner for it, then join again from the login window.",
    ),
}

#: The button offered next to a failure of these kinds (the app wires what it does).
TRUST_NEW_RELAY = "Trust the new relay and connect"
CONNECT_AGAIN = "Connect again"
_ACTIONS = {
    ErrorKind.RELAY_CHANGED: TRUST_NEW_RELAY,
    ErrorKind.LOGIN_INTERRUPTED: CONNECT_AGAIN,
}

TRUST_RELAY_QUESTION = (
    "SocketChat remembers the key that the relay at {address} proved when you joined before, "
    "and this time it proved another one. That is expected if the host set the room up again "
    "(a new room file, another computer). If they did not, someone may be pretending to be the "
    "room: connecting lets them try one guess at the room password, and if it is right, read "
    "what you send. Ask the host first. Trust the new relay from now on?"
)


def failure_text(
    kind: ErrorKind, message: str = "", *, host: str = "", port: int = 0, username: str = ""
) -> str:
    """Return the two-sentence explanation for a ``Failed`` event of ``kind``.

    ``message`` is the client's own text: used for a password that breaks the rules (it says
    which rule), and as the whole text for a kind this table does not word.
    """
    entry = _FAILURES.get(kind)
    if entry is None:
        return message or "Could not join the room."
    address = format_address(host, port) if host else "the room"
    happened, todo = entry
    happened = happened.format(address=address, host=host, username=username)
    if kind is ErrorKind.BAD_PASSWORD and message:
        happened = message
    return f"{happened} {todo}"


#: Failures after which joining again from this device cannot work: no Reconnect.
_FINAL = frozenset({ErrorKind.REMOVED, ErrorKind.PASSWORD_CHANGED})


def may_reconnect(kind: ErrorKind) -> bool:
    """Whether the chat window offers Reconnect after a failure of ``kind``."""
    return kind not in _FINAL


def failure_action(kind: ErrorKind) -> str | None:
    """The label of the button offered with a failure of ``kind`` (None: no button)."""
    return _ACTIONS.get(kind)


def trust_relay_question(host: str, port: int) -> str:
    """The confirmation before forgetting the relay key pinned for ``host:port``."""
    return TRUST_RELAY_QUESTION.format(address=f"{host}:{port}")


def host_error_text(error: BaseException, port: int) -> str:
    """Explain why starting a room on ``port`` failed (``error`` from the relay's start)."""
    if isinstance(error, OSError):
        if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            return (
                f"Port {port} is already in use: another room or program is listening on it. "
                f"Choose another port (for example {port + 1 if port < 65535 else 7777}), "
                "or close the other program."
            )
        if error.errno in (errno.EACCES, getattr(errno, "WSAEACCES", -1)):
            return (
                f"This computer does not allow the app to use port {port}. "
                "Choose a port above 1024."
            )
        return f"Could not open port {port}: {error.strerror or error}."
    return f"Could not start the room: {error}"


_INVITE_PARTS = {
    InvitePart.NOT_AN_INVITE: "it is not a SocketChat invite (those start with socketchat://).",
    InvitePart.VERSION: "it was made by a newer SocketChat. Update this one to use it.",
    InvitePart.LAYOUT: "parts of it are missing or extra. Copy the whole invite again.",
    InvitePart.HOST: "its host is wrong",
    InvitePart.PORT: "its port is wrong",
    InvitePart.ROOM: "its room id is damaged",
    InvitePart.RELAY_KEY: "its relay key is damaged",
    InvitePart.PASSPHRASE: "its passphrase is wrong",
    InvitePart.CHECK: (
        "it was changed or not copied whole (its check does not match). Copy it again from "
        "the person who sent it."
    ),
}


def invite_problem_text(error: InviteError) -> str:
    """What is wrong with a pasted invite, for the line under Paste invite."""
    text = _INVITE_PARTS[error.part]
    if text.endswith("."):
        return text
    return f"{text} ({error}). Copy it again from the person who sent it."


def not_the_invited_relay(host: str, port: int) -> str:
    return (
        f"This is not the relay your invite names: {format_address(host, port)} proved a "
        "different key. Nothing that depends on the password was sent. Someone may be "
        "impersonating the room, or it was made again since: ask the person who sent the "
        "invite for a new one."
    )
