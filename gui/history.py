"""This device's local history, as the app reads it: past conversations, search, export.

The messages themselves are written by the clients (each :class:`net.client.ChatClient` is
given :attr:`LocalHistory.opener` and keeps its room's messages and unsent outbox in the
archive, on a thread of its own). The app keeps one more connection to the same file
(:class:`net.client.archive.Archive`; SQLite in WAL mode lets readers and the writers go on
together) on the Tk thread, to show a room's last messages when its chat window opens, to search
and to export. The archive's key comes from the keyring (``Keychain.local_key``), never from a
file; the file is created readable by its owner only.

Searching opens a room's messages into memory once (the archive's own index), and that index
only learns what *this* connection adds; the clients add through theirs. So the app tells
:meth:`LocalHistory.touched` which rooms got messages, and a search that involves one of them
opens the file again first: a second search without new messages costs nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from net.client import MAX_LIMIT, Archive, StoredMessage

FILE_NAME = "history.sqlite3"
SHOWN_ON_OPENING = 200  # the newest kept messages a room's chat window shows when it opens


class LocalHistory:
    """Open with the archive's ``path`` and ``key`` on the Tk thread (``ArchiveError``,
    ``ArchiveKeyError``, ``OSError`` or ``ValueError`` if it cannot be); :meth:`close` at exit."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key
        self._archive = Archive.open(path, key)
        self._touched: set[bytes] = set()

    @property
    def opener(self) -> Callable[[], Archive]:
        """What a client opens its own connection with (on its own thread)."""
        return functools.partial(Archive.open, self.path, self._key)

    def latest(self, room_id: bytes, limit: int = SHOWN_ON_OPENING) -> list[StoredMessage]:
        """The room's newest kept messages, oldest first."""
        return self._archive.latest(room_id, limit)

    def everything(self, room_id: bytes) -> list[StoredMessage]:
        """Every message kept of the room, oldest first (Export…)."""
        return self._archive.latest(room_id, MAX_LIMIT)

    def touched(self, room_id: bytes) -> None:
        """A client recorded messages of ``room_id`` since (the next search looks again)."""
        self._touched.add(room_id)

    def search(self, query: str, room_id: bytes | None = None) -> list[StoredMessage]:
        """Kept messages whose text or sender contains ``query``, newest first: in the room
        ``room_id``, or in all rooms."""
        # Clients write through their own connections: the search index learns their rows
        # (only those added since it last looked, for the rooms it has loaded).
        if room_id is None:
            if self._touched:
                self._archive.refresh()
                self._touched.clear()
        elif room_id in self._touched:
            self._archive.refresh(room_id)
            self._touched.discard(room_id)
        return self._archive.search(query, room_id=room_id)

    def forget(self, room_id: bytes) -> None:
        """Delete what was kept of the room (its messages and unsent outbox)."""
        self._archive.forget_room(room_id)
        self._touched.discard(room_id)

    def close(self) -> None:
        self._archive.close()
