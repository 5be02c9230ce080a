"""One received file being saved: each chunk checked as it arrives, the whole file at the end.

:class:`Download` is the disk side of a download (``net.client.transfers`` drives the wire).
:meth:`Download.create` runs on the caller's thread and refuses at once a destination that
exists; it creates ``dest.name + ".part"`` next to it *exclusively* (``O_CREAT | O_EXCL``: it
fails on anything there, a symbolic link included, so nothing is ever written through one).
Chunks come in index order (:meth:`Download.accept`): each is opened with the file's key
(``crypto.filechunk.open_chunk``, which binds it to this file, its place and the number of
chunks), hashed and written. Once all are there, :meth:`Download.finish` compares the SHA-256
with the offer's and only then gives the file its name — by a hard link, which fails rather
than replace a file that appeared there meanwhile, then removing the ``.part``.

Any failure removes the ``.part`` (:meth:`Download.discard`): a file is either complete and
checked at ``dest``, or not there at all. The ``.part`` is kept across reconnects of the same
client (the download resumes at :attr:`Download.received`), not across restarts.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from crypto.errors import AuthenticationError
from crypto.filechunk import chunk_length, open_chunk
from net.client import _transfer_texts as texts
from net.client.events import TransferError
from net.proto import CHUNK_SIZE, FileOffer

PART_SUFFIX = ".part"


class DownloadError(Exception):
    """The download cannot go on: ``reason`` and words for the person (``str``)."""

    def __init__(self, reason: TransferError, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Download:
    """A file being received into ``dest`` (through ``part`` until it is checked).

    Not thread-safe: ``net.client.transfers`` guards it with its lock.
    """

    def __init__(
        self,
        *,
        transfer_id: bytes,
        message_id: bytes,
        offer: FileOffer,
        dest: Path,
        part: Path,
        handle: BinaryIO,
    ) -> None:
        self.transfer_id = transfer_id
        self.message_id = message_id
        self.offer = offer
        self.file_id = bytes(offer.file_id)
        self.dest = dest
        self.part = part
        self.name = dest.name
        self.size = offer.size
        self.count = offer.chunk_count
        #: Chunks checked and written (indexes 0 … received - 1).
        self.received = 0
        #: The next chunk to ask for on this connection.
        self.asked = 0
        self.last_progress = float("-inf")
        self.reported = -1
        self._handle: BinaryIO | None = handle
        self._hash = hashlib.sha256()

    @classmethod
    def create(
        cls, *, transfer_id: bytes, message_id: bytes, offer: FileOffer, dest: Path
    ) -> Download:
        """Start saving ``offer`` to ``dest``. Raises ``ValueError`` in words for the person
        if ``dest`` (or its ``.part``) exists or cannot be created."""
        if os.path.lexists(dest):
            raise ValueError(texts.destination_exists(dest.name))
        folder = dest.parent
        if not folder.is_dir():
            raise ValueError(texts.no_folder(str(folder)))
        part = dest.with_name(dest.name + PART_SUFFIX)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        flags |= getattr(os, "O_NOFOLLOW", 0)  # O_EXCL already refuses a link; say it twice
        try:
            fd = os.open(part, flags, 0o666)  # the umask applies; never executable
        except FileExistsError:
            raise ValueError(texts.part_exists(part.name)) from None
        except OSError as exc:
            raise ValueError(texts.cannot_write(part.name, exc.strerror or str(exc))) from None
        return cls(
            transfer_id=transfer_id,
            message_id=message_id,
            offer=offer,
            dest=dest,
            part=part,
            handle=os.fdopen(fd, "wb"),
        )

    @property
    def done_bytes(self) -> int:
        return min(self.size, self.received * CHUNK_SIZE)

    @property
    def complete(self) -> bool:
        return self.received >= self.count

    def connection_started(self) -> None:
        """A new connection: ask again from the first chunk not received."""
        self.asked = self.received

    def accept(self, index: int, sealed: bytes) -> None:
        """Chunk ``index`` as the relay served it: open, hash and write it. Raises
        :class:`DownloadError` (CORRUPT for a chunk that is not this file's next one, IO for
        the disk)."""
        if index != self.received or index >= self.count:
            raise DownloadError(TransferError.CORRUPT, texts.OUT_OF_ORDER)
        try:
            chunk = open_chunk(
                file_key=self.offer.file_key,
                file_id=self.file_id,
                index=index,
                count=self.count,
                sealed=sealed,
            )
        except (AuthenticationError, ValueError):
            raise DownloadError(TransferError.CORRUPT, texts.CORRUPT_CHUNK) from None
        if len(chunk) != chunk_length(self.size, index):
            raise DownloadError(TransferError.CORRUPT, texts.CORRUPT_CHUNK)
        self._hash.update(chunk)
        self._write(chunk)
        self.received += 1

    def finish(self) -> None:
        """Every chunk is in: check the whole file and give it its name. Raises
        :class:`DownloadError` (the ``.part`` is still there: :meth:`discard` it)."""
        handle = self._handle
        if handle is not None:
            self._handle = None
            try:
                handle.close()
            except OSError as exc:
                raise self._io_error(exc) from None
        if self._hash.digest() != bytes(self.offer.sha256):
            raise DownloadError(TransferError.CORRUPT, texts.CORRUPT_FILE)
        try:
            os.link(self.part, self.dest)
        except FileExistsError:
            raise DownloadError(
                TransferError.IO, texts.destination_appeared(self.dest.name)
            ) from None
        except OSError as exc:
            # No hard links here (FAT, some network shares): rename, after checking; the
            # window between the two is the only one left, on such file systems alone.
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise self._io_error(exc) from None
            if os.path.lexists(self.dest):
                raise DownloadError(
                    TransferError.IO, texts.destination_appeared(self.dest.name)
                ) from None
            try:
                os.rename(self.part, self.dest)
            except OSError as again:
                raise self._io_error(again) from None
            return
        with contextlib.suppress(OSError):
            os.unlink(self.part)

    def discard(self) -> None:
        """Give up: close and delete the ``.part`` (never ``dest``)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self.part)

    def _write(self, chunk: bytes) -> None:
        handle = self._handle
        if handle is None:  # unreachable: accept() only runs before finish()
            raise DownloadError(TransferError.IO, texts.write_failed(self.name, "closed"))
        try:
            handle.write(chunk)
        except OSError as exc:
            raise self._io_error(exc) from None

    def _io_error(self, exc: OSError) -> DownloadError:
        detail = texts.write_failed(self.name, exc.strerror or str(exc))
        return DownloadError(TransferError.IO, detail)
