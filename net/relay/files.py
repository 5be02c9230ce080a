"""A room's files in SQLite: sealed chunks on disk, never whole in memory.

:class:`SqliteFiles` is the relay's :class:`net.proto.FileStore` (the rules over it are
:class:`net.proto.RoomFiles`). A room served from a room file keeps its files next to its
history, in ``ROOMFILE.files.sqlite3`` (or in ``--data DIR``; :func:`files_path`), so complete
files (and uploads in progress, to resume) survive a restart of the relay. A room without a
room file ("Host a room", ``--port 0``) keeps them in a temporary file that :meth:`close`
deletes when the relay stops. Either file is made only when the room's first file is opened:
a room nobody sends files to has none.

Layout (WAL journal, incremental auto-vacuum, file mode 0600)::

    files(seq INTEGER PRIMARY KEY, file_id BLOB UNIQUE, uploader BLOB, count INTEGER,
          stored_size INTEGER, have INTEGER, total INTEGER, opened_ms INTEGER)
    chunks(id INTEGER PRIMARY KEY, data BLOB)    -- id = seq << 32 | chunk index
    meta(key TEXT PRIMARY KEY, value)            -- format, version, room_id

``seq`` orders files by when they were opened (eviction takes the smallest first). A chunk's
row id is computed from its file and index, so reading one is a single B-tree lookup and a
file's chunks are one contiguous range to delete. Each chunk is stored in its own transaction
together with its file's ``have`` and ``total``: what FILE_STATE announced is on disk.

What the relay holds in memory is one :class:`~net.proto.StoredFile` per kept file (at most
``MAX_FILES``), and the chunk being read or written: never a file's contents.

A damaged or unreadable file, or one of another room, raises :class:`FilesError` at open (the
relay then stops and says so); it is never replaced or emptied by the relay.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from pathlib import Path

from net.proto import FileIndex, StoredFile
from net.relay.history import HistoryOptions, Sync

FORMAT = "socketchat-relay-files"
VERSION = 1
SUFFIX = ".files.sqlite3"
_INDEX_BITS = 32

logger = logging.getLogger("socketchat.relay")


class FilesError(ValueError):
    """The files database cannot be used (damaged, unreadable, another room's); plain words."""


class FilesWriteError(OSError):
    """Storing or deleting failed (a full disk, an I/O error): nothing of that call is kept."""


def files_path(room_file: Path, data_dir: Path | None = None) -> Path:
    """Where the files of the room in ``room_file`` are kept: next to it (and its history), or
    in ``data_dir`` under the room file's name."""
    folder = room_file.parent if data_dir is None else data_dir
    return folder / (room_file.name + SUFFIX)


def open_files(room_file: Path, room_id: bytes, options: HistoryOptions) -> SqliteFiles:
    """The files of the room in ``room_file``, where ``options`` say (opened and checked now
    if the database exists; made with the first file otherwise). :class:`FilesError`."""
    return SqliteFiles(files_path(room_file, options.data_dir), room_id=room_id, sync=options.sync)


def _chunk_id(seq: int, index: int) -> int:
    return (seq << _INDEX_BITS) | index


class SqliteFiles(FileIndex):
    """One room's files in one SQLite database. Use from one thread (the relay's loop).

    ``path`` None: a temporary database (in the system's temporary folder), deleted by
    :meth:`close`. Otherwise the database at ``path``: opened now if it exists, else made
    when the first file is opened.
    """

    def __init__(self, path: Path | None, *, room_id: bytes, sync: Sync = Sync.NORMAL) -> None:
        super().__init__()
        self.path = path
        self.temporary = path is None
        self._room_id = room_id
        self._sync = sync
        self._db: sqlite3.Connection | None = None
        if path is not None and path.exists():
            self._open(lazily=False)

    # -- FileStore (the records in memory: FileIndex) -----------------------------------------

    def create(
        self, *, file_id: bytes, uploader: bytes, count: int, stored_size: int, opened_ms: int
    ) -> StoredFile:
        record = self._new_record(
            file_id=file_id,
            uploader=uploader,
            count=count,
            stored_size=stored_size,
            opened_ms=opened_ms,
        )
        db = self._open()
        self._write(
            db,
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, 0, 0, ?)",
            (record.opened, record.file_id, record.uploader, count, stored_size, opened_ms),
        )
        self._keep(record)
        return record

    def append(self, file_id: bytes, index: int, sealed: bytes) -> StoredFile:
        record = self._files[bytes(file_id)]
        if index != record.have:
            raise ValueError("chunks are appended in order")
        db = self._open()
        try:
            with db:  # the chunk and the count that announces it, in one transaction
                db.execute(
                    "INSERT OR REPLACE INTO chunks VALUES (?, ?)",
                    (_chunk_id(record.opened, index), bytes(sealed)),
                )
                db.execute(
                    "UPDATE files SET have = ?, total = ? WHERE seq = ?",
                    (record.have + 1, record.total + len(sealed), record.opened),
                )
        except sqlite3.Error as exc:
            raise self._failed("store a chunk in", exc) from exc
        return self._grown(record, len(sealed))

    def read(self, file_id: bytes, index: int) -> bytes | None:
        record = self._files.get(bytes(file_id))
        if record is None or not 0 <= index < record.have or self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT data FROM chunks WHERE id = ?", (_chunk_id(record.opened, index),)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._failed("read a chunk from", exc) from exc
        return None if row is None else bytes(row[0])

    def delete(self, file_id: bytes) -> None:
        record = self._files.get(bytes(file_id))
        if record is None or self._db is None:
            return
        first = _chunk_id(record.opened, 0)
        try:
            with self._db:
                self._db.execute(
                    "DELETE FROM chunks WHERE id BETWEEN ? AND ?",
                    (first, first + (1 << _INDEX_BITS) - 1),
                )
                self._db.execute("DELETE FROM files WHERE seq = ?", (record.opened,))
            # The space back to the file system. Run as a script: sqlite3's execute() steps a
            # statement once, and this pragma frees one page per step.
            self._db.executescript("PRAGMA incremental_vacuum;")
        except sqlite3.Error as exc:
            raise self._failed("delete a file from", exc) from exc
        self._forget(record)

    # -- opening and closing ---------------------------------------------------------------

    def close(self) -> None:
        """Close the database; a temporary one is deleted (with its journal). Idempotent."""
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        if self.temporary and self.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(f"{self.path}{suffix}")
            self.path = None
        self._files.clear()
        self._used = 0

    def _open(self, *, lazily: bool = True) -> sqlite3.Connection:
        """The database, opened (or made) on first use: then a failure is a
        :class:`FilesWriteError` (the member hears NO_SPACE); at start, :class:`FilesError`."""
        if self._db is not None:
            return self._db
        if self.path is None:
            try:
                fd, name = tempfile.mkstemp(prefix="socketchat-files-", suffix=".sqlite3")
            except OSError as exc:
                raise FilesWriteError(f"cannot make a temporary file for files: {exc}") from exc
            os.close(fd)  # mkstemp made it 0600
            self.path = Path(name)
        # A temporary database is gone with the process anyway: no flushing to the disk.
        sync = "OFF" if self.temporary else self._sync.name
        try:
            db = _connect(self.path)
            try:
                self._load(db, sync)
            except BaseException:
                db.close()
                raise
        except FilesError as exc:
            if not lazily:
                raise
            logger.error("%s", exc)
            raise FilesWriteError(str(exc)) from exc
        self._db = db
        return db

    def _load(self, db: sqlite3.Connection, sync: str) -> None:
        """Make the tables of a new database, or check an existing one (read only until it
        proves to be this room's: anything else is left exactly as it was); then switch it to
        the write-ahead log and read the files it keeps."""
        where = self.path
        try:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise sqlite3.DatabaseError("the integrity check failed")
            if db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,):
                _create(db, self._room_id)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise _damaged(where, str(exc)) from None
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise FilesError(
                f"{where} is not a SocketChat relay's files (or of another version). Move it "
                "away, or give the relay another data folder (--data)."
            )
        if meta.get("room_id") != self._room_id.hex():
            raise FilesError(
                f"{where} holds the files of room {str(meta.get('room_id'))[:8]}, not of room "
                f"{self._room_id.hex()[:8]} (was the room file replaced?). Move it away to "
                "start this room's files afresh, or put the right room file back."
            )
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise sqlite3.DatabaseError(f"it cannot use a write-ahead log ({mode!r})")
            db.execute(f"PRAGMA synchronous={sync}")
            rows = db.execute(
                "SELECT seq, file_id, uploader, count, stored_size, have, total, opened_ms "
                "FROM files ORDER BY seq"
            ).fetchall()
        except sqlite3.Error as exc:
            raise _damaged(where, str(exc)) from None
        for seq, file_id, uploader, count, stored_size, have, total, opened_ms in rows:
            if not (
                isinstance(file_id, bytes)
                and len(file_id) == 16
                and isinstance(uploader, bytes)
                and 0 <= have <= count
                and 0 <= total <= stored_size
            ):
                raise _damaged(where, f"the file numbered {seq} does not add up")
            record = StoredFile(
                file_id=file_id,
                uploader=uploader,
                count=count,
                stored_size=stored_size,
                have=have,
                total=total,
                opened=seq,
                opened_ms=opened_ms,
            )
            self._keep(record)

    def _write(self, db: sqlite3.Connection, sql: str, values: tuple[object, ...]) -> None:
        try:
            with db:
                db.execute(sql, values)
        except sqlite3.Error as exc:
            raise self._failed("write to", exc) from exc

    def _failed(self, what: str, exc: sqlite3.Error) -> FilesWriteError:
        # Said once per failure, in the relay's log: the member only hears NO_SPACE.
        logger.error("cannot %s the room's files %s: %s", what, self.path, exc)
        return FilesWriteError(f"cannot {what} {self.path}: {exc}")


def _connect(path: Path) -> sqlite3.Connection:
    """Open (or create, mode 0600) the database, held by this process alone; :class:`FilesError`."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError as exc:
        raise FilesError(f"cannot open the room's files {path}: {exc.strerror or exc}.") from None
    try:
        db = sqlite3.connect(path, timeout=0.2, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _damaged(path, str(exc)) from None
    try:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")  # one relay per file, as for the history
    except sqlite3.Error as exc:
        db.close()
        raise _damaged(path, str(exc)) from None
    return db


def _create(db: sqlite3.Connection, room_id: bytes) -> None:
    """The tables of a new database, and what it is (format, version, room)."""
    # Before the first table (and only then: it rewrites an existing file's header): freed
    # pages go back to the file system at each incremental_vacuum, so a deleted or evicted
    # file gives its space back.
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    with db:
        db.execute(
            "CREATE TABLE files (seq INTEGER PRIMARY KEY, file_id BLOB NOT NULL UNIQUE, "
            "uploader BLOB NOT NULL, count INTEGER NOT NULL, stored_size INTEGER NOT NULL, "
            "have INTEGER NOT NULL, total INTEGER NOT NULL, opened_ms INTEGER NOT NULL)"
        )
        db.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            (("format", FORMAT), ("version", VERSION), ("room_id", room_id.hex())),
        )


def _damaged(path: Path | None, detail: str) -> FilesError:
    if "locked" in detail:
        return FilesError(
            f"The room's files {path} are in use by another relay process: a room's files can "
            "be served by one relay at a time (give each relay its own --data folder)."
        )
    return FilesError(
        f"The room's files {path} are damaged or unreadable ({detail}). Restore them from a "
        "backup, or move the file away to start the room's files afresh; the relay never "
        "replaces it by itself."
    )
