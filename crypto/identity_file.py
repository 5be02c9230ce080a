"""This device's identity file: created once, read at every start, never silently replaced.

Kept apart from :mod:`crypto.identity` so that the keys and signatures (which the sans-I/O
protocol core uses) import no file or process machinery; the front ends call
:func:`load_or_create` once at start-up.
"""

from __future__ import annotations

import json
import os
import re

from crypto import _keyfile
from crypto.errors import KeyFileError
from crypto.identity import PUBLIC_KEY_SIZE, SECRET_SIZE, Identity

FILE_FORMAT = "socketchat-identity"
FILE_VERSION = 1
_FIELDS = frozenset({"format", "version", "secret", "signing_public", "dh_public"})
_HEX = {n: re.compile(f"[0-9a-f]{{{2 * n}}}") for n in (PUBLIC_KEY_SIZE, SECRET_SIZE)}
_DO_NOT_REPLACE = (
    " SocketChat will not make a new identity in its place: that would change your safety "
    "code for everyone who verified you. Restore the file from a backup, or move it away to "
    "start again as a new device."
)


def _encode_file(identity: Identity) -> bytes:
    """The identity file (format version 1): JSON, keys hex-encoded, lower case::

    {"format": "socketchat-identity", "version": 1, "secret": "<128 hex>",
     "signing_public": "<64 hex>", "dh_public": "<64 hex>"}

    The public keys are redundant on purpose: they double as a checksum of the secret.
    """
    document = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "secret": identity.to_secret().hex(),
        "signing_public": identity.signing_public.hex(),
        "dh_public": identity.dh_public.hex(),
    }
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def _hex_field(document: dict[str, object], field: str, size: int) -> bytes | None:
    value = document.get(field)
    if not isinstance(value, str) or not _HEX[size].fullmatch(value):
        return None
    return bytes.fromhex(value)


def _decode_file(raw: bytes, name: str) -> Identity:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"{name} is damaged (not JSON).{_DO_NOT_REPLACE}") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise KeyFileError(f"{name} is not a SocketChat identity file.{_DO_NOT_REPLACE}")
    version = document.get("version")
    if type(version) is not int or version != FILE_VERSION:  # not True, not 1.0
        raise KeyFileError(
            f"{name} has identity file version {version!r}; this SocketChat reads version "
            f"{FILE_VERSION} only. Use the SocketChat that wrote it, or a newer one."
        )
    secret = _hex_field(document, "secret", SECRET_SIZE)
    signing = _hex_field(document, "signing_public", PUBLIC_KEY_SIZE)
    dh = _hex_field(document, "dh_public", PUBLIC_KEY_SIZE)
    if set(document) != _FIELDS or secret is None or signing is None or dh is None:
        raise KeyFileError(f"{name} is damaged (fields missing or malformed).{_DO_NOT_REPLACE}")
    identity = Identity.from_secret(secret)
    if identity.signing_public != signing or identity.dh_public != dh:
        raise KeyFileError(
            f"{name} is damaged (its secret does not match its public keys).{_DO_NOT_REPLACE}"
        )
    return identity


def load(path: str | os.PathLike[str]) -> Identity:
    """Read an existing identity file; see :func:`load_or_create` for the checks.

    Raises :class:`KeyFileError` (a ``ValueError``) with a user-readable reason, or
    ``OSError`` (``FileNotFoundError`` if there is none).
    """
    return _decode_file(_keyfile.read_private_file(path), os.fspath(path))


def load_or_create(path: str | os.PathLike[str]) -> Identity:
    """This device's identity: read from ``path``, or created there on first use.

    Call once at start-up, before joining any room, and keep the result. Creating writes the
    file atomically with mode 0600 from the start (an owner-only ACL on Windows); see
    :mod:`crypto._keyfile`. Loading refuses, with :class:`KeyFileError`, a file that is
    damaged, truncated, over 4 KiB, of another format or version, or (POSIX) open to other
    users or owned by another user. It never answers a bad file with a new identity: only a
    missing file is created. If another instance creates the file at the same moment, both
    end up with the one that was written first.
    """
    try:
        return load(path)
    except FileNotFoundError:
        pass
    identity = Identity.generate()
    try:
        _keyfile.create_private_file(path, _encode_file(identity))
    except FileExistsError:
        return load(path)
    return identity
