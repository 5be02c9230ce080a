"""What to tell a person when joining or hosting fails: what happened, then what to do.

The client reports a final failure as ``Failed(kind, message)``; the GUI words it itself,
keyed by :class:`net.client.ErrorKind`, so every failure reads the same way whichever layer
noticed it; ``tests/gui/test_errors.py`` checks that every kind has an entry.
"""

from __future__ import annotations

import errno

from gui.validate import format_address
from net.client import ErrorKind

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
        "Someone in the room already uses the name {username!r}.",
        "Pick another name.",
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
    ErrorKind.ROOM_CLOSED: (
        "The room was closed by its host.",
        "Ask the host to start it again.",
    ),
    ErrorKind.PROTOCOL_ERROR: (
        "The room sent something this app did not understand, so it disconnected.",
        "Make sure you and the host use the same SocketChat version.",
    ),
}


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
