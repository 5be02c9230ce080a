"""Plain-words checks for what people type in the login and host dialogs.

Pure functions, no Tk: each returns ``(value, None)`` when the input is usable or
``(None, message)`` with a sentence to show under the field. The dialogs call them from their
``entry_ok`` methods (as IDLE's ``query.Query`` does), and tests call them without a display.
"""

from __future__ import annotations

import unicodedata

from net.client import validate_username

MIN_PORT = 1
MAX_PORT = 65535


def check_host(text: str) -> tuple[str | None, str | None]:
    """A host name or IP address: no spaces, no ``host:port`` (the port has its own field)."""
    host = text.strip()
    if not host:
        return None, "Please enter the host: the name or IP address of the room's computer."
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # a bracketed IPv6 literal, as in a URL
    if any(char.isspace() for char in host):
        return None, "The host cannot contain spaces."
    if "://" in host or "/" in host:
        return None, "Enter only the host name or address, without http:// or a path."
    if host.count(":") == 1:
        return None, "Put the port in the Port field, not after the host."
    for char in host:
        if unicodedata.category(char)[0] == "C":
            return None, "The host contains an invisible character; please retype it."
    if len(host) > 253:
        return None, "That host name is too long (at most 253 characters)."
    return host, None


def split_host_port(text: str) -> tuple[str, str] | None:
    """``host:port`` or ``[IPv6]:port`` pasted into the Host field, as ``(host, port)``; None
    for anything else (a plain host, a bare IPv6 address, a port that is not a number).

    ``[::1]:7777`` gives ``("::1", "7777")``; ``example.org:7777`` gives
    ``("example.org", "7777")``; ``::1`` and ``example.org`` give None.
    """
    text = text.strip()
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text.startswith(":", close + 1):
            return None
        host, port = text[1:close], text[close + 2 :]
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        return None
    if not host or not port.isascii() or not port.isdigit() or len(port) > 5:
        return None
    return host, port


def check_port(text: str) -> tuple[int | None, str | None]:
    """A TCP port number from 1 to 65535."""
    text = text.strip()
    if not text:
        return None, "Please enter the port (the default is 7777)."
    if not text.isascii() or not text.isdigit():
        return None, f"The port must be a whole number from {MIN_PORT} to {MAX_PORT}."
    port = int(text)
    if not MIN_PORT <= port <= MAX_PORT:
        return None, f"The port must be a whole number from {MIN_PORT} to {MAX_PORT}."
    return port, None


def check_username(text: str) -> tuple[str | None, str | None]:
    """The name others will see, by the relay's own rules (:func:`net.names.validate_username`)."""
    try:
        return validate_username(text), None
    except ValueError as error:
        return None, str(error)


def check_password(text: str) -> tuple[str | None, str | None]:
    """The room password, by the key derivation's rules (:func:`normalize_password`).

    Returns the text as typed: the client normalises it itself before deriving keys.
    """
    from crypto.errors import PasswordError
    from crypto.password import normalize_password

    try:
        normalize_password(text)
    except PasswordError as error:
        message = str(error)
        if "empty" in message:
            message = "Please enter the room password (ask the person who hosts the room)."
        return None, message
    return text, None
