"""One file being sent: read, hashed and sealed a chunk at a time, never whole in memory.

:class:`Upload` is the file's side of an upload (``net.client.transfers`` drives the wire): it
is opened on the caller's thread by :meth:`Upload.open`, which refuses at once what cannot be
sent (no such file, a folder, a device, unreadable), then read on the client's worker thread
chunk by chunk as the relay takes them (:meth:`Upload.sealed_chunk`). The whole file's SHA-256
goes into the offer, which is only sent once the relay holds every chunk, so the hash is taken
while the chunks are read for sealing, in the same single pass: a chunk sealed again after a
reconnect (the relay's ``have`` is behind what was sent) is read again but not hashed again.

The file stays open from the first read to the last, and every read checks that its size and
modification time are still those of the start: a file that changes while it is sent fails
with :class:`ChunkReadError` rather than offering a hash of neither version.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from Crypto.Random import get_random_bytes

from crypto.filechunk import FILE_ID_SIZE, FILE_KEY_SIZE, chunk_length, seal_chunk
from net.client import _transfer_texts as texts
from net.client.filenames import safe_name
from net.proto import CHUNK_SIZE, FileOffer, chunk_count, sealed_size


class ChunkReadError(Exception):
    """Reading the file failed, or it changed since the upload started (``str``: why, in
    words for the person)."""


class Upload:
    """A file being sent: its identity on the relay (``file_id``, ``count``,
    ``stored_size``), its key, and how far the relay has it (``have``).

    Not thread-safe: ``net.client.transfers`` guards it with its lock.
    """

    def __init__(
        self,
        *,
        transfer_id: bytes,
        message_id: bytes,
        path: Path,
        handle: BinaryIO,
        size: int,
        modified_ns: int,
        media_type: str,
        private_to: bytes | None,
    ) -> None:
        self.transfer_id = transfer_id
        self.message_id = message_id  # the offer's, fixed now so progress can name it
        self.path = path
        self.name = path.name
        self.size = size
        self.media_type = media_type
        self.private_to = private_to
        self.file_id = get_random_bytes(FILE_ID_SIZE)
        self.file_key = get_random_bytes(FILE_KEY_SIZE)
        self.count = chunk_count(size)
        self.stored_size = sealed_size(size)
        #: Chunks the relay said it stores (from index 0, in order).
        self.have = 0
        #: The next chunk to send on this connection (≥ have once the relay answered).
        self.next = 0
        #: FILE_OPEN went out on this connection; ``ready`` once the relay answered OK.
        self.opened = False
        self.ready = False
        #: FILE_OPEN went out on some connection: the relay may hold part of the file.
        self.announced = False
        #: When the last TransferProgress went out (the driver's clock), and with how much.
        self.last_progress = float("-inf")
        self.reported = -1
        self._handle = handle
        self._modified_ns = modified_ns
        self._hash = hashlib.sha256()
        self._hashed = 0  # chunks fed to the hash, in order

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        transfer_id: bytes,
        message_id: bytes,
        media_type: str,
        private_to: bytes | None,
    ) -> Upload:
        """Open ``path`` for sending. Raises ``ValueError`` in words for the person for a file
        that is missing, unreadable, a folder or anything but a regular file."""
        shown = path.name or str(path)
        # O_NONBLOCK: opening a FIFO someone put there must not hang the caller; the check on
        # the open descriptor refuses it (and a device) without a race between stat and open.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise ValueError(texts.file_missing(shown)) from None
        except IsADirectoryError:
            raise ValueError(texts.file_is_folder(shown)) from None
        except PermissionError:
            raise ValueError(texts.file_unreadable(shown, "permission denied")) from None
        except OSError as exc:
            raise ValueError(texts.file_unreadable(shown, exc.strerror or str(exc))) from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise ValueError(texts.file_is_folder(shown))
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(texts.file_not_regular(shown))
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            handle = os.fdopen(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        return cls(
            transfer_id=transfer_id,
            message_id=message_id,
            path=path,
            handle=handle,
            size=info.st_size,
            modified_ns=info.st_mtime_ns,
            media_type=media_type,
            private_to=private_to,
        )

    @property
    def done_bytes(self) -> int:
        """Bytes of the file the relay holds."""
        return min(self.size, self.have * CHUNK_SIZE)

    @property
    def complete(self) -> bool:
        return self.have >= self.count

    def connection_started(self) -> None:
        """A new connection: FILE_OPEN again, and send from the relay's ``have`` on."""
        self.opened = self.ready = False
        self.next = self.have

    def relay_has(self, have: int) -> None:
        """The relay's FILE_STATE OK: it stores ``have`` chunks. The first answer on a
        connection sets where sending resumes; later ones only move ``have`` up."""
        if not self.ready:
            self.ready = True
            self.have = min(have, self.count)
            self.next = self.have
        else:
            self.have = min(max(self.have, have), self.count)
            self.next = max(self.next, self.have)

    def sealed_chunk(self, index: int) -> bytes:
        """Chunk ``index`` read from the file and sealed for FILE_PUT (hashed if it is the
        next one the hash needs). Raises :class:`ChunkReadError`."""
        while self._hashed < index:  # a relay that says it holds more than we sent
            self._read(self._hashed)
        return seal_chunk(
            file_key=self.file_key,
            file_id=self.file_id,
            index=index,
            count=self.count,
            chunk=self._read(index),
        )

    def offer(self) -> FileOffer:
        """The file offer, once the relay holds every chunk: the whole file was read and
        hashed by then (an empty file: now). Raises :class:`ChunkReadError` if the file
        changed meanwhile. It names the file as :func:`~net.client.filenames.safe_name` makes
        its name (the receiver does so again: a name is hostile there)."""
        while self._hashed < self.count:
            self._read(self._hashed)
        self._check_unchanged()
        return FileOffer(
            file_id=self.file_id,
            file_key=self.file_key,
            size=self.size,
            sha256=self._hash.digest(),
            name=safe_name(self.name),
            media_type=self.media_type,
        )

    def close(self) -> None:
        self._handle.close()

    def _read(self, index: int) -> bytes:
        length = chunk_length(self.size, index)
        try:
            self._check_unchanged()
            self._handle.seek(index * CHUNK_SIZE)
            data = self._handle.read(length)
        except OSError as exc:
            detail = exc.strerror or str(exc)
            raise ChunkReadError(texts.file_read_failed(self.name, detail)) from None
        if data is None or len(data) != length:
            raise ChunkReadError(texts.file_changed(self.name))
        if index == self._hashed:
            self._hash.update(data)
            self._hashed += 1
        return data

    def _check_unchanged(self) -> None:
        try:
            info = os.fstat(self._handle.fileno())
        except OSError as exc:
            raise ChunkReadError(
                texts.file_read_failed(self.name, exc.strerror or str(exc))
            ) from None
        if info.st_size != self.size or info.st_mtime_ns != self._modified_ns:
            raise ChunkReadError(texts.file_changed(self.name))
