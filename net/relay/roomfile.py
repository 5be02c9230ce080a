"""What a relay holds for its room: the room id, the access key (the "verifier") and the room's
long-term relay key.

A relay never needs the room password and must never hold the message key. Members pin the
relay key the first time they join (as SSH pins host keys): a relay that cannot sign with it
gets no password guess from them. Two ways to get a :class:`RoomSecret`:

* :meth:`RoomSecret.from_password` — derive on this machine (``main.py relay`` with a password,
  or "Host a room" in the app), keeping only what the relay needs;
* :meth:`RoomSecret.load` — read a room file written by ``main.py room create`` on a member's
  machine, so a relay on a server never learns the password and the room id (the scrypt salt)
  stays the same across restarts.

Room file format (JSON, mode 0600)::

    {"format": "socketchat-room", "version": 2, "room_id": "<32 hex>", "access": "<64 hex>",
     "relay_key": "<128 hex: the relay identity's secret>"}

Anyone holding the file can host the room (members accept its relay key) and can test password
guesses offline at scrypt cost; it cannot read messages (there is no message key in it).
"""

from __future__ import annotations

import json
import os

from Crypto.Random import get_random_bytes

from crypto.identity import SECRET_SIZE, Identity
from crypto.kdf import KEY_SIZE, SALT_SIZE, SCRYPT_N, RoomKeys, derive_room_keys
from crypto.spake2 import Spake2Secret
from net.proto import RelayCredentials

FILE_FORMAT = "socketchat-room"
FILE_VERSION = 2
#: Room files are a few dozen bytes; anything much larger is not one (and is not read whole).
_MAX_FILE_BYTES = 4096


class RoomSecret:
    """A room as a relay knows it: ``room_id`` (also the scrypt salt), the access key and the
    relay identity (a new one if none is given).

    The SPAKE2 secret is computed once here, so every handshake reuses it. Hand the object to
    :class:`net.relay.Relay`; save it with :meth:`save` to host the same room again later.
    """

    __slots__ = ("_access", "_credentials", "_relay_identity", "_room_id", "_spake2")

    def __init__(
        self, *, room_id: bytes, access: bytes, relay_identity: Identity | None = None
    ) -> None:
        room_id, access = bytes(room_id), bytes(access)
        if len(room_id) != SALT_SIZE:
            raise ValueError(f"room_id must be {SALT_SIZE} bytes")
        if len(access) != KEY_SIZE:
            raise ValueError(f"the access key must be {KEY_SIZE} bytes")
        self._room_id = room_id
        self._access = access
        self._spake2 = Spake2Secret.from_access_key(access)
        self._relay_identity = relay_identity if relay_identity is not None else Identity.generate()
        self._credentials = RelayCredentials(
            room_id=room_id, secret=self._spake2, relay_identity=self._relay_identity
        )

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_password(
        cls, password: str, *, room_id: bytes | None = None, n: int = SCRYPT_N
    ) -> RoomSecret:
        """Derive the room's keys (scrypt: most of a second) and keep only the relay's part.

        ``room_id`` ``None`` creates a new room (random id); pass a saved id to host the same
        room again. ``n`` is for tests only. Raises ``crypto.errors.PasswordError`` (a
        ``ValueError``) if the password breaks the rules.
        """
        if room_id is None:
            room_id = get_random_bytes(SALT_SIZE)
        return cls.from_room_keys(derive_room_keys(password, room_id=room_id, n=n))

    @classmethod
    def from_room_keys(
        cls, keys: RoomKeys, *, relay_identity: Identity | None = None
    ) -> RoomSecret:
        """The relay's part of a member's keys (the message key is left behind), with a new
        relay identity unless one is given."""
        return cls(room_id=keys.room_id, access=keys.access, relay_identity=relay_identity)

    # -- accessors -------------------------------------------------------------------------

    @property
    def room_id(self) -> bytes:
        """The room's 16-byte id, announced in RELAY_HELLO; members use it as the scrypt salt."""
        return self._room_id

    @property
    def access(self) -> bytes:
        """The 32-byte access key. Treat it like a password hash: never log or send it."""
        return self._access

    @property
    def spake2(self) -> Spake2Secret:
        """The SPAKE2 secret for :class:`net.proto.RelayProtocol`, computed once."""
        return self._spake2

    @property
    def relay_key(self) -> bytes:
        """The relay's public signing key: what members pin, and what an invite names."""
        return self._relay_identity.signing_public

    @property
    def credentials(self) -> RelayCredentials:
        """What ``RelayProtocol.select_room`` needs for this room."""
        return self._credentials

    def __repr__(self) -> str:
        return f"RoomSecret(room_id={self._room_id.hex()}, access=<hidden>, relay key=<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoomSecret):
            return NotImplemented
        return (
            self._room_id == other._room_id
            and self._access == other._access
            and self.relay_key == other.relay_key
        )

    # Unhashable on purpose: equal secrets need not share a hash slot. mypy rejects the
    # documented idiom (object.__hash__ is a method), hence the ignore.
    __hash__ = None  # type: ignore[assignment]

    # -- room files ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the room file at ``path``, readable by its owner only (mode 0600).

        Refuses (``FileExistsError``) to replace an existing file unless ``overwrite``. The
        file is created with mode 0600 from the start, so the key is never world-readable,
        not even for a moment.
        """
        document = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "room_id": self._room_id.hex(),
            "access": self._access.hex(),
            "relay_key": self._relay_identity.to_secret().hex(),
        }
        data = (json.dumps(document, indent=2) + "\n").encode("ascii")
        write_private_file(path, data, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoomSecret:
        """Read and check a room file; ``ValueError`` in plain words if it is not a valid one.

        ``OSError`` (for example ``FileNotFoundError``) passes through unchanged.
        """
        name = os.fspath(path)
        with open(name, "rb") as handle:
            raw = handle.read(_MAX_FILE_BYTES + 1)
        if len(raw) > _MAX_FILE_BYTES:
            raise ValueError(f"{name} is too large to be a SocketChat room file.")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{name} is not a SocketChat room file (it is not JSON).") from None
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise ValueError(f"{name} is not a SocketChat room file.")
        version = document.get("version")
        if version == 1 and not isinstance(version, bool):
            raise ValueError(
                f"{name} was made by SocketChat 1, whose rooms this version cannot host. "
                "Make a new room file with `main.py room create`."
            )
        if version != FILE_VERSION or isinstance(version, bool):
            raise ValueError(
                f"{name} is a room file of version {version!r}; this SocketChat reads "
                f"version {FILE_VERSION} only."
            )
        room_id = _hex_field(document, "room_id", SALT_SIZE, name)
        access = _hex_field(document, "access", KEY_SIZE, name)
        relay_secret = _hex_field(document, "relay_key", SECRET_SIZE, name)
        try:
            relay_identity = Identity.from_secret(relay_secret)
        except ValueError:
            raise ValueError(f"The 'relay_key' entry in {name} is not a valid key.") from None
        return cls(room_id=room_id, access=access, relay_identity=relay_identity)


def _hex_field(document: dict[str, object], field: str, size: int, name: str) -> bytes:
    value = document.get(field)
    if not isinstance(value, str):
        raise ValueError(f"{name} has no {field!r} entry.")
    try:
        data = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"The {field!r} entry in {name} is not hexadecimal.") from None
    if len(data) != size:
        raise ValueError(
            f"The {field!r} entry in {name} must be {size} bytes ({2 * size} hex digits)."
        )
    return data


def write_private_file(path: str | os.PathLike[str], data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` readable by its owner only (mode 0600 from the start, so
    never world-readable, not even for a moment). ``FileExistsError`` unless ``overwrite``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(os.fspath(path), flags, 0o600)
    try:
        if overwrite and hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
