"""Plain-words checks for what people type in the login and host dialogs.

Pure functions, no Tk: each returns ``(value, None)`` when the input is usable or
``(None, message)`` with a sentence to show under the field. The dialogs call them from their
``entry_ok`` methods (as IDLE's ``query.Query`` does), and tests call them without a display.
"""

from __future__ import annotations

import ipaddress
import unicodedata

from net.client import validate_username

MIN_PORT = 1
MAX_PORT = 65535


def check_address(text: str) -> tuple[str | None, int | None, str | None]:
    """The Host field: a name or an IPv4 or IPv6 address, optionally with a port.

    Accepts ``example.org``, ``192.168.1.20``, ``2001:db8::1``, ``[2001:db8::1]``,
    ``[2001:db8::1]:7777``, ``example.org:7777`` and ``192.168.1.20:7777``. Returns
    ``(host, port, None)`` — ``port`` None when the text has none (the Port field then
    counts), the host without brackets, as ``socket.create_connection`` takes it — or
    ``(None, None, message)``.
    """
    host = text.strip()
    if not host:
        return None, None, "Please enter the host: the name or IP address of the room's computer."
    if "://" in host or "/" in host:
        return None, None, "Enter only the host name or address, without http:// or a path."
    port: int | None = None
    if host.startswith("["):
        inside, bracket, rest = host[1:].partition("]")
        if not bracket or not _is_ipv6(inside) or (rest and not rest.startswith(":")):
            return None, None, _IPV6_HELP
        if rest:
            port, message = check_port(rest[1:])
            if message:
                return None, None, message
        host = inside
    elif host.count(":") >= 2:
        if not _is_ipv6(host):
            return None, None, _IPV6_HELP
    elif ":" in host:
        host, _colon, port_text = host.partition(":")
        if not host.strip():
            return None, None, "Please enter the host before the colon and the port."
        port, message = check_port(port_text)
        if message:
            return None, None, message
    if any(char.isspace() for char in host):
        return None, None, "The host cannot contain spaces."
    for char in host:
        if unicodedata.category(char)[0] == "C":
            return None, None, "The host contains an invisible character; please retype it."
    if len(host) > 253:
        return None, None, "That host name is too long (at most 253 characters)."
    return host, port, None


_IPV6_HELP = (
    "That is not a valid IPv6 address. Write one as 2001:db8::1, or with a port as "
    "[2001:db8::1]:7777."
)


def _is_ipv6(text: str) -> bool:
    """An IPv6 literal, with an optional zone (``fe80::1%eth0``) as link-local ones need."""
    address, _percent, zone = text.partition("%")
    if _percent and (not zone or any(char.isspace() for char in zone)):
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def format_address(host: str, port: int) -> str:
    """``example.org:7777`` or ``[2001:db8::1]:7777``: how a room's address is shown."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
