"""Invites: everything a friend needs to join a room, in one string to copy and paste.

::

    socketchat://HOST:PORT/v1/ROOM/RELAYKEY/CHECK#PASSPHRASE

* ``HOST`` — a DNS name (ASCII; an internationalised name in its ``xn--`` form), an IPv4
  address, or an IPv6 address in brackets; ``PORT`` — 1 to 65535.
* ``ROOM`` — the room id (16 bytes), ``RELAYKEY`` — the relay's Ed25519 key (32 bytes), each
  in base32 (RFC 4648, lower case, no padding; upper case is accepted too).
* ``CHECK`` — 8 base32 characters: the first 5 bytes of SHA-256 over
  ``"SocketChat invite v1|" host "|" port "|" room "|" relay key "|" passphrase``, so that an
  invite cut short or changed by hand is caught before anything is sent (a truncated
  passphrase would otherwise cost a login attempt). Anyone who changes an invite on purpose
  can recompute it: the invite must come by a way its sender and receiver trust.
* ``PASSPHRASE`` — the room password, UTF-8, percent-encoded (RFC 3986); a generated
  passphrase (lower-case words and hyphens) reads as itself.

:func:`parse_invite` raises :class:`InviteError` naming the part that is wrong
(:class:`InvitePart`), for the front ends to word. Joining with an invite asks the relay for
that room by id and expects that relay key from the very first connection (the client pins it
before connecting: ``net.client.pin_invite``), so even a first join cannot be answered by a
fake relay. An invite holds the password: never log it, and never put it on a command line (the
terminal client reads it from a file or its prompt).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field

from crypto.password import normalize_password
from net.proto._messages import ROOM_ID_SIZE

SCHEME = "socketchat://"
VERSION = "v1"
#: Longer pasted text is not an invite (a real one is under 400 characters).
MAX_INVITE_LENGTH = 2000
_KEY_SIZE = 32
_CHECK_BYTES = 5
_CHECK_LABEL = b"SocketChat invite v1|"
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


class InvitePart(enum.Enum):
    """Which part of an invite is wrong."""

    NOT_AN_INVITE = "not an invite"  # does not start with socketchat://, or is far too long
    VERSION = "version"  # made by a newer SocketChat
    LAYOUT = "layout"  # parts missing or extra
    HOST = "host"
    PORT = "port"
    ROOM = "room"
    RELAY_KEY = "relay key"
    PASSPHRASE = "passphrase"  # noqa: S105 - the name of a part, not a password
    CHECK = "check"  # cut short or changed


class InviteError(ValueError):
    """A pasted or read invite that cannot be used; ``part`` says which part is wrong."""

    def __init__(self, part: InvitePart, detail: str) -> None:
        super().__init__(detail)
        self.part = part


@dataclass(frozen=True)
class Invite:
    """A parsed invite. ``passphrase`` is the room password: never in a repr or a log."""

    host: str
    port: int
    room_id: bytes
    relay_key: bytes
    passphrase: str = field(repr=False)


def looks_like_invite(text: str) -> bool:
    """Whether ``text`` (pasted, or on the clipboard) is meant as an invite: worth parsing,
    and worth an error if it does not parse."""
    return text.strip()[: len(SCHEME)].lower() == SCHEME


def format_invite(invite: Invite) -> str:
    """The invite string for ``invite``. Raises ``ValueError`` for a host, port, id, key or
    passphrase that no invite can carry (the same checks :func:`parse_invite` makes)."""
    host = _check_host(_ascii_host(invite.host))
    port = _check_port(str(invite.port))
    if len(invite.room_id) != ROOM_ID_SIZE:
        raise InviteError(InvitePart.ROOM, f"a room id is {ROOM_ID_SIZE} bytes")
    if len(invite.relay_key) != _KEY_SIZE:
        raise InviteError(InvitePart.RELAY_KEY, f"a relay key is {_KEY_SIZE} bytes")
    passphrase = _check_passphrase(invite.passphrase)
    room, key = _b32(invite.room_id), _b32(invite.relay_key)
    check = _check(host, port, room, key, passphrase)
    where = f"[{host}]" if ":" in host else host
    secret = urllib.parse.quote(passphrase, safe="")
    return f"{SCHEME}{where}:{port}/{VERSION}/{room}/{key}/{check}#{secret}"


def parse_invite(text: str) -> Invite:
    """Read an invite (surrounding whitespace ignored); raise :class:`InviteError`."""
    text = text.strip()
    if len(text) > MAX_INVITE_LENGTH or not looks_like_invite(text):
        raise InviteError(InvitePart.NOT_AN_INVITE, "this is not a SocketChat invite")
    body, hash_mark, secret = text[len(SCHEME) :].partition("#")
    if not hash_mark:
        raise InviteError(InvitePart.PASSPHRASE, "the passphrase is missing")
    authority, _, path = body.partition("/")
    parts = path.split("/")
    if parts and parts[0] != VERSION and re.fullmatch(r"v[0-9]+", parts[0]):
        raise InviteError(InvitePart.VERSION, "made by a newer SocketChat: update this one")
    if len(parts) != 4 or parts[0] != VERSION:
        raise InviteError(InvitePart.LAYOUT, "parts are missing or extra")
    host, port = _split_authority(authority)
    room_text, key_text, check = (part.lower() for part in parts[1:])
    room_id = _unb32(room_text, ROOM_ID_SIZE, InvitePart.ROOM, "room id")
    relay_key = _unb32(key_text, _KEY_SIZE, InvitePart.RELAY_KEY, "relay key")
    try:
        passphrase = urllib.parse.unquote(secret, errors="strict")
    except UnicodeDecodeError:
        raise InviteError(InvitePart.PASSPHRASE, "the passphrase is not valid text") from None
    passphrase = _check_passphrase(passphrase)
    if check != _check(host, port, room_text, key_text, passphrase):
        raise InviteError(InvitePart.CHECK, "it was changed, or not copied whole")
    return Invite(host, int(port), room_id, relay_key, passphrase)


# -- parts ---------------------------------------------------------------------------------


def _split_authority(authority: str) -> tuple[str, str]:
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise InviteError(InvitePart.HOST, "an IPv6 address must be in brackets, then :PORT")
        port = rest[1:]
    else:
        host, colon, port = authority.rpartition(":")
        if not colon:
            raise InviteError(InvitePart.PORT, "the port is missing")
        if ":" in host:
            raise InviteError(InvitePart.HOST, "an IPv6 address must be in brackets, then :PORT")
    return _check_host(host), _check_port(port)


def _ascii_host(host: str) -> str:
    host = host.strip().strip("[]")
    try:
        return host.encode("ascii").decode("ascii")
    except UnicodeEncodeError:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InviteError(InvitePart.HOST, "not a host name or address") from None


def _check_host(host: str) -> str:
    if not host:
        raise InviteError(InvitePart.HOST, "the host is missing")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise InviteError(InvitePart.HOST, "not a valid IPv6 address") from None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise InviteError(InvitePart.HOST, "not a valid IPv4 address") from None
    name = host.lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InviteError(InvitePart.HOST, "not a valid host name")
    return name


def _check_port(port: str) -> str:
    if not _PORT.match(port) or not 1 <= int(port) <= 65535:
        raise InviteError(InvitePart.PORT, "the port must be a number from 1 to 65535")
    return str(int(port))


def _check_passphrase(passphrase: str) -> str:
    if not passphrase:
        raise InviteError(InvitePart.PASSPHRASE, "the passphrase is missing")
    try:
        normalize_password(passphrase)
    except ValueError as exc:
        raise InviteError(InvitePart.PASSPHRASE, str(exc)) from None
    return passphrase


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str, size: int, part: InvitePart, what: str) -> bytes:
    expected = len(_b32(bytes(size)))
    if len(text) != expected or not re.fullmatch(r"[a-z2-7]+", text):
        raise InviteError(part, f"the {what} must be {expected} letters and digits 2-7")
    padded = text.upper() + "=" * (-len(text) % 8)
    value = base64.b32decode(padded)
    if _b32(value) != text:  # unused low bits set: another spelling of the same bytes
        raise InviteError(part, f"the {what} is not spelled as SocketChat writes it")
    return value


def _check(host: str, port: str, room: str, key: str, passphrase: str) -> str:
    material = "|".join((host, port, room, key, passphrase)).encode("utf-8")
    return _b32(hashlib.sha256(_CHECK_LABEL + material).digest()[:_CHECK_BYTES])
