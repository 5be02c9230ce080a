"""The rules of a room's files on the relay: limits, order, eviction, who may drop.

:class:`RoomFiles` answers a member's FILE_OPEN, FILE_PUT, FILE_DROP and FILE_GET (PROTOCOL.md
3.6) over a :class:`~net.proto._files.FileStore`, without any I/O of its own: the relay's room
calls it with the member's connection (``handle``) and signing key, sends the
:class:`~net.proto._files.FileState` it returns, and serves the chunk range a FILE_GET returns
through the connection's :class:`DownloadQueue`, as its socket drains (the relay's memory must
not grow with a file's size: chunks are read from the store one at a time, when they can be
written).

The rules:

* **limits** — no file's ``stored_size`` above ``max_bytes`` (TOO_LARGE), and all the room's
  files together never above it either: a new file evicts the files opened longest ago until
  it fits, except the files of uploads in progress on a live connection (NO_SPACE if it still
  does not fit; nothing is evicted then). At most ``max_files`` files, likewise. A stored
  file's size counts in full from its FILE_OPEN on (a reservation), so an upload in progress
  can never run out of room;
* **order** — chunks are stored from index 0 on, each once; a chunk before ``have`` is a
  harmless duplicate (a resend after a reconnect), one after it, a chunk too long or short or
  a running total above ``stored_size`` is a protocol error (:class:`FileRuleError`);
* **uploads** — an upload in progress belongs to the connection that opened (or resumed) it,
  at most ``MAX_UPLOADS`` per connection (TOO_MANY); a connection that ends leaves its
  uploads where they are, evictable, for its identity to resume (FILE_OPEN again);
* **who may drop** — only the identity that uploaded a file (NOT_YOURS for anyone else);
* **age** — with ``max_age_ms``, files opened longer ago are deleted at the next FILE_OPEN.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from net.proto._errors import RemoteProtocolError
from net.proto._files import (
    MAX_FILES,
    MAX_GET_CHUNKS,
    MAX_UPLOADS,
    FileCode,
    FileState,
    FileStore,
    StoredFile,
)

M = TypeVar("M")


class FileRuleError(RemoteProtocolError):
    """A member's file frame breaks the rules (a chunk out of order, too many bytes, more
    chunks asked for than allowed). The driver logs the reason and ends the connection with
    GOODBYE(PROTOCOL_ERROR); nothing of the frame was kept."""


class RoomFiles(Generic[M]):
    """The files of one room: the rules, over a store. All methods run on the relay's loop.

    ``store`` None or ``max_bytes`` 0: files are off (every request is answered FILES_OFF).
    ``M`` is the driver's connection object, as for :class:`net.proto.Room`; call
    :meth:`release` when a connection ends (``Room.leave`` does).
    """

    def __init__(
        self,
        store: FileStore | None,
        *,
        max_bytes: int,
        max_files: int = MAX_FILES,
        max_age_ms: int = 0,
    ) -> None:
        if max_bytes < 0 or max_files < 1 or max_age_ms < 0:
            raise ValueError("file limits are not negative, and a room keeps at least one file")
        self.store = store if max_bytes else None
        self._max_bytes = max_bytes if store is not None else 0
        self._max_files = max_files
        self._max_age_ms = max_age_ms
        self._live: dict[bytes, M] = {}  # file id -> the connection uploading it
        self._uploads: dict[int, set[bytes]] = {}  # id(connection) -> its uploads in progress

    @property
    def max_bytes(self) -> int:
        """The room's file limit (WELCOME's ``max_file_bytes``); 0: files are off."""
        return self._max_bytes

    def uploads(self, handle: M) -> int:
        """How many uploads in progress ``handle`` holds."""
        return len(self._uploads.get(id(handle), ()))

    # -- upload ----------------------------------------------------------------------------

    def open(
        self,
        handle: M,
        uploader: bytes,
        *,
        file_id: bytes,
        count: int,
        stored_size: int,
        now_ms: int,
    ) -> FileState:
        """FILE_OPEN from ``handle`` (the member whose signing key is ``uploader``).

        OK with ``have`` (0 for a new file; more when an upload resumes; ``count`` when the
        file is complete already), or why not. :class:`FileRuleError` if the file is known
        with another count or size (the same file id must describe the same file).
        """
        store = self.store
        if store is None:
            return FileState(file_id=file_id, code=FileCode.FILES_OFF)
        if stored_size > self._max_bytes:
            return FileState(file_id=file_id, code=FileCode.TOO_LARGE)
        self._expire(now_ms)
        record = store.find(file_id)
        if record is not None:
            if record.uploader != uploader:
                return FileState(file_id=file_id, code=FileCode.NOT_YOURS)
            if (record.count, record.stored_size) != (count, stored_size):
                raise FileRuleError("FILE_OPEN for a known file with another count or size")
            if not record.complete and self._live.get(file_id) is not handle:
                if self.uploads(handle) >= MAX_UPLOADS:
                    return FileState(file_id=file_id, code=FileCode.TOO_MANY)
                self._attach(file_id, handle)
            return FileState(file_id=file_id, code=FileCode.OK, have=record.have)
        if self.uploads(handle) >= MAX_UPLOADS:
            return FileState(file_id=file_id, code=FileCode.TOO_MANY)
        try:
            if not self._make_room(stored_size):
                return FileState(file_id=file_id, code=FileCode.NO_SPACE)
            record = store.create(
                file_id=file_id,
                uploader=uploader,
                count=count,
                stored_size=stored_size,
                opened_ms=now_ms,
            )
        except OSError:
            return FileState(file_id=file_id, code=FileCode.NO_SPACE)
        if not record.complete:  # an empty file is complete as soon as it is opened
            self._attach(file_id, handle)
        return FileState(file_id=file_id, code=FileCode.OK, have=0)

    def put(
        self, handle: M, uploader: bytes, *, file_id: bytes, index: int, sealed: bytes
    ) -> FileState:
        """FILE_PUT from ``handle``: store the chunk if it is the next one; the answer is
        FILE_STATE(OK, have) (also for a duplicate). :class:`FileRuleError` for a chunk out
        of order, past the file's size, or for a file this connection is not uploading.
        NO_SPACE if the store could not write it (a full disk): nothing was kept."""
        store = self.store
        record = store.find(file_id) if store is not None else None
        if store is None or record is None:
            if self._live.get(file_id) is handle:  # cannot happen: live files are kept
                self._detach(file_id)
                return FileState(file_id=file_id, code=FileCode.NOT_FOUND)
            raise FileRuleError("FILE_PUT for a file that is not being uploaded")
        if index < record.have and record.uploader == uploader:
            return FileState(file_id=file_id, code=FileCode.OK, have=record.have)
        if self._live.get(file_id) is not handle:
            raise FileRuleError("FILE_PUT for a file this connection is not uploading")
        if index != record.have:
            raise FileRuleError(f"FILE_PUT of chunk {index}; the next is {record.have}")
        total = record.total + len(sealed)
        last = index == record.count - 1
        if total > record.stored_size or (last and total != record.stored_size):
            raise FileRuleError("FILE_PUT past the file's stored_size, or short of it at the end")
        try:
            record = store.append(file_id, index, sealed)
        except OSError:
            return FileState(file_id=file_id, code=FileCode.NO_SPACE)
        if record.complete:
            self._detach(file_id)
        return FileState(file_id=file_id, code=FileCode.OK, have=record.have)

    def drop(self, handle: M, uploader: bytes, file_id: bytes) -> FileState:
        """FILE_DROP: the uploader gives up (or takes back a file it has not offered): the
        file and its chunks are deleted. Answered NOT_FOUND (the relay holds nothing of it
        now), or NOT_YOURS for another identity's file (nothing is deleted)."""
        store = self.store
        if store is None:
            return FileState(file_id=file_id, code=FileCode.FILES_OFF)
        record = store.find(file_id)
        if record is not None and record.uploader != uploader:
            return FileState(file_id=file_id, code=FileCode.NOT_YOURS)
        if record is not None:
            try:
                store.delete(file_id)
            except OSError:
                return FileState(file_id=file_id, code=FileCode.NO_SPACE)
            self._detach(file_id)
        return FileState(file_id=file_id, code=FileCode.NOT_FOUND)

    def release(self, handle: M) -> None:
        """``handle``'s connection ended: its uploads in progress stay, but may be evicted
        now, and its identity resumes them with FILE_OPEN."""
        for file_id in self._uploads.pop(id(handle), ()):
            if self._live.get(file_id) is handle:
                del self._live[file_id]

    # -- download --------------------------------------------------------------------------

    def get(self, *, file_id: bytes, from_index: int, count: int) -> FileState | range:
        """FILE_GET: the chunk indexes to send (FILE_DATA each, in order: queue them in the
        connection's :class:`DownloadQueue`), or the FILE_STATE to answer when there are
        none: NOT_FOUND, FILES_OFF, or OK with ``have`` when ``from_index ≥ have``."""
        store = self.store
        if store is None:
            return FileState(file_id=file_id, code=FileCode.FILES_OFF)
        record = store.find(file_id)
        if record is None:
            return FileState(file_id=file_id, code=FileCode.NOT_FOUND)
        if from_index >= record.have:
            return FileState(file_id=file_id, code=FileCode.OK, have=record.have)
        return range(from_index, min(from_index + count, record.have))

    def read(self, file_id: bytes, index: int) -> bytes | None:
        """Chunk ``index`` of the file, sealed, or None if the file went meanwhile (answer
        FILE_STATE NOT_FOUND and :meth:`DownloadQueue.forget` the rest of it)."""
        return self.store.read(file_id, index) if self.store is not None else None

    # -- keeping within the limits ---------------------------------------------------------

    def _make_room(self, size: int) -> bool:
        """Evict the files opened longest ago, not those of live uploads, until a new file of
        ``size`` bytes fits; False (nothing evicted) if it cannot."""
        store = self.store
        assert store is not None
        over_bytes = store.used + size - self._max_bytes
        over_files = len(store) + 1 - self._max_files
        if over_bytes <= 0 and over_files <= 0:
            return True
        doomed: list[StoredFile] = []
        for record in store.files():
            if over_bytes <= 0 and over_files <= 0:
                break
            if record.file_id in self._live:
                continue
            doomed.append(record)
            over_bytes -= record.stored_size
            over_files -= 1
        if over_bytes > 0 or over_files > 0:
            return False
        for record in doomed:
            store.delete(record.file_id)
        return True

    def _expire(self, now_ms: int) -> None:
        """Delete the files opened more than ``max_age_ms`` ago (not live uploads)."""
        store = self.store
        if not self._max_age_ms or store is None:
            return
        cutoff = now_ms - self._max_age_ms
        doomed = []
        for record in store.files():  # oldest first: stop at the first one kept
            if record.opened_ms >= cutoff:
                break
            if record.file_id not in self._live:
                doomed.append(record.file_id)
        for file_id in doomed:
            store.delete(file_id)

    def _attach(self, file_id: bytes, handle: M) -> None:
        self._detach(file_id)
        self._live[file_id] = handle
        self._uploads.setdefault(id(handle), set()).add(file_id)

    def _detach(self, file_id: bytes) -> None:
        handle = self._live.pop(file_id, None)
        if handle is None:
            return
        uploads = self._uploads.get(id(handle))
        if uploads is not None:
            uploads.discard(file_id)
            if not uploads:
                del self._uploads[id(handle)]


class DownloadQueue:
    """The chunks one connection asked for (FILE_GET) and has not been sent yet, in order.

    The relay sends them one at a time as the connection's socket drains: :meth:`peek` the
    next, read it from the store, send it, :meth:`pop` it. Only indexes are held here, never
    chunk bytes, and at most ``limit`` of them (:class:`FileRuleError` past it: a downloader
    keeps at most ``MAX_GET_CHUNKS`` asked for and not received).
    """

    __slots__ = ("_ranges", "limit", "pending")

    def __init__(self, limit: int = MAX_GET_CHUNKS) -> None:
        self.limit = limit
        self.pending = 0
        self._ranges: deque[tuple[bytes, int, int]] = deque()  # (file id, next, end)

    def __bool__(self) -> bool:
        return self.pending > 0

    def add(self, file_id: bytes, chunks: range) -> None:
        """Queue ``chunks`` (from :meth:`RoomFiles.get`) behind what waits."""
        if self.pending + len(chunks) > self.limit:
            raise FileRuleError(
                f"FILE_GET for more than {self.limit} chunks asked for and not received"
            )
        if chunks:
            self._ranges.append((file_id, chunks.start, chunks.stop))
            self.pending += len(chunks)

    def peek(self) -> tuple[bytes, int] | None:
        """The next chunk to send: ``(file id, index)``; None when nothing waits."""
        if not self._ranges:
            return None
        file_id, index, _ = self._ranges[0]
        return file_id, index

    def pop(self) -> None:
        """The chunk :meth:`peek` named was sent."""
        file_id, index, end = self._ranges.popleft()
        self.pending -= 1
        if index + 1 < end:
            self._ranges.appendleft((file_id, index + 1, end))

    def forget(self, file_id: bytes) -> None:
        """The file went (dropped, evicted): nothing more of it is sent."""
        kept = deque(r for r in self._ranges if r[0] != file_id)
        self.pending = sum(end - index for _, index, end in kept)
        self._ranges = kept
