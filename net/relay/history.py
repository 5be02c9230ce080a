"""A room's stored messages in SQLite: what the relay has acknowledged, kept across restarts.

:class:`SqliteHistory` is the relay's :class:`net.proto._history.HistoryStore` for a room
served from a room file: one database file per room (``ROOMFILE.history.sqlite3`` next to the
room file unless ``--data DIR`` says elsewhere; :func:`history_path`). The relay's event loop
calls :meth:`SqliteHistory.append` once per broadcast flush, *before* sealing it, with every
chat item of the flush; it returns only after the transaction is committed, and only then does
the relay acknowledge the messages (PROTOCOL.md 3.5). So a message the relay has acknowledged
is in the database file even if the process is killed right after (SIGKILL); what a power cut
may take depends on ``synchronous`` (:class:`Sync`, docs/RELAY.md).

Layout (WAL journal, file mode 0600)::

    messages(position INTEGER PRIMARY KEY, message_id BLOB UNIQUE, stored_ms INTEGER, item BLOB)
    meta(key TEXT PRIMARY KEY, value)   -- format, version, room_id, next_position

``item`` is the CHAT item exactly as it was broadcast (sealed end to end: the relay cannot
read it). Positions count on after pruning and after a restart: the next one is the largest
stored plus one, or the ``next_position`` remembered in ``meta`` when pruning emptied the table.

The ids of the kept messages are held in memory (loaded at open, bounded by the retention) so
that :meth:`contains` never reads the disk. Retention (count and age) is applied at most once a
second, or after :data:`PRUNE_EVERY` appended messages, never per message.

A damaged or unreadable file, or one of another room, raises :class:`HistoryError` at open (the
relay then stops and says so); it is never replaced or emptied by the relay.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from net.proto._messages import MESSAGE_ID_SIZE

FORMAT = "socketchat-relay-history"
VERSION = 1
SUFFIX = ".history.sqlite3"
#: Retention is applied after this many appended messages even within the same second.
PRUNE_EVERY = 1000
_PRUNE_INTERVAL = 1.0  # seconds between retention passes otherwise
MAX_KEEP_MESSAGES = 1_000_000  # the ids live in memory: about 120 bytes each
MAX_KEEP_DAYS = 36_500
_DAY_MS = 86_400_000


class HistoryError(ValueError):
    """The history file cannot be used (damaged, unreadable, another room's); plain words."""


class HistoryWriteError(OSError):
    """Storing messages failed (a full disk, an I/O error): nothing of that append is kept."""


class Sync(enum.Enum):
    """SQLite's ``synchronous`` setting, as the operator chooses it (``--sync``)."""

    NORMAL = "normal"  # WAL: commits are not flushed to the disk one by one
    FULL = "full"  # every commit is flushed to the disk before append returns


@dataclass(frozen=True)
class HistoryOptions:
    """How the relay keeps rooms' histories: where, how long, how safely."""

    data_dir: Path | None = None  # None: next to each room file
    keep_messages: int = 10_000
    keep_days: int = 30  # 0: no age limit
    sync: Sync = Sync.NORMAL

    def __post_init__(self) -> None:
        if not 1 <= self.keep_messages <= MAX_KEEP_MESSAGES:
            raise ValueError(f"keep at least 1 and at most {MAX_KEEP_MESSAGES:,} messages")
        if not 0 <= self.keep_days <= MAX_KEEP_DAYS:
            raise ValueError(f"keep messages 0 (no limit) to {MAX_KEEP_DAYS:,} days")


def history_path(room_file: Path, data_dir: Path | None = None) -> Path:
    """Where the history of the room in ``room_file`` is kept: next to it, or in ``data_dir``
    under the room file's name."""
    folder = room_file.parent if data_dir is None else data_dir
    return folder / (room_file.name + SUFFIX)


def open_history(room_file: Path, room_id: bytes, options: HistoryOptions) -> SqliteHistory:
    """The history of the room in ``room_file`` as ``options`` say; :class:`HistoryError`."""
    return SqliteHistory(
        history_path(room_file, options.data_dir),
        room_id=room_id,
        keep_messages=options.keep_messages,
        keep_days=options.keep_days,
        sync=options.sync,
    )


class SqliteHistory:
    """One room's stored messages in one SQLite file. Use from one thread (the relay's loop).

    ``clock`` (epoch seconds) dates the messages for the age limit, ``monotonic`` paces the
    retention passes; both injectable for tests.
    """

    def __init__(
        self,
        path: Path,
        *,
        room_id: bytes,
        keep_messages: int = 10_000,
        keep_days: int = 30,
        sync: Sync = Sync.NORMAL,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        HistoryOptions(keep_messages=keep_messages, keep_days=keep_days)  # checks the bounds
        self.path = path
        self._keep = keep_messages
        self._max_age_ms = keep_days * _DAY_MS
        self._clock = clock
        self._monotonic = monotonic
        self._last_prune = monotonic()
        self._since_prune = 0
        # id -> position, oldest first (dicts keep insertion order): contains() and pruning.
        self._ids: dict[bytes, int] = {}
        # (last position, stored_ms) per append, oldest first: the age limit, per batch.
        self._batches: deque[tuple[int, int]] = deque()
        self._db = _connect(path, sync)
        try:
            self._next = self._load(room_id)
        except BaseException:
            self._db.close()
            raise
        self.prune()

    # -- HistoryStore ----------------------------------------------------------------------

    @property
    def next_position(self) -> int:
        return self._next

    def __len__(self) -> int:
        return len(self._ids)

    def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Store the items at the next positions in one transaction; returns once committed.
        :class:`HistoryWriteError` if it could not be (nothing of it is then kept)."""
        if not items:
            return
        first = self._next
        stored_ms = int(self._clock() * 1000)
        rows = [
            (first + offset, message_id, stored_ms, item)
            for offset, (message_id, item) in enumerate(items)
        ]
        try:
            with self._db:  # one transaction: committed here, rolled back on any error
                self._db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise HistoryWriteError(f"cannot store messages in {self.path}: {exc}") from exc
        self._next = first + len(rows)
        ids = self._ids
        for position, message_id, _, _ in rows:
            ids[message_id] = position
        self._batches.append((self._next - 1, stored_ms))
        self._since_prune += len(rows)
        if (
            self._since_prune >= PRUNE_EVERY
            or self._monotonic() - self._last_prune >= _PRUNE_INTERVAL
        ):
            with contextlib.suppress(HistoryWriteError):  # stored already; the next pass retries
                self.prune()

    def contains(self, message_id: bytes) -> bool:
        return bytes(message_id[:MESSAGE_ID_SIZE]) in self._ids

    def page(
        self, *, after: int, before: int, limit: int, max_bytes: int
    ) -> tuple[int, list[bytes]]:
        before = min(before, self._next)
        if limit <= 0 or before - 1 <= after:
            return before, []
        rows = self._db.execute(
            "SELECT position, item FROM messages WHERE position > ? AND position < ? "
            "ORDER BY position DESC LIMIT ?",
            (after, before, limit),
        )
        chosen: list[bytes] = []
        position = before
        for row_position, item in rows:
            if row_position != position - 1:
                break  # pruned in between: only consecutive items
            max_bytes -= len(item)
            if max_bytes < 0:
                break
            chosen.append(item)
            position = row_position
        chosen.reverse()
        return position, chosen

    # -- retention and closing -------------------------------------------------------------

    def prune(self) -> int:
        """Delete what the retention no longer keeps (count, then age); how many went."""
        self._last_prune = self._monotonic()
        self._since_prune = 0
        cutoff = self._next - self._keep  # positions below this go
        if self._max_age_ms:
            oldest_kept = int(self._clock() * 1000) - self._max_age_ms
            batches = self._batches
            while batches and batches[0][1] < oldest_kept:
                cutoff = max(cutoff, batches.popleft()[0] + 1)
        ids = self._ids
        if not ids or next(iter(ids.values())) >= cutoff:
            return 0
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('next_position', ?)", (self._next,)
                )
                self._db.execute("DELETE FROM messages WHERE position < ?", (cutoff,))
        except sqlite3.Error as exc:
            raise HistoryWriteError(f"cannot prune {self.path}: {exc}") from exc
        doomed = []
        for message_id, position in ids.items():  # oldest first: stops at the first kept
            if position >= cutoff:
                break
            doomed.append(message_id)
        for message_id in doomed:
            del ids[message_id]
        while self._batches and self._batches[0][0] < cutoff:
            self._batches.popleft()
        return len(doomed)

    def close(self) -> None:
        """Close the database (a checkpoint folds the WAL into the file). Idempotent."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    # -- opening ---------------------------------------------------------------------------

    def _load(self, room_id: bytes) -> int:
        """Create or check the schema and the room; read the kept ids. The next position."""
        db, where = self._db, self.path
        try:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise sqlite3.DatabaseError("the integrity check failed")
            with db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS messages (position INTEGER PRIMARY KEY, "
                    "message_id BLOB NOT NULL UNIQUE, stored_ms INTEGER NOT NULL, "
                    "item BLOB NOT NULL)"
                )
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
                for key, value in (("format", FORMAT), ("version", VERSION)):
                    db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('room_id', ?)", (room_id.hex(),))
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            rows = db.execute(
                "SELECT position, message_id, stored_ms FROM messages ORDER BY position"
            ).fetchall()
        except sqlite3.Error as exc:
            raise _damaged(where, str(exc)) from None
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise HistoryError(
                f"{where} is not a SocketChat relay history (or one of another version). Move "
                "it away, or give the relay another data folder (--data)."
            )
        if meta.get("room_id") != room_id.hex():
            raise HistoryError(
                f"{where} holds the history of room {str(meta.get('room_id'))[:8]}, not of "
                f"room {room_id.hex()[:8]} (was the room file replaced?). Move it away to start "
                "this room's history afresh, or put the right room file back."
            )
        last = 0
        batch_ms = None
        for position, message_id, stored_ms in rows:
            if not isinstance(message_id, bytes) or len(message_id) != MESSAGE_ID_SIZE:
                raise _damaged(where, f"the message at position {position} has no valid id")
            if position != last + 1 and last:
                raise _damaged(where, f"positions jump from {last} to {position}")
            self._ids[message_id] = position
            if batch_ms is not None and stored_ms != batch_ms:
                self._batches.append((last, batch_ms))
            batch_ms, last = stored_ms, position
        if batch_ms is not None:
            self._batches.append((last, batch_ms))
        remembered = meta.get("next_position", 1)
        if not isinstance(remembered, int) or remembered < 1:
            raise _damaged(where, "its next position is not a number")
        return max(last + 1, remembered)


def _connect(path: Path, sync: Sync) -> sqlite3.Connection:
    """Open (or create, mode 0600) the database in WAL mode; :class:`HistoryError`."""
    try:
        # Created here with mode 0600 from the start; SQLite gives its -wal and -shm files
        # the database file's mode.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # an older file keeps a wider mode otherwise
        finally:
            os.close(fd)
    except OSError as exc:
        raise HistoryError(
            f"cannot open the room's history {path}: {exc.strerror or exc}."
        ) from None
    try:
        # One thread uses it (the relay's loop), though not always the one that opened it.
        # The default isolation: an INSERT or DELETE opens a transaction, `with db:` ends it.
        # A short busy timeout: the only other holder can be another relay, which keeps it.
        db = sqlite3.connect(path, timeout=0.2, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _damaged(path, str(exc)) from None
    try:
        # Held until close: a second relay on the same file is refused, rather than both
        # numbering messages from the same position.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.DatabaseError(f"it cannot use a write-ahead log ({mode!r})")
        db.execute(f"PRAGMA synchronous={sync.name}")
    except sqlite3.Error as exc:
        db.close()
        raise _damaged(path, str(exc)) from None
    return db


def _damaged(path: Path, detail: str) -> HistoryError:
    if "locked" in detail:
        return HistoryError(
            f"The room's history {path} is in use by another relay process: a room's history "
            "can be served by one relay at a time (give each relay its own --data folder)."
        )
    return HistoryError(
        f"The room's history {path} is damaged or unreadable ({detail}). Restore it from a "
        "backup, or move it away to start the room's history afresh; the relay never replaces "
        "it by itself."
    )


class DeferredHistory:
    """An empty history that makes its SQLite file when the first message is stored: a relay
    serving a folder of rooms keeps files only for the rooms that are used on it."""

    def __init__(self, room_file: Path, room_id: bytes, options: HistoryOptions) -> None:
        self._room_file = room_file
        self._room_id = room_id
        self._options = options
        self._store: SqliteHistory | None = None

    @property
    def next_position(self) -> int:
        return 1 if self._store is None else self._store.next_position

    def __len__(self) -> int:
        return 0 if self._store is None else len(self._store)

    def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        if self._store is None:
            try:
                self._store = open_history(self._room_file, self._room_id, self._options)
            except HistoryError as exc:
                raise HistoryWriteError(str(exc)) from exc
        self._store.append(items)

    def contains(self, message_id: bytes) -> bool:
        return self._store is not None and self._store.contains(message_id)

    def page(
        self, *, after: int, before: int, limit: int, max_bytes: int
    ) -> tuple[int, list[bytes]]:
        if self._store is None:
            return min(before, 1), []
        return self._store.page(after=after, before=before, limit=limit, max_bytes=max_bytes)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
