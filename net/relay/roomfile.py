"""What a relay holds for its room: the room id, the access key (the "verifier"), the room's
long-term relay key and, for a room with an owner, its birth certificate and signed actions.

A relay never needs the room password and must never hold the message key. Members pin the
relay key the first time they join (as SSH pins host keys): a relay that cannot sign with it
gets no password guess from them. Two ways to get a :class:`RoomSecret`:

* :meth:`RoomSecret.from_password` — derive on this machine (``main.py relay`` with a password,
  or "Host a room" in the app), keeping only what the relay needs; with ``owner=``, or with
  :meth:`RoomSecret.create_owned` (or :func:`create_owned_room`, which also returns the
  member's keys), the new room is *owned* by an identity;
* :meth:`RoomSecret.load` — read a room file written by ``main.py room create`` on a member's
  machine, so a relay on a server never learns the password and the room id (the scrypt salt)
  stays the same across restarts.

Room file format (JSON, mode 0600)::

    {"format": "socketchat-room", "version": 2, "room_id": "<32 hex>", "access": "<64 hex>",
     "relay_key": "<128 hex: the relay identity's secret>",
     "genesis": "<226 hex>", "actions": ["<hex>", …]}

``genesis`` (:mod:`crypto.genesis`: the owner's signing key, a nonce and the room's settings,
signed by the owner) and ``actions`` (:mod:`net.proto._authority`: each signed by the owner or
an admin, chained to the one before, oldest first) are there for a room with an owner only; a
file without them is a room without one (files made before rooms had owners keep working).
The room id of a room with an owner is derived from its genesis, and a file where they differ
is refused. The relay appends each action it accepts and rewrites the file (atomically).

Anyone holding the file can host the room (members accept its relay key) and can test password
guesses offline at scrypt cost; it cannot read messages (there is no message key in it), nor
forge an action: those are signed by the owner and the admins, whose keys are not in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable

from Crypto.Random import get_random_bytes

from crypto import genesis as genesis_format
from crypto.errors import AuthenticationError
from crypto.genesis import Genesis, RoomSettings
from crypto.identity import SECRET_SIZE, Identity
from crypto.kdf import KEY_SIZE, SALT_SIZE, SCRYPT_N, RoomKeys, derive_room_keys
from crypto.spake2 import Spake2Secret
from net.proto import Action, ActionRefused, Authority, RelayCredentials

FILE_FORMAT = "socketchat-room"
FILE_VERSION = 2
#: A room file is a few hundred bytes, plus up to 1,000 actions of at most 530 hex digits
#: each; anything larger is not one (and is not read whole).
MAX_FILE_BYTES = 8 * 1024 * 1024


class RoomSecret:
    """A room as a relay knows it: ``room_id`` (also the scrypt salt), the access key, the
    relay identity (a new one if none is given) and, for a room with an owner, its ``genesis``
    and the ``actions`` taken in it so far (each as its actor signed it, oldest first).

    The SPAKE2 secret is computed once here, so every handshake reuses it. Hand the object to
    :class:`net.relay.Relay`; save it with :meth:`save` to host the same room again later.
    The genesis is checked against the room id here (``ValueError`` if they differ or the
    owner's signature does not verify); the actions are checked by :meth:`authority`.
    """

    __slots__ = (
        "_access",
        "_actions",
        "_credentials",
        "_genesis",
        "_relay_identity",
        "_room_id",
        "_spake2",
    )

    def __init__(
        self,
        *,
        room_id: bytes,
        access: bytes,
        relay_identity: Identity | None = None,
        genesis: Genesis | None = None,
        actions: Iterable[bytes] = (),
    ) -> None:
        room_id, access = bytes(room_id), bytes(access)
        if len(room_id) != SALT_SIZE:
            raise ValueError(f"room_id must be {SALT_SIZE} bytes")
        if len(access) != KEY_SIZE:
            raise ValueError(f"the access key must be {KEY_SIZE} bytes")
        actions = tuple(bytes(action) for action in actions)
        if genesis is not None:
            _check_genesis(genesis, room_id)
        elif actions:
            raise ValueError("room actions need a room owner (a genesis), and this room has none")
        self._room_id = room_id
        self._access = access
        self._genesis = genesis
        self._actions = actions
        self._spake2 = Spake2Secret.from_access_key(access)
        self._relay_identity = relay_identity if relay_identity is not None else Identity.generate()
        self._credentials = RelayCredentials(
            room_id=room_id, secret=self._spake2, relay_identity=self._relay_identity
        )

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_password(
        cls,
        password: str,
        *,
        room_id: bytes | None = None,
        owner: Identity | None = None,
        n: int = SCRYPT_N,
    ) -> RoomSecret:
        """Derive the room's keys (scrypt: most of a second) and keep only the relay's part.

        ``room_id`` ``None`` creates a new room (random id); pass a saved id to host the same
        room again. ``owner`` makes the new room owned by that identity (as
        :meth:`create_owned`; its room id comes from the owner, so ``room_id`` must then be
        ``None``). ``n`` is for tests only. Raises ``crypto.errors.PasswordError`` (a
        ``ValueError``) if the password breaks the rules.
        """
        if owner is not None:
            if room_id is not None:
                raise ValueError("an owned room's id comes from its owner: give no room_id")
            return cls.create_owned(password, owner, n=n)
        if room_id is None:
            room_id = get_random_bytes(SALT_SIZE)
        return cls.from_room_keys(derive_room_keys(password, room_id=room_id, n=n))

    @classmethod
    def create_owned(
        cls,
        password: str,
        owner: Identity,
        *,
        settings: RoomSettings = RoomSettings.HISTORY_FOR_NEWCOMERS,
        n: int = SCRYPT_N,
    ) -> RoomSecret:
        """A new room owned by ``owner`` (who can then appoint admins and remove members):
        a new genesis, its room id, and the relay's part of the keys derived for it (scrypt,
        salted with the room id as for any room). ``n`` is for tests only."""
        return create_owned_room(password, owner, settings=settings, n=n)[1]

    @classmethod
    def from_room_keys(
        cls,
        keys: RoomKeys,
        *,
        relay_identity: Identity | None = None,
        genesis: Genesis | None = None,
    ) -> RoomSecret:
        """The relay's part of a member's keys (the message key is left behind), with a new
        relay identity unless one is given; ``genesis`` for a room with an owner (its room id
        must be the keys' room id: ``ValueError`` otherwise)."""
        return cls(
            room_id=keys.room_id,
            access=keys.access,
            relay_identity=relay_identity,
            genesis=genesis,
        )

    def with_actions(self, actions: Iterable[bytes]) -> RoomSecret:
        """This room with another action log (what the relay saves after each action): the
        same keys and relay identity, nothing derived again."""
        actions = tuple(bytes(action) for action in actions)
        if self._genesis is None and actions:
            raise ValueError("room actions need a room owner (a genesis), and this room has none")
        other = object.__new__(RoomSecret)
        for slot in RoomSecret.__slots__:
            object.__setattr__(other, slot, getattr(self, slot))
        other._actions = actions
        return other

    def with_access(self, access: bytes) -> RoomSecret:
        """This room with a new password's access key (CHANGE_PASSWORD): the same id, owner,
        actions and relay identity; new handshakes must prove the new password."""
        return RoomSecret(
            room_id=self._room_id,
            access=access,
            relay_identity=self._relay_identity,
            genesis=self._genesis,
            actions=self._actions,
        )

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

    @property
    def genesis(self) -> Genesis | None:
        """The room's birth certificate (its owner and settings); None: a room without an
        owner, where nobody can take actions."""
        return self._genesis

    @property
    def owner_key(self) -> bytes | None:
        """The owner's public signing key, or None for a room without an owner."""
        return self._genesis.owner_key if self._genesis is not None else None

    @property
    def actions(self) -> tuple[bytes, ...]:
        """The room's actions so far, oldest first, each as its actor signed it (unchecked:
        :meth:`authority` checks them)."""
        return self._actions

    def authority(self) -> Authority | None:
        """Who may do what in this room: its genesis with every saved action applied, in
        order, each checked against the rules and its actor's signature. None for a room
        without an owner. ``ValueError`` in plain words for an action that does not apply
        (a damaged or tampered room file: the relay must not start with it)."""
        if self._genesis is None:
            return None
        authority = Authority(self._genesis)
        for number, encoded in enumerate(self._actions, start=1):
            try:
                authority.apply(Action.decode(encoded))
            except ActionRefused as exc:
                raise ValueError(
                    f"the room's action {number} of {len(self._actions)} is refused ({exc}): "
                    "the actions were damaged or tampered with"
                ) from None
        return authority

    def __repr__(self) -> str:
        owner = "" if self._genesis is None else f", owner={self._genesis.owner_key.hex()[:8]}"
        return (
            f"RoomSecret(room_id={self._room_id.hex()}{owner}, access=<hidden>, relay key=<hidden>)"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoomSecret):
            return NotImplemented
        return (
            self._room_id == other._room_id
            and self._access == other._access
            and self.relay_key == other.relay_key
            and self._genesis == other._genesis
            and self._actions == other._actions
        )

    # Unhashable on purpose: equal secrets need not share a hash slot. mypy rejects the
    # documented idiom (object.__hash__ is a method), hence the ignore.
    __hash__ = None  # type: ignore[assignment]

    # -- room files ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the room file at ``path``, readable by its owner only (mode 0600).

        Refuses (``FileExistsError``) to replace an existing file unless ``overwrite``. The
        file is created with mode 0600 from the start, so the key is never world-readable,
        not even for a moment. With ``overwrite`` the new file is written next to the old
        one and then takes its place in one step (a crash leaves the old file or the new,
        never half of one: the relay rewrites the file after each action).
        """
        document: dict[str, object] = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "room_id": self._room_id.hex(),
            "access": self._access.hex(),
            "relay_key": self._relay_identity.to_secret().hex(),
        }
        if self._genesis is not None:
            document["genesis"] = self._genesis.encode().hex()
            document["actions"] = [action.hex() for action in self._actions]
        data = (json.dumps(document, indent=2) + "\n").encode("ascii")
        if overwrite:
            replace_private_file(path, data)
        else:
            write_private_file(path, data, overwrite=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoomSecret:
        """Read and check a room file; ``ValueError`` in plain words if it is not a valid one.

        ``OSError`` (for example ``FileNotFoundError``) passes through unchanged. The actions
        are parsed here but checked by :meth:`authority` (the relay does, before it starts).
        """
        name = os.fspath(path)
        with open(name, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
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
        genesis = _genesis_field(document, room_id, name)
        actions = _actions_field(document, name, owned=genesis is not None)
        return cls(
            room_id=room_id,
            access=access,
            relay_identity=relay_identity,
            genesis=genesis,
            actions=actions,
        )


def create_owned_room(
    password: str,
    owner: Identity,
    *,
    settings: RoomSettings = RoomSettings.HISTORY_FOR_NEWCOMERS,
    n: int = SCRYPT_N,
) -> tuple[RoomKeys, RoomSecret]:
    """A new room owned by ``owner``: the member's keys for it (for the owner's own client)
    and the relay's part, with a new relay identity ("Host a room": the host owns the room).

    The room id comes from the owner's genesis (:mod:`crypto.genesis`), and is the scrypt salt
    as for any room, so one scrypt run serves both. ``n`` is for tests only. Raises
    ``crypto.errors.PasswordError`` (a ``ValueError``) if the password breaks the rules.
    """
    genesis = Genesis.create(owner, settings=settings)
    keys = derive_room_keys(password, room_id=genesis.room_id, n=n)
    return keys, RoomSecret.from_room_keys(keys, genesis=genesis)


def _check_genesis(genesis: Genesis, room_id: bytes, name: str = "") -> None:
    where = f" in {name}" if name else ""
    if genesis.room_id != room_id:
        raise ValueError(
            f"The room's owner (its 'genesis'{where}) is for room {genesis.room_id.hex()}, "
            f"not for this room ({room_id.hex()}): the room id of a room with an owner is "
            "derived from its owner."
        )
    try:
        genesis.check(room_id)
    except (AuthenticationError, ValueError):
        raise ValueError(
            f"The room's owner (its 'genesis'{where}) is not signed by the owner it names: "
            "it was damaged or tampered with."
        ) from None


def _genesis_field(document: dict[str, object], room_id: bytes, name: str) -> Genesis | None:
    if document.get("genesis") is None:
        return None
    raw = _hex_field(document, "genesis", genesis_format.SIZE, name)
    try:
        genesis = Genesis.decode(raw)
    except ValueError:
        raise ValueError(f"The 'genesis' entry in {name} is not a room genesis.") from None
    _check_genesis(genesis, room_id, name)
    return genesis


def _actions_field(document: dict[str, object], name: str, *, owned: bool) -> tuple[bytes, ...]:
    value = document.get("actions")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"The 'actions' entry in {name} is not a list of hexadecimal strings.")
    if value and not owned:
        raise ValueError(
            f"{name} has room actions but no 'genesis' entry: a room without an owner has none."
        )
    actions = []
    for number, text in enumerate(value, start=1):
        try:
            encoded = bytes.fromhex(text)
            Action.decode(encoded)  # the form only; the relay checks the chain before it starts
        except (ValueError, ActionRefused):
            raise ValueError(f"Action {number} in {name} is not a room action.") from None
        actions.append(encoded)
    return tuple(actions)


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


def replace_private_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at ``path`` (or create it) with ``data`` in one step, readable by its
    owner only: written to a new file next to it (mode 0600 from the start), flushed to disk,
    then renamed over it. A symbolic link at ``path`` is followed (the file it names is
    replaced, the link stays)."""
    target = os.path.realpath(os.fspath(path))
    folder, base = os.path.split(target)
    fd, temp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder or ".")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
