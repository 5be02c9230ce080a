"""Files through the relay: the six frames, their codes and limits, and where a room keeps files.

A file is sent as *sealed chunks* (``crypto.filechunk``: each ``CHUNK_SIZE`` bytes of the file,
the last one shorter, sealed end to end under the file's own key). To the relay a sealed chunk
is opaque bytes whose only checked property is its length: ``MIN_SEALED_CHUNK`` (41) to
``MAX_SEALED_CHUNK`` (``CHUNK_SIZE + 40``). The uploader stores every chunk first and only then
offers the file in a message (PROTOCOL.md 3.6, DECISIONS.md):

=====  ==========  =====  ================================================================
type   name        dir    payload
=====  ==========  =====  ================================================================
0x22   FILE_OPEN   C→R    file_id (16) · u32 count · u64 stored_size
0x23   FILE_STATE  R→C    file_id (16) · u8 code · u32 have
0x24   FILE_PUT    C→R    file_id (16) · u32 index · sealed chunk (the rest)
0x25   FILE_DROP   C→R    file_id (16)
0x26   FILE_GET    C→R    file_id (16) · u32 from_index · u16 count (1–64)
0x27   FILE_DATA   R→C    file_id (16) · u32 index · sealed chunk (the rest)
=====  ==========  =====  ================================================================

This module holds the wire part (codes, limits, codecs: shared by both sides) and the store
interface (:class:`FileStore`, with :class:`MemoryFiles` for tests). The rules a room applies
to them (limits, order, eviction, who may drop) are :class:`net.proto._roomfiles.RoomFiles`.
Decoders raise :class:`DecodeError` (the peer broke the layout: a protocol error); encoders
raise :class:`LocalProtocolError` for values that do not fit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from crypto.filechunk import FILE_ID_SIZE
from net.proto._codec import Reader, Writer
from net.proto._content import CHUNK_SIZE, SEALED_CHUNK_OVERHEAD
from net.proto._errors import DecodeError, LocalProtocolError

#: The shortest sealed chunk (one byte of the file) and the longest (a whole chunk).
MIN_SEALED_CHUNK = SEALED_CHUNK_OVERHEAD + 1
MAX_SEALED_CHUNK = CHUNK_SIZE + SEALED_CHUNK_OVERHEAD
#: Most chunks one FILE_GET may ask for, and most a downloader may have asked for and not
#: received yet (the relay closes a connection that asks for more).
MAX_GET_CHUNKS = 64
#: Most FILE_PUT an uploader sends ahead of the relay's FILE_STATE answers (a client rule).
MAX_PUTS_AHEAD = 16
#: Most uploads in progress (opened, not complete) one connection may hold.
MAX_UPLOADS = 4
#: Most files a room keeps, whatever their size: past it the oldest go, as for bytes.
MAX_FILES = 10_000
#: What a u32 chunk count allows.
MAX_CHUNK_COUNT = 0xFFFF_FFFF


class FileCode(enum.IntEnum):
    """FILE_STATE's code: how the relay answered a FILE_OPEN, FILE_PUT, FILE_DROP or FILE_GET.

    ``have`` is meaningful with OK only (it is 0 with every other code).
    """

    #: ``have`` chunks are stored, from index 0 in order; ``have == count``: complete.
    OK = 0
    #: The relay does not hold this file (never had it, evicted, expired or dropped).
    NOT_FOUND = 1
    #: ``stored_size`` is over the room's file limit (WELCOME's ``max_file_bytes``).
    TOO_LARGE = 2
    #: The room's file storage is taken by uploads in progress (or the relay's disk is full).
    NO_SPACE = 3
    #: This connection already holds ``MAX_UPLOADS`` uploads in progress.
    TOO_MANY = 4
    #: Another identity uploads (or uploaded) this file id.
    NOT_YOURS = 5
    #: The relay keeps no files for this room (``max_file_bytes`` 0).
    FILES_OFF = 6


def file_code(code: int) -> FileCode | int:
    """Map a received code to :class:`FileCode`; a code from a newer relay stays an int (a
    client treats an unknown code as a failure of that transfer, never as a protocol error)."""
    try:
        return FileCode(code)
    except ValueError:
        return code


# -- the frames -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOpen:
    """FILE_OPEN: start (or resume) uploading ``count`` sealed chunks, ``stored_size`` bytes in
    all. ``count`` 0 (an empty file) needs ``stored_size`` 0; otherwise ``stored_size`` lies
    between ``count × MIN_SEALED_CHUNK`` and ``count × MAX_SEALED_CHUNK``."""

    file_id: bytes
    count: int
    stored_size: int


def _check_open(count: int, stored_size: int) -> bool:
    return MIN_SEALED_CHUNK * count <= stored_size <= MAX_SEALED_CHUNK * count


def encode_file_open(file_id: bytes, count: int, stored_size: int) -> bytes:
    """FILE_OPEN payload."""
    if not 0 <= count <= MAX_CHUNK_COUNT or not _check_open(count, stored_size):
        raise LocalProtocolError("stored_size does not fit count sealed chunks")
    w = Writer().raw(file_id, FILE_ID_SIZE, "file id").u32(count, "chunk count")
    return w.u64(stored_size, "stored size").getvalue()


def decode_file_open(payload: bytes) -> FileOpen:
    r = Reader(payload)
    opened = FileOpen(
        file_id=r.raw(FILE_ID_SIZE, "file id"),
        count=r.u32("chunk count"),
        stored_size=r.u64("stored size"),
    )
    r.finish()
    if not _check_open(opened.count, opened.stored_size):
        raise DecodeError("FILE_OPEN: stored_size does not fit count sealed chunks")
    return opened


@dataclass(frozen=True, slots=True, kw_only=True)
class FileState:
    """FILE_STATE: the relay's answer about ``file_id`` (see :class:`FileCode`)."""

    file_id: bytes
    code: FileCode | int
    have: int = 0


def encode_file_state(file_id: bytes, code: FileCode | int, have: int) -> bytes:
    """FILE_STATE payload."""
    w = Writer().raw(file_id, FILE_ID_SIZE, "file id").u8(int(code), "file code")
    return w.u32(have, "have").getvalue()


def decode_file_state(payload: bytes) -> FileState:
    r = Reader(payload)
    state = FileState(
        file_id=r.raw(FILE_ID_SIZE, "file id"), code=file_code(r.u8("file code")), have=r.u32()
    )
    r.finish()
    return state


@dataclass(frozen=True, slots=True, kw_only=True)
class FileChunk:
    """FILE_PUT (C→R) or FILE_DATA (R→C): chunk ``index`` of ``file_id``, sealed."""

    file_id: bytes
    index: int
    sealed: bytes


def encode_file_chunk(file_id: bytes, index: int, sealed: bytes) -> bytes:
    """FILE_PUT or FILE_DATA payload (the layouts are the same)."""
    if not MIN_SEALED_CHUNK <= len(sealed) <= MAX_SEALED_CHUNK:
        raise LocalProtocolError(
            f"a sealed chunk is {MIN_SEALED_CHUNK} to {MAX_SEALED_CHUNK} bytes, not {len(sealed)}"
        )
    w = Writer().raw(file_id, FILE_ID_SIZE, "file id").u32(index, "chunk index")
    return w.raw(sealed).getvalue()


def decode_file_chunk(payload: bytes) -> FileChunk:
    """FILE_PUT or FILE_DATA; the sealed chunk's length is checked before it is copied."""
    size = len(payload) - FILE_ID_SIZE - 4
    if not MIN_SEALED_CHUNK <= size <= MAX_SEALED_CHUNK:
        raise DecodeError(f"a sealed chunk of {size} bytes")
    r = Reader(payload)
    chunk = FileChunk(
        file_id=r.raw(FILE_ID_SIZE, "file id"), index=r.u32("chunk index"), sealed=r.raw(size)
    )
    r.finish()
    return chunk


def encode_file_drop(file_id: bytes) -> bytes:
    """FILE_DROP payload: the file id alone."""
    return Writer().raw(file_id, FILE_ID_SIZE, "file id").getvalue()


def decode_file_drop(payload: bytes) -> bytes:
    r = Reader(payload)
    file_id = r.raw(FILE_ID_SIZE, "file id")
    r.finish()
    return file_id


@dataclass(frozen=True, slots=True, kw_only=True)
class FileGet:
    """FILE_GET: send chunks ``from_index`` … ``from_index + count - 1`` (those stored)."""

    file_id: bytes
    from_index: int
    count: int


def encode_file_get(file_id: bytes, from_index: int, count: int) -> bytes:
    """FILE_GET payload; ``count`` 1 to :data:`MAX_GET_CHUNKS`."""
    if not 1 <= count <= MAX_GET_CHUNKS:
        raise LocalProtocolError(f"FILE_GET asks for 1 to {MAX_GET_CHUNKS} chunks")
    w = Writer().raw(file_id, FILE_ID_SIZE, "file id").u32(from_index, "from index")
    return w.u16(count, "count").getvalue()


def decode_file_get(payload: bytes) -> FileGet:
    r = Reader(payload)
    get = FileGet(
        file_id=r.raw(FILE_ID_SIZE, "file id"), from_index=r.u32("from index"), count=r.u16()
    )
    r.finish()
    if not 1 <= get.count <= MAX_GET_CHUNKS:
        raise DecodeError(f"FILE_GET asks for 1 to {MAX_GET_CHUNKS} chunks")
    return get


# -- where a room keeps its files ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFile:
    """What a store knows of one file besides its chunks.

    ``have`` chunks are stored (indexes 0 … have - 1), ``total`` bytes of them; the file is
    complete when ``have == count``. ``opened`` orders files by when they were first opened
    (eviction takes the smallest first); ``opened_ms`` dates it (the wall clock, for the age
    limit). ``uploader`` is the signing key of the identity that opened it.
    """

    file_id: bytes
    uploader: bytes
    count: int
    stored_size: int
    have: int = 0
    total: int = 0
    opened: int = 0
    opened_ms: int = 0

    @property
    def complete(self) -> bool:
        return self.have == self.count


class FileStore(Protocol):
    """What :class:`~net.proto._roomfiles.RoomFiles` needs from the place a room keeps files.

    The rules (who may write what, in which order, what fits) are the caller's: a store only
    keeps what it is told, in order. Errors writing (a full disk) raise ``OSError``: nothing
    of that call is kept. ``net.relay.files`` keeps files in SQLite; :class:`MemoryFiles`
    in memory (tests).
    """

    def __len__(self) -> int:
        """How many files are kept (complete or not)."""
        ...

    @property
    def used(self) -> int:
        """The sum of the kept files' ``stored_size`` (what they take, or will take)."""
        ...

    def files(self) -> Iterator[StoredFile]:
        """Every kept file, the first opened first."""
        ...

    def find(self, file_id: bytes) -> StoredFile | None:
        """The file with this id, or None."""
        ...

    def create(
        self, *, file_id: bytes, uploader: bytes, count: int, stored_size: int, opened_ms: int
    ) -> StoredFile:
        """Keep a new, empty file (after every kept one in the opening order)."""
        ...

    def append(self, file_id: bytes, index: int, sealed: bytes) -> StoredFile:
        """Store chunk ``index`` (always the file's ``have``) and return the file after it."""
        ...

    def read(self, file_id: bytes, index: int) -> bytes | None:
        """Chunk ``index`` of the file, or None if the file or the chunk is not kept."""
        ...

    def delete(self, file_id: bytes) -> None:
        """Forget the file and its chunks (nothing if it is not kept)."""
        ...


class FileIndex:
    """The part of a :class:`FileStore` every store keeps in memory: its files' records in
    opening order and the bytes they take. A store adds where the chunks live: it calls
    :meth:`_new_record` and :meth:`_keep` when a file is opened (or loaded), :meth:`_grown`
    after a chunk, :meth:`_forget` when a file goes."""

    def __init__(self) -> None:
        self._files: dict[bytes, StoredFile] = {}  # by file id, in opening order
        self._used = 0
        self._next_opened = 1

    def __len__(self) -> int:
        return len(self._files)

    @property
    def used(self) -> int:
        return self._used

    def files(self) -> Iterator[StoredFile]:
        return iter(list(self._files.values()))

    def find(self, file_id: bytes) -> StoredFile | None:
        return self._files.get(bytes(file_id))

    def _new_record(
        self, *, file_id: bytes, uploader: bytes, count: int, stored_size: int, opened_ms: int
    ) -> StoredFile:
        """The record of a file opened now (not kept yet: :meth:`_keep` it once stored)."""
        return StoredFile(
            file_id=bytes(file_id),
            uploader=bytes(uploader),
            count=count,
            stored_size=stored_size,
            opened=self._next_opened,
            opened_ms=opened_ms,
        )

    def _keep(self, record: StoredFile) -> None:
        self._files[record.file_id] = record
        self._used += record.stored_size
        self._next_opened = max(self._next_opened, record.opened + 1)

    def _grown(self, record: StoredFile, sealed: int) -> StoredFile:
        """``record`` with one more chunk of ``sealed`` bytes, kept."""
        after = replace(record, have=record.have + 1, total=record.total + sealed)
        self._files[record.file_id] = after
        return after

    def _forget(self, record: StoredFile) -> None:
        del self._files[record.file_id]
        self._used -= record.stored_size


class MemoryFiles(FileIndex):
    """A :class:`FileStore` in memory: for tests of the rules (a relay keeps files on disk)."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: dict[bytes, list[bytes]] = {}

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
        self._keep(record)
        self._chunks[record.file_id] = []
        return record

    def append(self, file_id: bytes, index: int, sealed: bytes) -> StoredFile:
        record = self._files[bytes(file_id)]
        chunks = self._chunks[record.file_id]
        if index != len(chunks):
            raise ValueError("chunks are appended in order")
        chunks.append(bytes(sealed))
        return self._grown(record, len(sealed))

    def read(self, file_id: bytes, index: int) -> bytes | None:
        chunks = self._chunks.get(bytes(file_id))
        if chunks is None or not 0 <= index < len(chunks):
            return None
        return chunks[index]

    def delete(self, file_id: bytes) -> None:
        record = self._files.get(bytes(file_id))
        if record is not None:
            del self._chunks[record.file_id]
            self._forget(record)
