"""Rooms this device remembers, so that the app opens them again by itself.

A remembered room is where it is (host, port), the name used there, a label for the room list,
the room's id and the room's keys derived from its password (:class:`crypto.kdf.RoomKeys`):
enough to join again without the password, which is never stored. The keys are secret, so the
whole record lives in the operating system's keyring (:mod:`net.client.keychain`), one entry
per room (``room:<id in hex>``; a Windows credential holds at most 2,560 bytes, a record about
500). What the app must know before the keyring answers (to draw the room list at once) is
kept in ``rooms.json`` beside the settings: id, label, host, port and name, nothing secret.

The keyring can be slow (a D-Bus round trip per call) and may show the desktop's unlock prompt,
so every keyring call runs on :class:`RoomMemory`'s own thread, in the order asked, and its
outcome reaches the Tk thread through the pump: :class:`MemoryOpened` once at start (available
or not, and why), :class:`RoomsLoaded` after :meth:`RoomMemory.load`, :class:`MemoryFailed`
when a later call fails. Without a keyring (:class:`~net.client.keychain.KeychainUnavailable`)
nothing secret is remembered and :meth:`RoomMemory.save` does nothing.

The records are this device's own writing, but a keyring entry can be edited by anything that
runs as the user: :meth:`SavedRoom.from_record` checks every field and refuses what does not fit.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto.kdf import KEY_SIZE, SALT_SIZE, RoomKeys
from net.client import Keychain, KeychainUnavailable, validate_username

INDEX_FILE = "rooms.json"
MAX_ROOMS = 100  # remembered rooms; the index is cut there when read
MAX_LABEL_CHARS = 80
MAX_HOST_CHARS = 255
_RECORD_VERSION = 1
_MAX_RECORD_BYTES = 2048


def keychain_name(room_id: bytes) -> str:
    """The keyring entry of a room."""
    return f"room:{room_id.hex()}"


@dataclass(frozen=True)
class SavedRoom:
    """A remembered room: where, as whom, and its keys (``repr`` never shows them)."""

    host: str
    port: int
    username: str
    label: str
    keys: RoomKeys = field(repr=False)

    @property
    def room_id(self) -> bytes:
        return self.keys.room_id

    def record(self) -> bytes:
        """The keyring entry's value."""
        return json.dumps(
            {
                "v": _RECORD_VERSION,
                "host": self.host,
                "port": self.port,
                "username": self.username,
                "label": self.label,
                "room_id": self.keys.room_id.hex(),
                "access": self.keys.access.hex(),
                "member": self.keys.member.hex(),
            },
            ensure_ascii=False,
        ).encode("utf-8")

    @classmethod
    def from_record(cls, data: bytes, room_id: bytes) -> SavedRoom:
        """Read a keyring entry written by :meth:`record` for ``room_id``; ``ValueError`` if
        it is not one (damaged, edited, or another room's)."""
        if len(data) > _MAX_RECORD_BYTES:
            raise ValueError("too long")
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict) or raw.get("v") != _RECORD_VERSION:
            raise ValueError("not a room record of this version")
        keys = RoomKeys(
            room_id=_hex(raw.get("room_id"), SALT_SIZE),
            access=_hex(raw.get("access"), KEY_SIZE),
            member=_hex(raw.get("member"), KEY_SIZE),
        )
        if keys.room_id != room_id:
            raise ValueError("the record names another room")
        entry = IndexEntry.checked(
            room_id, raw.get("label"), raw.get("host"), raw.get("port"), raw.get("username")
        )
        return cls(entry.host, entry.port, entry.username, entry.label, keys)

    def entry(self) -> IndexEntry:
        return IndexEntry(self.room_id, self.label, self.host, self.port, self.username)


@dataclass(frozen=True)
class IndexEntry:
    """What ``rooms.json`` keeps of a remembered room: nothing secret."""

    room_id: bytes
    label: str
    host: str
    port: int
    username: str

    @classmethod
    def checked(
        cls, room_id: bytes, label: object, host: object, port: object, username: object
    ) -> IndexEntry:
        """Every field checked (``ValueError`` if one does not fit)."""
        if len(room_id) != SALT_SIZE:
            raise ValueError("bad room id")
        if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL_CHARS:
            raise ValueError("bad label")
        if not isinstance(host, str) or not 0 < len(host) <= MAX_HOST_CHARS:
            raise ValueError("bad host")
        if type(port) is not int or not 1 <= port <= 65535:
            raise ValueError("bad port")
        if not isinstance(username, str):
            raise ValueError("bad name")
        return cls(bytes(room_id), label, host, port, validate_username(username))


def load_index(directory: Path) -> list[IndexEntry]:
    """The remembered rooms in their order, or none if the file is missing or unreadable
    (entries that do not fit are skipped)."""
    try:
        raw = json.loads((directory / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(raw, list):
        return []
    entries: list[IndexEntry] = []
    seen: set[bytes] = set()
    for item in raw[:MAX_ROOMS]:
        if not isinstance(item, dict):
            continue
        try:
            room_id = _hex(item.get("room_id"), SALT_SIZE)
            entry = IndexEntry.checked(
                room_id, item.get("label"), item.get("host"), item.get("port"), item.get("username")
            )
        except ValueError:
            continue
        if entry.room_id not in seen:
            seen.add(entry.room_id)
            entries.append(entry)
    return entries


def save_index(entries: list[IndexEntry], directory: Path) -> None:
    """Write the index atomically; errors are swallowed (the keyring still has the rooms,
    the list is only their order and labels)."""
    document = [
        {
            "room_id": entry.room_id.hex(),
            "label": entry.label,
            "host": entry.host,
            "port": entry.port,
            "username": entry.username,
        }
        for entry in entries[:MAX_ROOMS]
    ]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".rooms-", suffix=".json", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
        os.replace(tmp, directory / INDEX_FILE)
    except OSError:
        return


def _hex(value: object, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size:
        raise ValueError("bad hex field")
    return bytes.fromhex(value)


# -- the keyring, off the Tk thread ------------------------------------------------------------


@dataclass(frozen=True)
class MemoryOpened:
    """The keyring answered at start: ``available``, else ``why`` (a sentence to show)."""

    available: bool
    why: str = ""


@dataclass(frozen=True)
class RoomsLoaded:
    """What :meth:`RoomMemory.load` found: a record per room id, None where there is none
    (or a damaged one)."""

    rooms: dict[bytes, SavedRoom | None]


@dataclass(frozen=True)
class MemoryFailed:
    """A keyring call after opening failed; ``why`` is a sentence to show."""

    why: str


@dataclass(frozen=True)
class LocalKey:
    """The key of this device's local history (:meth:`Keychain.local_key`), or None and why."""

    key: bytes | None = field(repr=False)
    why: str = ""


MemoryEvent = MemoryOpened | RoomsLoaded | MemoryFailed | LocalKey


class RoomMemory:
    """The keyring on a thread of its own. :meth:`start` once (it opens the keyring), then
    :meth:`load`, :meth:`save`, :meth:`forget`, :meth:`local_key` from the Tk thread; each
    returns at once and, where there is an answer, it comes through ``put`` as ``(0, event)``.
    :meth:`stop` at exit (joins the thread; a call under way finishes first)."""

    def __init__(
        self,
        put: Callable[[object], None],
        opener: Callable[[], Keychain] = Keychain.open,
    ) -> None:
        self._put = put
        self._opener = opener
        self._chain: Keychain | None = None
        self._why = ""
        # (what, argument) in the order asked; None stops the thread.
        self._jobs: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="socketchat-keyring", daemon=True)
        self._thread.start()

    def load(self, room_ids: list[bytes]) -> None:
        """Read the records of ``room_ids``; :class:`RoomsLoaded` follows."""
        self._jobs.put(("load", list(room_ids)))

    def save(self, room: SavedRoom) -> None:
        """Remember ``room`` (replacing an earlier record of it)."""
        self._jobs.put(("save", room))

    def forget(self, room_id: bytes) -> None:
        """Forget the room's record (nothing happens if there is none)."""
        self._jobs.put(("forget", room_id))

    def local_key(self) -> None:
        """The local history's key; :class:`LocalKey` follows (None if unavailable)."""
        self._jobs.put(("local key", None))

    def stop(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------

    def _emit(self, event: MemoryEvent) -> None:
        self._put((0, event))

    def _run(self) -> None:
        try:
            self._chain = self._opener()
        except KeychainUnavailable as error:
            self._why = str(error)
            self._emit(MemoryOpened(False, self._why))
        else:
            self._emit(MemoryOpened(True))
        while (job := self._jobs.get()) is not None:
            what, argument = job
            try:
                self._do(what, argument)
            except KeychainUnavailable as error:
                self._emit(MemoryFailed(str(error)))
                # Whoever waits for an answer gets one: nothing found.
                if what == "local key":
                    self._emit(LocalKey(None, str(error)))
                elif what == "load":
                    self._emit(RoomsLoaded(dict.fromkeys(argument)))

    def _do(self, what: str, argument: Any) -> None:
        chain = self._chain
        if what == "load":
            self._emit(RoomsLoaded(self._read(chain, argument)))
        elif what == "local key":
            self._emit(LocalKey(chain.local_key() if chain else None, self._why))
        elif chain is None:
            return  # nothing secret is remembered without a keyring
        elif what == "save":
            chain.set(keychain_name(argument.room_id), argument.record())
        elif what == "forget":
            chain.delete(keychain_name(argument))

    @staticmethod
    def _read(chain: Keychain | None, room_ids: list[bytes]) -> dict[bytes, SavedRoom | None]:
        found: dict[bytes, SavedRoom | None] = {}
        for room_id in room_ids:
            data = chain.get(keychain_name(room_id)) if chain is not None else None
            room: SavedRoom | None = None
            if data is not None:
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    room = SavedRoom.from_record(data, room_id)
            found[room_id] = room
        return found
