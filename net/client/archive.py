"""The device's local history and outbox: one SQLite file, what people said sealed at rest.

Open it with :meth:`Archive.open` and the key from :meth:`net.client.keychain.Keychain.local_key`
(this module never touches the keyring itself), keep the :class:`Archive` for the app's life,
and :meth:`~Archive.close` it at exit. Store every message shown with :meth:`~Archive.add`; show
a room with :meth:`~Archive.latest`, then :meth:`~Archive.before` as the person scrolls up;
resume from :meth:`~Archive.last_position`; keep unsent text with
:meth:`~Archive.queue_outgoing` until the relay confirms it.

What is sealed and what is not. Each row's sender name, sender signing key, content type,
text, the body of a reply or file offer (a file's key among it), and for a private message the
other person's key and name are sealed together with XChaCha20-Poly1305
(:func:`crypto.aead.seal_random`) under a subkey of the local key; the authenticated data binds
the row to its room id, message id, timestamp and own flag, so a row copied to another room or
message, or re-dated, no longer opens. So is an outbox row's text and, for a reply or a private
message, the body it is sent with (the private box itself, sealed once: a resend after a restart
carries the same bytes). ``net/client/_archive_rows.py`` gives the layouts and their versions.
Left in the clear, because SQLite must sort and look them up: room ids, message ids, relay
positions, timestamps, the own flag, and the sizes of the sealed bodies. A row that does
not open is *damaged*: it is skipped, never shown, and counted in :attr:`Archive.damaged`.
A key that does not fit the file is found at once, by a check value sealed at creation
(:class:`ArchiveKeyError`), rather than by every row failing.

Order. :meth:`~Archive.latest`, :meth:`~Archive.before` and a room's :meth:`~Archive.search`
results follow the room's order, in which a message the relay stored sits at its *position*
(the relay's order, the same for every member), whatever its sender's clock says. A message
without a position (ours, not confirmed yet) sits by its timestamp among them: right after the
highest-positioned message whose timestamp is not later than its own (first if there is none),
and among others placed there by timestamp. In SQL terms the sort key is ``(COALESCE(position,
anchor), position IS NULL, timestamp if no position, row id)``, where ``anchor`` is that highest
position; ``net/client/_archive_order.py`` computes it. When the message's position comes, it
moves to it. Without any positions, the order is by timestamp, then by arrival.

Search trade-off. The bodies are sealed, so SQLite cannot search them. The first
:meth:`~Archive.search` in a room (or :meth:`~Archive.warm`) opens all of its rows once and keeps
them, with case-folded copies of text and sender, in this process's memory; :meth:`~Archive.add`
keeps that up to date. So while the app runs, the searched rooms' plaintext sits in this
process's memory (about 0.6 KB per message: 60 MB for 100,000 messages of 70 characters), as
shown text does anyway; it is never written to disk, and :meth:`~Archive.close` and
:meth:`~Archive.forget_room` drop it. A swap file or a core dump could still hold it; the
alternative, an index on disk, would keep words of every message there for good. Opening
100,000 messages takes about 3 s; a warm search through them all about 10 ms.

The file is created readable by its owner only (mode 0600, and SQLite gives its ``-wal`` and
``-shm`` files the same mode), in WAL mode with ``synchronous=NORMAL`` (a crash may lose the
last commits, never corrupt the file) and ``secure_delete`` on, so forgotten rooms are zeroed
in the file. Use one :class:`Archive` from one thread: the one that opened it. Another thread
or process may open its own (readers never wait for the writer in WAL mode); each one's search
sees what was in the file when it warmed a room, what it added itself since, and what
:meth:`~Archive.refresh` (which reads only the rows added since) learnt from the others.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import operator
import os
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from crypto.aead import open_random, seal_random
from crypto.errors import AuthenticationError
from crypto.kdf import derive
from net.client._archive_index import RoomIndex, fold
from net.client._archive_order import (
    ROWS_PER_QUERY,
    SELECT_ROWS,
    Row,
    SortKey,
    key_of,
    marks,
    newest_first,
    room_pending_keys,
)
from net.client._archive_rows import (
    LABEL,
    MAX_LIMIT,
    MAX_NAME_BYTES,
    MAX_TEXT_BYTES,
    MAX_TIMESTAMP_MS,
    MAX_U64,
    ROOM_ID_SIZE,
    U64,
    OutgoingMessage,
    StoredMessage,
    check_id,
    check_int,
    check_limit,
    encode,
    open_rows,
    outbox_aad,
    pack_outgoing,
    seal_message,
    unpack_outgoing,
    valid_position,
)
from net.proto import MESSAGE_ID_SIZE, PendingMessage

__all__ = [
    "APPLICATION_ID",
    "MAX_LIMIT",
    "MAX_NAME_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_TIMESTAMP_MS",
    "MAX_U64",
    "ROOM_ID_SIZE",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "ArchiveKeyError",
    "OutgoingMessage",
    "StoredMessage",
]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x53434831  # "SCH1", so `file` and sqlite3 tools can tell what this file is

_CHECK_PLAINTEXT = b"SocketChat local history"
_SELECT_POSITIONS = "SELECT message_id, position FROM messages"
# Files made before messages were ordered by position had this index instead of the last one.
_UPGRADE = (
    "DROP INDEX IF EXISTS messages_by_time",
    "CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room)",
)

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
CREATE INDEX messages_by_position ON messages (room, position);
CREATE INDEX messages_by_room ON messages (room);
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


# -- the archive --------------------------------------------------------------------------------


class Archive:
    """This device's history and outbox. Make one with :meth:`open`, not the constructor."""

    def __init__(self, connection: sqlite3.Connection, key: bytes) -> None:
        self._db = connection
        self._message_key = derive(key, "archive message")
        self._outbox_key = derive(key, "archive outbox")
        self._indexes: dict[bytes, RoomIndex] = {}
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
        check_aad = LABEL + b"check|"
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
        # Only now: a file opened with the wrong key is left as it was.
        if not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_by_room'"
        ).fetchone():
            with self._transaction():
                for statement in _UPGRADE:
                    db.execute(statement)

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
            sealed = seal_message(self._message_key, message)  # checks every field first
            position = None if message.position is None else U64.pack(message.position)
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
                index.extend([(row_id, message)])
        for message in filled:
            index = self._indexes.get(message.room_id)
            if index is not None and message.position is not None:
                index.fill(message.message_id, message.position)
        return len(added)

    def latest(self, room_id: bytes, limit: int = 100) -> list[StoredMessage]:
        """The room's newest ``limit`` messages, oldest first: what to show on opening a room."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        check_limit(limit)
        with self._reading():
            return self._page(room_id, None, limit, room_pending_keys(self._db, room_id))

    def before(self, room_id: bytes, message_id: bytes, limit: int = 100) -> list[StoredMessage]:
        """Up to ``limit`` messages older than ``message_id``, oldest first.

        The cursor is the oldest message on screen: pass its ``message_id`` as the person
        scrolls up, until this returns an empty list. An id not stored here gives ``[]``.
        """
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        check_id(message_id, "message_id", MESSAGE_ID_SIZE)
        check_limit(limit)
        with self._reading():
            pending = room_pending_keys(self._db, room_id)
            below = key_of(self._db, room_id, message_id, pending)
            if below is None:  # not here, or damaged (so never shown, never a cursor)
                return []
            return self._page(room_id, below, limit, pending)

    def _page(
        self, room_id: bytes, below: SortKey | None, limit: int, pending: list[SortKey]
    ) -> list[StoredMessage]:
        """The newest ``limit`` messages that open, older than ``below``, oldest first."""
        rows = newest_first(
            self._db, room_id, below=below, pending=pending, batch=limit, on_damaged=self._damage
        )
        # Damaged rows are skipped, so the rows are read on past them until the page is full.
        opened = open_rows(self._message_key, rows, self._damage)
        page = [message for _, message in itertools.islice(opened, limit)]
        page.reverse()
        return page

    def _damage(self, row_id: int) -> None:
        self._damaged.add(("messages", row_id))

    def resume_point(self, room_id: bytes) -> int | None:
        """Where this device resumes the room: the newest position up to which it has every
        stored message (``ClientProtocol.last_position``), or None if it was never in the room.
        Not :meth:`last_position`: messages above a gap still being filled are kept too."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        row = self._db.execute(
            "SELECT value FROM meta WHERE name = ?", (_resume_name(room_id),)
        ).fetchone()
        if row is None or not isinstance(row[0], bytes) or len(row[0]) != U64.size:
            return None
        return int(U64.unpack(row[0])[0])

    def set_resume_point(self, room_id: bytes, position: int) -> None:
        """Record where to resume the room (call when a connection to it ends)."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        if not 0 <= position < 2**64:
            raise ValueError("a position is a u64")
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                (_resume_name(room_id), U64.pack(position)),
            )

    def last_position(self, room_id: bytes) -> int:
        """The newest relay position stored for the room (0 if none)."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        newest = self._db.execute(
            "SELECT position FROM messages WHERE room = ? AND position IS NOT NULL"
            " AND typeof(position) = 'blob' AND length(position) = 8"
            " ORDER BY position DESC LIMIT 1",
            (room_id,),
        ).fetchone()
        return 0 if newest is None else int(U64.unpack(newest[0])[0])

    def rooms(self) -> list[bytes]:
        """The ids of the rooms with stored messages."""
        return [row[0] for row in self._db.execute("SELECT DISTINCT room FROM messages")]

    def forget_room(self, room_id: bytes) -> None:
        """Delete the room's messages and outbox from the file (zeroed there) and from memory."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        with self._transaction():
            self._db.execute("DELETE FROM messages WHERE room = ?", (room_id,))
            self._db.execute("DELETE FROM outbox WHERE room = ?", (room_id,))
            self._db.execute("DELETE FROM meta WHERE name = ?", (_resume_name(room_id),))
        # Copy the zeroed pages into the file now and empty the WAL, which held the rows too.
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._indexes.pop(room_id, None)

    # -- search ---------------------------------------------------------------------------------

    def warm(self, room_id: bytes) -> None:
        """Open all of the room's messages into memory for :meth:`search` (the first search
        does it anyway). It takes about 3 s per 100,000 messages on this thread, so call it
        where a pause is expected, such as when the person opens the search box."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        self._index(room_id)

    def _index(self, room_id: bytes) -> RoomIndex:
        index = self._indexes.get(room_id)
        if index is None:
            index = RoomIndex()
            with self._reading():
                # In the room's order, so the index mostly appends.
                rows = self._db.execute(
                    f"{SELECT_ROWS} WHERE room = ? ORDER BY position, id", (room_id,)
                )
                self._read(room_id, index, rows)
            self._indexes[room_id] = index
        return index

    def refresh(self, room_id: bytes | None = None) -> int:
        """Have the search index learn what other connections stored since it read the file:
        call before searching when a client (which writes through its own connection) stored
        messages. Returns how many messages it learnt.

        Only rooms already opened for search (``room_id``, or all of them) are read: the new
        rows alone (those with a row id above the newest it read), and the positions filled in
        since for messages it holds without one. A room forgotten through another connection
        is dropped from memory, to be opened again by the next search.
        """
        if room_id is not None:
            check_id(room_id, "room_id", ROOM_ID_SIZE)
        rooms = [room_id] if room_id is not None else list(self._indexes)
        learnt = 0
        with self._reading():
            for room in rooms:
                index = self._indexes.get(room)
                if index is not None:
                    learnt += self._refresh_room(room, index)
        return learnt

    def _refresh_room(self, room_id: bytes, index: RoomIndex) -> int:
        if index.read_up_to:
            # Row ids are max + 1: every row added since is above the newest one read, unless
            # that row is gone, which only forgetting the room does.
            row = self._db.execute(
                "SELECT message_id FROM messages WHERE id = ? AND room = ?",
                (index.read_up_to, room_id),
            ).fetchone()
            if row is None or row[0] != index.read_up_to_message:
                del self._indexes[room_id]
                return 0
        pending = index.pending_rows
        for start in range(0, len(pending), ROWS_PER_QUERY):
            chunk = pending[start : start + ROWS_PER_QUERY]
            for message_id, position in self._db.execute(
                f"{_SELECT_POSITIONS} WHERE id IN ({marks(len(chunk))}) AND position IS NOT NULL",
                chunk,
            ):
                stored_at = valid_position(position)
                if stored_at is not None:
                    index.fill(message_id, stored_at)
        rows = self._db.execute(
            f"{SELECT_ROWS} WHERE room = ? AND id > ?", (room_id, index.read_up_to)
        )
        return self._read(room_id, index, rows)

    def _read(self, room_id: bytes, index: RoomIndex, rows: Iterable[Row]) -> int:
        """Open the ``rows`` of the room that ``index`` does not hold yet into it; returns how
        many. Call in :meth:`_reading`, which gave the query of ``rows`` its snapshot."""
        newest = self._db.execute(
            "SELECT id, message_id FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1",
            (room_id,),
        ).fetchone()
        # Rows this connection added are held already: not opened a second time.
        fresh = (row for row in rows if row[2] not in index)
        learnt = index.extend(open_rows(self._message_key, fresh, self._damage))
        if newest is not None:
            index.read_up_to, index.read_up_to_message = newest
        return learnt

    def search(
        self, query: str, *, room_id: bytes | None = None, limit: int = 200
    ) -> list[StoredMessage]:
        """Messages whose text or sender contains ``query``, newest first, at most ``limit``.

        Case-insensitive and compatibility-normalised (NFKC), so "STRASSE" finds "straße" and
        "ﬁle" finds "file". Searches one room, in its order (as :meth:`latest`), or all of them:
        each room's finds in its order, the rooms' merged by timestamp. An empty query finds
        nothing. It sees what the room held when first searched (or warmed), what this
        connection added since, and what :meth:`refresh` learnt.
        """
        needle = fold(encode(query, "query", MAX_TEXT_BYTES).decode("utf-8"))
        check_limit(limit)
        if room_id is not None:
            check_id(room_id, "room_id", ROOM_ID_SIZE)
        if not needle:
            return []
        if room_id is not None:
            return list(self._index(room_id).matches(needle, limit))
        found = heapq.merge(
            *(self._index(room).matches(needle, limit) for room in self.rooms()),
            key=operator.attrgetter("timestamp_ms"),
            reverse=True,
        )
        return list(itertools.islice(found, limit))

    # -- outbox ---------------------------------------------------------------------------------

    def queue_outgoing(
        self,
        room_id: bytes,
        message_id: bytes,
        text: str,
        created_ms: int,
        *,
        content_type: str = "text/plain",
        body: bytes = b"",
    ) -> None:
        """Keep a message until the relay confirms it; call before sending it. A message id
        already queued in the room is left as it is. For any ``content_type`` but text,
        ``body`` is what is sealed in the envelope (a reply's body, a private box: a resend
        must carry the same bytes) and ``text`` what the person reads of it."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        check_id(message_id, "message_id", MESSAGE_ID_SIZE)
        check_int(created_ms, "created_ms", MAX_TIMESTAMP_MS)
        body = pack_outgoing(
            PendingMessage(
                text=text,
                message_id=message_id,
                timestamp_ms=created_ms,
                content_type=content_type,
                body=body,
            )
        )
        sealed = seal_random(
            self._outbox_key, body, aad=outbox_aad(room_id, message_id, created_ms)
        )
        with self._transaction():
            self._db.execute(
                "INSERT INTO outbox (room, message_id, created_ms, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (room, message_id) DO NOTHING",
                (room_id, message_id, created_ms, sealed),
            )

    def drop_outgoing(self, room_id: bytes, message_id: bytes) -> None:
        """Forget a queued message: the relay confirmed it, or the room refused it for good."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        check_id(message_id, "message_id", MESSAGE_ID_SIZE)
        with self._transaction():
            self._db.execute(
                "DELETE FROM outbox WHERE room = ? AND message_id = ?", (room_id, message_id)
            )

    def outgoing(self, room_id: bytes) -> list[OutgoingMessage]:
        """The room's queued messages, oldest first: send them again after reconnecting."""
        check_id(room_id, "room_id", ROOM_ID_SIZE)
        rows = self._db.execute(
            "SELECT id, message_id, created_ms, body FROM outbox WHERE room = ?"
            " ORDER BY created_ms, id",
            (room_id,),
        )
        queued = []
        for row_id, message_id, created_ms, body in rows:
            try:
                aad = outbox_aad(room_id, message_id, created_ms)
                plain = open_random(self._outbox_key, body, aad=aad)
                content_type, text, sealed_body = unpack_outgoing(plain)
            except (AuthenticationError, ValueError, TypeError, struct.error):
                self._damaged.add(("outbox", row_id))
                continue
            queued.append(
                OutgoingMessage(room_id, message_id, text, created_ms, content_type, sealed_body)
            )
        return queued

    # -- transactions ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        # One snapshot for reads that take several statements: another connection's commit
        # in between would show a message twice, or not at all.
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

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


def _resume_name(room_id: bytes) -> str:
    return f"resume:{room_id.hex()}"
