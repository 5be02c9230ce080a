"""The device's local history and outbox: one SQLite file, what people said sealed at rest.

Open it with :meth:`Archive.open` and the key from :meth:`net.client.keychain.Keychain.local_key`
(this module never touches the keyring itself), keep the :class:`Archive` for the app's life,
and :meth:`~Archive.close` it at exit. Store every message shown with :meth:`~Archive.add`; show
a room with :meth:`~Archive.latest`, then :meth:`~Archive.before` as the person scrolls up;
resume from :meth:`~Archive.last_position`; keep unsent text with
:meth:`~Archive.queue_outgoing` until the relay confirms it.

What is sealed and what is not. Each row's sender name, sender signing key, content type and
text are sealed together with XChaCha20-Poly1305 (:func:`crypto.aead.seal_random`) under a
subkey of the local key; the authenticated data binds the row to its room id, message id,
timestamp and own flag, so a row copied to another room or message, or re-dated, no longer
opens. Left in the clear, because SQLite must sort and look them up: room ids, message ids,
relay positions, timestamps, the own flag, and the sizes of the sealed bodies. A row that does
not open is *damaged*: it is skipped, never shown, and counted in :attr:`Archive.damaged`.
A key that does not fit the file is found at once, by a check value sealed at creation
(:class:`ArchiveKeyError`), rather than by every row failing.

Search trade-off. The bodies are sealed, so SQLite cannot search them. The first
:meth:`~Archive.search` in a room (or :meth:`~Archive.warm`) opens all of its rows once and keeps
them, with case-folded copies of text and sender, in this process's memory; :meth:`~Archive.add`
keeps that up to date. So while the app runs, the searched rooms' plaintext sits in this
process's memory (about 0.9 KB per message: 86 MB for 100,000 messages of 70 characters), as
shown text does anyway; it is never written to disk, and :meth:`~Archive.close` and
:meth:`~Archive.forget_room` drop it. A swap file or a core dump could still hold it; the
alternative, an index on disk, would keep words of every message there for good. Opening
100,000 messages takes about 3 s; a warm search through them all about 30 ms.

The file is created readable by its owner only (mode 0600, and SQLite gives its ``-wal`` and
``-shm`` files the same mode), in WAL mode with ``synchronous=NORMAL`` (a crash may lose the
last commits, never corrupt the file) and ``secure_delete`` on, so forgotten rooms are zeroed
in the file. Use one :class:`Archive` from one thread: the one that opened it. Another thread
or process may open its own (readers never wait for the writer in WAL mode); each one's search
sees what was in the file when it warmed a room, and what it added itself since.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import itertools
import os
import sqlite3
import struct
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from crypto.aead import open_random, seal_random
from crypto.errors import AuthenticationError
from crypto.kdf import derive
from net.proto import MESSAGE_ID_SIZE

ROOM_ID_SIZE = 16
MAX_TEXT_BYTES = 64 * 1024
MAX_NAME_BYTES = 255  # also the bound of a signing key and a content type (one length byte)
MAX_LIMIT = 1_000_000
MAX_U64 = 2**64 - 1
MAX_TIMESTAMP_MS = 2**63 - 1  # SQLite's INTEGER is a signed 64-bit number
SCHEMA_VERSION = 1
APPLICATION_ID = 0x53434831  # "SCH1", so `file` and sqlite3 tools can tell what this file is

_LABEL = b"SocketChat archive v1|"
_BODY_VERSION = 1
_CHECK_PLAINTEXT = b"SocketChat local history"
# Positions are stored as 8 big-endian bytes: SQLite's INTEGER is signed, so cannot hold every
# u64, and its max() compares blobs byte by byte, which for these is numeric order.
_U64 = struct.Struct(">Q")

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    room BLOB NOT NULL,
    message_id BLOB NOT NULL,
    position BLOB,
    timestamp_ms INTEGER NOT NULL,
    own INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (room, message_id)
);
CREATE INDEX messages_by_time ON messages (room, timestamp_ms, id);
CREATE INDEX messages_by_position ON messages (room, position);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    room BLOB NOT NULL,
    message_id BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (room, message_id)
);
"""


class ArchiveError(Exception):
    """The file is not a SocketChat history this version can read (or not SQLite at all)."""


class ArchiveKeyError(ArchiveError):
    """The key does not open this history: it was made under another key (a new keyring, or
    another computer's file). Nothing in it can be read; never overwrite it silently."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as this device keeps it. ``position`` is the relay's (None until known);
    ``own`` marks what this device sent. The repr shows ids only, never who said what."""

    room_id: bytes
    message_id: bytes
    position: int | None
    sender: str
    signing_key: bytes
    timestamp_ms: int
    text: str
    own: bool
    content_type: str = "text/plain"

    def __repr__(self) -> str:
        return f"StoredMessage(room_id={self.room_id.hex()}, message_id={self.message_id.hex()})"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message written on this device and not yet confirmed by the relay."""

    room_id: bytes
    message_id: bytes
    text: str
    created_ms: int

    def __repr__(self) -> str:
        return f"OutgoingMessage(room_id={self.room_id.hex()}, message_id={self.message_id.hex()})"


# -- input bounds -------------------------------------------------------------------------------


def _check_id(value: object, what: str, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return value


def _encode(value: object, what: str, limit: int) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a str")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode") from None
    if len(encoded) > limit:
        raise ValueError(f"{what} is longer than {limit} bytes")
    return encoded


def _check_int(value: object, what: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ValueError(f"{what} must be an integer from 0 to {maximum}")
    return value


def _check_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


# -- sealing ------------------------------------------------------------------------------------


def _message_aad(room: bytes, message_id: bytes, timestamp_ms: int, own: bool) -> bytes:
    # Fixed-size fields only, so no two different rows can have the same AAD.
    return b"".join(
        (_LABEL, b"message|", room, message_id, _U64.pack(timestamp_ms), b"\x01" if own else b"\0")
    )


def _outbox_aad(room: bytes, message_id: bytes, created_ms: int) -> bytes:
    return b"".join((_LABEL, b"outbox|", room, message_id, _U64.pack(created_ms)))


def _pack_body(message: StoredMessage) -> bytes:
    """Check every field of ``message`` and lay out the part that gets sealed."""
    _check_id(message.room_id, "room_id", ROOM_ID_SIZE)
    _check_id(message.message_id, "message_id", MESSAGE_ID_SIZE)
    if message.position is not None:
        _check_int(message.position, "position", MAX_U64)
    _check_int(message.timestamp_ms, "timestamp_ms", MAX_TIMESTAMP_MS)
    if not isinstance(message.own, bool):
        raise ValueError("own must be a bool")
    sender = _encode(message.sender, "sender", MAX_NAME_BYTES)
    content_type = _encode(message.content_type, "content_type", MAX_NAME_BYTES)
    key = message.signing_key
    if not isinstance(key, bytes) or len(key) > MAX_NAME_BYTES:
        raise ValueError(f"signing_key must be at most {MAX_NAME_BYTES} bytes")
    text = _encode(message.text, "text", MAX_TEXT_BYTES)
    return b"".join(
        (
            bytes((_BODY_VERSION, len(sender))),
            sender,
            bytes((len(key),)),
            key,
            bytes((len(content_type),)),
            content_type,
            text,
        )
    )


def _unpack_body(body: bytes) -> tuple[str, bytes, str, str]:
    """(sender, signing key, content type, text); ValueError if the layout is wrong."""
    if not body or body[0] != _BODY_VERSION:
        raise ValueError("unknown body version")
    fields: list[bytes] = []
    at = 1
    for _ in range(3):
        if at >= len(body) or at + 1 + body[at] > len(body):
            raise ValueError("truncated body")
        fields.append(body[at + 1 : at + 1 + body[at]])
        at += 1 + body[at]
    sender, key, content_type = fields
    return sender.decode("utf-8"), key, content_type.decode("utf-8"), body[at:].decode("utf-8")


def _decode_position(stored: object) -> int | None:
    if stored is None:
        return None
    if not isinstance(stored, bytes) or len(stored) != _U64.size:
        raise ValueError("bad position")
    return int(_U64.unpack(stored)[0])


def _fold(text: str) -> str:
    """The form search compares: NFKC, case-folded, NFKC again (folding can denormalise)."""
    if text.isascii():
        return text.lower()  # the same result for ASCII, and most text is ASCII
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


# -- the search index ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    message: StoredMessage
    sender: str  # folded
    text: str  # folded


@dataclass(slots=True)
class _RoomIndex:
    """One room's opened messages in (timestamp_ms, row id) order, for search."""

    keys: list[tuple[int, int]] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    by_id: dict[bytes, _Entry] = field(default_factory=dict)
    folded_senders: dict[str, str] = field(default_factory=dict)

    def insert(self, row_id: int, message: StoredMessage) -> None:
        sender = self.folded_senders.get(message.sender)
        if sender is None:  # a room has few senders: fold (and keep) each name once
            sender = self.folded_senders.setdefault(message.sender, _fold(message.sender))
        entry = _Entry(message, sender, _fold(message.text))
        key = (message.timestamp_ms, row_id)
        if not self.keys or key > self.keys[-1]:
            self.keys.append(key)  # the usual case: the newest message
            self.entries.append(entry)
        else:
            at = bisect.bisect(self.keys, key)
            self.keys.insert(at, key)
            self.entries.insert(at, entry)
        self.by_id[message.message_id] = entry

    def matches(self, query: str, limit: int) -> Iterator[tuple[tuple[int, int], StoredMessage]]:
        """Up to ``limit`` matches, newest first, with their sort keys."""
        found = 0
        for at in range(len(self.entries) - 1, -1, -1):
            entry = self.entries[at]
            if query in entry.text or query in entry.sender:
                yield self.keys[at], entry.message
                found += 1
                if found == limit:
                    return


# -- the archive --------------------------------------------------------------------------------


class Archive:
    """This device's history and outbox. Make one with :meth:`open`, not the constructor."""

    def __init__(self, connection: sqlite3.Connection, key: bytes) -> None:
        self._db = connection
        self._message_key = derive(key, "archive message")
        self._outbox_key = derive(key, "archive outbox")
        self._indexes: dict[bytes, _RoomIndex] = {}
        self._damaged: set[tuple[str, int]] = set()  # (table, row id) of rows that did not open

    @classmethod
    def open(cls, path: Path, key: bytes) -> Archive:
        """Open the history file at ``path``, creating it (and its folder) if needed.

        Raises :class:`ArchiveKeyError` if ``key`` is not the key the file was made with,
        :class:`ArchiveError` if the file is not a history this version reads, ``ValueError``
        for a key that is not 32 bytes, ``OSError`` if the file cannot be created.
        """
        if not isinstance(key, bytes) or len(key) != 32:
            raise ValueError("key must be 32 bytes")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created here, owner-only, before SQLite opens it: SQLite would create it with the
        # umask's mode (often world-readable), and its -wal and -shm files copy this mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        try:
            connection = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise ArchiveError(f"{path.name} could not be opened: {error}") from error
        try:
            archive = cls(connection, key)
            archive._prepare(key)
        except BaseException as error:
            connection.close()
            if isinstance(error, sqlite3.OperationalError):  # locked, unreadable, disk full
                raise ArchiveError(f"{path.name} could not be read: {error}") from error
            if isinstance(error, sqlite3.DatabaseError):  # "file is not a database"
                raise ArchiveError(f"{path.name} is not a SocketChat history file") from error
            raise
        return archive

    def _prepare(self, key: bytes) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA secure_delete = ON")  # per connection: deleted rows are zeroed
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        check_key = derive(key, "archive check")
        check_aad = _LABEL + b"check|"
        with self._transaction():
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version == 0:
                if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise ArchiveError("the file holds a database that is not SocketChat's")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                sealed = seal_random(check_key, _CHECK_PLAINTEXT, aad=check_aad)
                db.execute("INSERT INTO meta VALUES ('key_check', ?)", (sealed,))
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
            if version != SCHEMA_VERSION:
                raise ArchiveError(f"the history file is of version {version}, not ours")
            row = db.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
        if row is None:
            raise ArchiveError("the history file has no key check")
        try:
            plaintext = open_random(check_key, bytes(row[0]), aad=check_aad)
        except AuthenticationError:
            raise ArchiveKeyError("this history was made under another key") from None
        if plaintext != _CHECK_PLAINTEXT:
            raise ArchiveKeyError("this history was made under another key")

    def close(self) -> None:
        """Close the file and drop every opened message from memory. Call once, at exit."""
        self._indexes.clear()
        self._db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def damaged(self) -> int:
        """How many distinct rows failed to open since :meth:`open` (skipped, never shown).

        Non-zero means the file was altered or damaged; say so once, without contents.
        """
        return len(self._damaged)

    # -- messages -------------------------------------------------------------------------------

    def add(self, messages: Sequence[StoredMessage]) -> int:
        """Store ``messages`` in one transaction; returns how many were new.

        A message already stored (same room and message id) is ignored, except that its
        position is filled in if it had none. Call with each batch the client delivers.
        Raises ``ValueError`` (before storing anything) if any field is out of bounds.
        """
        rows = []
        for message in messages:
            body = _pack_body(message)
            aad = _message_aad(
                message.room_id, message.message_id, message.timestamp_ms, message.own
            )
            position = None if message.position is None else _U64.pack(message.position)
            sealed = seal_random(self._message_key, body, aad=aad)
            rows.append((message, position, sealed))
        added: list[tuple[int, StoredMessage]] = []
        filled: list[StoredMessage] = []
        with self._transaction():
            for message, position, sealed in rows:
                cursor = self._db.execute(
                    "INSERT INTO messages (room, message_id, position, timestamp_ms, own, body)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (room, message_id) DO NOTHING",
                    (
                        message.room_id,
                        message.message_id,
                        position,
                        message.timestamp_ms,
                        int(message.own),
                        sealed,
                    ),
                )
                if cursor.rowcount == 1 and cursor.lastrowid is not None:
                    added.append((cursor.lastrowid, message))
                elif position is not None:
                    cursor = self._db.execute(
                        "UPDATE messages SET position = ?"
                        " WHERE room = ? AND message_id = ? AND position IS NULL",
                        (position, message.room_id, message.message_id),
                    )
                    if cursor.rowcount:
                        filled.append(message)
        # Only after the commit: the index never holds what the file does not.
        for row_id, message in added:
            index = self._indexes.get(message.room_id)
            if index is not None:
                index.insert(row_id, message)
        for message in filled:
            index = self._indexes.get(message.room_id)
            entry = index.by_id.get(message.message_id) if index is not None else None
            if entry is not None:
                entry.message = replace(entry.message, position=message.position)
        return len(added)

    def latest(self, room_id: bytes, limit: int = 100) -> list[StoredMessage]:
        """The room's newest ``limit`` messages, oldest first: what to show on opening a room."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        return self._page(room_id, None, _check_limit(limit))

    def before(self, room_id: bytes, message_id: bytes, limit: int = 100) -> list[StoredMessage]:
        """Up to ``limit`` messages older than ``message_id``, oldest first.

        The cursor is the oldest message on screen: pass its ``message_id`` as the person
        scrolls up, until this returns an empty list. An id not stored here gives ``[]``.
        """
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        _check_id(message_id, "message_id", MESSAGE_ID_SIZE)
        row = self._db.execute(
            "SELECT timestamp_ms, id FROM messages WHERE room = ? AND message_id = ?",
            (room_id, message_id),
        ).fetchone()
        if row is None:
            return []
        return self._page(room_id, (row[0], row[1]), _check_limit(limit))

    def _page(
        self, room_id: bytes, cursor: tuple[int, int] | None, limit: int
    ) -> list[StoredMessage]:
        # Damaged rows are skipped, so read on past them until the page is full.
        page: list[StoredMessage] = []
        while len(page) < limit:
            wanted = limit - len(page)
            if cursor is None:
                rows = self._db.execute(
                    "SELECT id, room, message_id, position, timestamp_ms, own, body"
                    " FROM messages WHERE room = ?"
                    " ORDER BY timestamp_ms DESC, id DESC LIMIT ?",
                    (room_id, wanted),
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT id, room, message_id, position, timestamp_ms, own, body"
                    " FROM messages WHERE room = ? AND (timestamp_ms, id) < (?, ?)"
                    " ORDER BY timestamp_ms DESC, id DESC LIMIT ?",
                    (room_id, *cursor, wanted),
                ).fetchall()
            page.extend(message for _, message in self._open_rows(rows))
            if len(rows) < wanted:
                break
            cursor = (rows[-1][4], rows[-1][0])
        page.reverse()
        return page

    def _open_rows(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[int, StoredMessage]]:
        """(row id, message) for each row that opens; the others are counted as damaged."""
        # One object per distinct room id, sender, key and content type: a warmed room of
        # 100,000 messages from a few senders keeps a few of each, not 100,000.
        shared: dict[object, Any] = {}
        for row_id, room, message_id, position, timestamp_ms, own, body in rows:
            try:
                aad = _message_aad(room, message_id, timestamp_ms, bool(own))
                plain = open_random(self._message_key, body, aad=aad)
                sender, key, content_type, text = _unpack_body(plain)
                stored_position = _decode_position(position)
            except (AuthenticationError, ValueError, TypeError, struct.error):
                # Altered in the file (or by a bug): shown to nobody, counted once.
                self._damaged.add(("messages", row_id))
                continue
            yield (
                row_id,
                StoredMessage(
                    room_id=shared.setdefault(room, room),
                    message_id=message_id,
                    position=stored_position,
                    sender=shared.setdefault(sender, sender),
                    signing_key=shared.setdefault(key, key),
                    timestamp_ms=timestamp_ms,
                    text=text,
                    own=bool(own),
                    content_type=shared.setdefault(content_type, content_type),
                ),
            )

    def last_position(self, room_id: bytes) -> int:
        """The newest relay position stored for the room (0 if none): where to resume from."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        (newest,) = self._db.execute(
            "SELECT max(position) FROM messages"
            " WHERE room = ? AND typeof(position) = 'blob' AND length(position) = 8",
            (room_id,),
        ).fetchone()
        return 0 if newest is None else int(_U64.unpack(newest)[0])

    def rooms(self) -> list[bytes]:
        """The ids of the rooms with stored messages."""
        return [row[0] for row in self._db.execute("SELECT DISTINCT room FROM messages")]

    def forget_room(self, room_id: bytes) -> None:
        """Delete the room's messages and outbox from the file (zeroed there) and from memory."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        with self._transaction():
            self._db.execute("DELETE FROM messages WHERE room = ?", (room_id,))
            self._db.execute("DELETE FROM outbox WHERE room = ?", (room_id,))
        # Copy the zeroed pages into the file now and empty the WAL, which held the rows too.
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._indexes.pop(room_id, None)

    # -- search ---------------------------------------------------------------------------------

    def warm(self, room_id: bytes) -> None:
        """Open all of the room's messages into memory for :meth:`search` (the first search
        does it anyway). It takes about 3 s per 100,000 messages on this thread, so call it
        where a pause is expected, such as when the person opens the search box."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        self._index(room_id)

    def _index(self, room_id: bytes) -> _RoomIndex:
        index = self._indexes.get(room_id)
        if index is None:
            index = _RoomIndex()
            rows = self._db.execute(
                "SELECT id, room, message_id, position, timestamp_ms, own, body"
                " FROM messages WHERE room = ? ORDER BY timestamp_ms, id",
                (room_id,),
            )
            for row_id, message in self._open_rows(rows):
                index.insert(row_id, message)
            self._indexes[room_id] = index
        return index

    def search(
        self, query: str, *, room_id: bytes | None = None, limit: int = 200
    ) -> list[StoredMessage]:
        """Messages whose text or sender contains ``query``, newest first, at most ``limit``.

        Case-insensitive and compatibility-normalised (NFKC), so "STRASSE" finds "straße" and
        "ﬁle" finds "file". Searches one room, or all of them. An empty query finds nothing.
        """
        needle = _fold(_encode(query, "query", MAX_TEXT_BYTES).decode("utf-8"))
        _check_limit(limit)
        if room_id is not None:
            _check_id(room_id, "room_id", ROOM_ID_SIZE)
        if not needle:
            return []
        rooms = [room_id] if room_id is not None else self.rooms()
        found = heapq.merge(
            *(self._index(room).matches(needle, limit) for room in rooms),
            key=lambda match: match[0],
            reverse=True,
        )
        return [message for _, message in itertools.islice(found, limit)]

    # -- outbox ---------------------------------------------------------------------------------

    def queue_outgoing(self, room_id: bytes, message_id: bytes, text: str, created_ms: int) -> None:
        """Keep a message until the relay confirms it; call before sending it. A message id
        already queued in the room is left as it is."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        _check_id(message_id, "message_id", MESSAGE_ID_SIZE)
        _check_int(created_ms, "created_ms", MAX_TIMESTAMP_MS)
        body = bytes((_BODY_VERSION,)) + _encode(text, "text", MAX_TEXT_BYTES)
        sealed = seal_random(
            self._outbox_key, body, aad=_outbox_aad(room_id, message_id, created_ms)
        )
        with self._transaction():
            self._db.execute(
                "INSERT INTO outbox (room, message_id, created_ms, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (room, message_id) DO NOTHING",
                (room_id, message_id, created_ms, sealed),
            )

    def drop_outgoing(self, room_id: bytes, message_id: bytes) -> None:
        """Forget a queued message: the relay confirmed it, or the room refused it for good."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        _check_id(message_id, "message_id", MESSAGE_ID_SIZE)
        with self._transaction():
            self._db.execute(
                "DELETE FROM outbox WHERE room = ? AND message_id = ?", (room_id, message_id)
            )

    def outgoing(self, room_id: bytes) -> list[OutgoingMessage]:
        """The room's queued messages, oldest first: send them again after reconnecting."""
        _check_id(room_id, "room_id", ROOM_ID_SIZE)
        rows = self._db.execute(
            "SELECT id, message_id, created_ms, body FROM outbox WHERE room = ?"
            " ORDER BY created_ms, id",
            (room_id,),
        )
        queued = []
        for row_id, message_id, created_ms, body in rows:
            try:
                aad = _outbox_aad(room_id, message_id, created_ms)
                plain = open_random(self._outbox_key, body, aad=aad)
                if not plain or plain[0] != _BODY_VERSION:
                    raise ValueError("unknown body version")
                text = plain[1:].decode("utf-8")
            except (AuthenticationError, ValueError, TypeError, struct.error):
                self._damaged.add(("outbox", row_id))
                continue
            queued.append(OutgoingMessage(room_id, message_id, text, created_ms))
        return queued

    # -- transactions ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once, so two writers wait for each other
        # (busy_timeout) instead of one failing halfway through.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
