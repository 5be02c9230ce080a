"""Files sent and saved through the relay, for one :class:`~net.client.ChatClient`.

:class:`Transfers` keeps every transfer of a client and speaks the file frames (PROTOCOL.md
3.6) on its worker thread. The application starts transfers through the client
(``send_file``, ``download``, ``cancel_transfer``: any thread, never blocking on the network);
the session calls the worker hooks:

* :meth:`Transfers.connection_started` when a connection attempt starts (what was in flight on
  the last one is gone), :meth:`Transfers.joined` once welcomed (the room's file limit), then
  :meth:`Transfers.pump` on every turn of its loop: it opens uploads (FILE_OPEN), sends their
  chunks (FILE_PUT, at most ``MAX_PUTS_AHEAD`` unconfirmed), asks for chunks of downloads
  (FILE_GET, at most ``MAX_GET_CHUNKS`` asked and not received on the connection), and hands
  back cancelled uploads (FILE_DROP);
* :meth:`Transfers.on_state` and :meth:`Transfers.on_data` for FILE_STATE and FILE_DATA;
* :meth:`Transfers.stop` when the client stops for good: every transfer fails as STOPPED.

An upload resumes after a reconnect from the relay's ``have`` (FILE_OPEN again), a download
from its first chunk not received (the ``.part`` keeps what was written). An upload whose file
the relay holds whole becomes a file offer in the outbox (message id fixed when the upload
started), so the offer has every promise a message has: stored, resent, or handed back.

Events (:class:`~net.client.events.TransferProgress`, ``TransferFinished``,
``TransferFailed``) are emitted under this object's (re-entrant) lock, also by
``cancel_transfer`` on the caller's thread: so nothing about a transfer comes after its last
event, whichever thread ends it. Disk reads and writes happen on the worker thread, a chunk at
a time, under the same lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from Crypto.Random import get_random_bytes

from net import proto
from net.client import _transfer_texts as texts
from net.client import events as ce
from net.client._transfer_download import Download, DownloadError
from net.client._transfer_upload import ChunkReadError, Upload
from net.client.errors import ClientStopped
from net.client.events import TransferError
from net.client.filenames import media_type_for
from net.proto import (
    MAX_GET_CHUNKS,
    MAX_PUTS_AHEAD,
    MAX_UPLOADS,
    MESSAGE_ID_SIZE,
    ContentType,
    FileCode,
    FileOffer,
    PendingMessage,
    encode_file_offer,
)

if TYPE_CHECKING:
    from net.client.client import ChatClient

TRANSFER_ID_SIZE = 16
PROGRESS_EVERY = 0.1  # seconds between two TransferProgress of one transfer (a GUI draws them)
#: Sealed chunks queued for the socket beyond which the pump waits for it to drain: chat
#: messages queue behind file chunks, so keep what sits in front of them short.
MAX_BACKLOG = 512 * 1024
MAX_OFFERS = 10_000  # file offers remembered for download(), the newest kept
# Ask for more chunks once this few are left to come: a FILE_GET counts against the member's
# message rate (5 a second, 20 at once, by default), so each asks for as many as it may (56 or
# more); 8 chunks still coming cover the request's way to the relay on a fast link.
_ASK_AGAIN = 8

_FAILURES: dict[int, tuple[TransferError, str]] = {
    FileCode.NOT_FOUND: (TransferError.GONE, texts.GONE),
    FileCode.TOO_LARGE: (TransferError.TOO_LARGE, texts.TOO_LARGE),
    FileCode.NO_SPACE: (TransferError.NO_SPACE, texts.NO_SPACE),
    FileCode.TOO_MANY: (TransferError.NO_SPACE, texts.TOO_MANY),
    FileCode.NOT_YOURS: (TransferError.IO, texts.NOT_YOURS),
    FileCode.FILES_OFF: (TransferError.FILES_OFF, texts.RELAY_FILES_OFF),
}

Transfer = Upload | Download


class Transfers:
    """Every file transfer of one client. Created by the client; see the module docstring."""

    def __init__(self, client: ChatClient) -> None:
        self._client = client
        self._lock = threading.RLock()
        self._uploads: dict[bytes, Upload] = {}  # by transfer id, in the order started
        self._downloads: dict[bytes, Download] = {}
        self._by_file: dict[bytes, Transfer] = {}  # by file id
        self._drops: list[bytes] = []  # file ids to hand back (FILE_DROP) once joined
        # Chunks still to come on this connection for downloads cancelled meanwhile: ignored
        # as they come, and counted against the relay's limit until they have.
        self._draining: dict[bytes, int] = {}
        self._offers: OrderedDict[bytes, FileOffer] = OrderedDict()  # message id → offer
        self._live = False  # joined on the current connection
        self._stopped = False
        #: The room's file limit from the last WELCOME (stored size: sealed chunks); 0: the
        #: room keeps no files; None: not joined yet.
        self.max_file_bytes: int | None = None

    # -- the application's side (any thread) ----------------------------------------------

    def start_upload(self, path: Path, *, private_to: bytes | None) -> bytes:
        """Open ``path`` and queue its upload; returns the transfer id. ``ValueError`` in words
        for the person if it cannot be sent (see ``ChatClient.send_file``)."""
        limit = self.max_file_bytes
        if limit is None:
            raise ValueError(texts.NOT_JOINED)
        if limit == 0:
            raise ValueError(texts.FILES_OFF)
        upload = Upload.open(
            Path(path),
            transfer_id=get_random_bytes(TRANSFER_ID_SIZE),
            message_id=get_random_bytes(MESSAGE_ID_SIZE),
            media_type=media_type_for(Path(path)),
            private_to=private_to,
        )
        if upload.stored_size > limit:
            upload.close()
            raise ValueError(texts.file_too_large(upload.name, upload.size, limit))
        with self._lock:
            if self._stopped:
                upload.close()
                raise ValueError(texts.STOPPED)
            self._uploads[upload.transfer_id] = upload
            self._by_file[upload.file_id] = upload
        self._client.wake()
        return upload.transfer_id

    def start_download(self, message_id: bytes, dest: Path, offer: FileOffer | None) -> bytes:
        """Queue the download of the offer in ``message_id`` (or ``offer``) into ``dest``;
        returns the transfer id. ``ValueError`` in words for the person."""
        with self._lock:
            if offer is None:
                offer = self._offers.get(bytes(message_id))
            if offer is None:
                raise ValueError(texts.UNKNOWN_OFFER)
            busy = self._by_file.get(bytes(offer.file_id))
            if busy is not None:
                raise ValueError(texts.already_downloading(busy.name))
            if self._stopped:
                raise ValueError(texts.STOPPED)
            download = Download.create(
                transfer_id=get_random_bytes(TRANSFER_ID_SIZE),
                message_id=bytes(message_id),
                offer=offer,
                dest=Path(dest),
            )
            self._downloads[download.transfer_id] = download
            self._by_file[download.file_id] = download
        self._client.wake()
        return download.transfer_id

    def cancel(self, transfer_id: bytes) -> None:
        """Stop a transfer now: TransferFailed(CANCELLED) is emitted before this returns (on
        the caller's thread). An upload is handed back to the relay (FILE_DROP) once joined;
        a download stops asking and its ``.part`` is deleted. Nothing happens for an id
        that is not under way (it ended already, or was never given)."""
        with self._lock:
            transfer = self._uploads.get(transfer_id) or self._downloads.get(transfer_id)
            if transfer is None:
                return
            is_upload = isinstance(transfer, Upload)
            self._fail(transfer, TransferError.CANCELLED, texts.cancelled(is_upload))
        self._client.wake()

    def note_offer(self, message_id: bytes, offer: FileOffer) -> None:
        """A file offer was received (or our own came back): remember it for download()."""
        with self._lock:
            self._offers[bytes(message_id)] = offer
            self._offers.move_to_end(bytes(message_id))
            while len(self._offers) > MAX_OFFERS:
                self._offers.popitem(last=False)

    def offer(self, message_id: bytes) -> FileOffer | None:
        with self._lock:
            return self._offers.get(bytes(message_id))

    def active(self) -> int:
        """How many transfers are under way."""
        with self._lock:
            return len(self._uploads) + len(self._downloads)

    # -- the worker's side ------------------------------------------------------------------

    def connection_started(self) -> None:
        """A connection attempt starts: nothing asked or sent on the last one will answer."""
        with self._lock:
            self._live = False
            self._draining.clear()
            for upload in self._uploads.values():
                upload.connection_started()
            for download in self._downloads.values():
                download.connection_started()

    def joined(self, max_file_bytes: int) -> None:
        """Welcomed: the room's file limit, and the frames may flow."""
        with self._lock:
            self.max_file_bytes = max_file_bytes
            self._live = True

    def pump(self, core: proto.ClientProtocol, backlog: int) -> None:
        """Queue what the transfers may send now, ``backlog`` bytes already waiting for the
        socket. Call on every turn of the session's loop once joined."""
        with self._lock:
            if not self._live:
                return
            for file_id in self._drops:
                core.drop_file(file_id)
            self._drops.clear()
            self._ask(core)
            for download in [d for d in self._downloads.values() if d.count == 0]:
                self._finish_download(download)  # an empty file: nothing to ask for
            self._send(core, backlog)

    def on_state(self, core: proto.ClientProtocol, event: proto.FileStateReceived) -> None:
        """FILE_STATE: the relay's answer about a file."""
        with self._lock:
            file_id = bytes(event.file_id)
            if self._draining.pop(file_id, None) is not None:
                return  # about a download cancelled meanwhile
            transfer = self._by_file.get(file_id)
            if isinstance(transfer, Upload):
                self._upload_state(transfer, event.code, event.have)
            elif isinstance(transfer, Download):
                self._download_state(transfer, event.code, event.have)
            self._ask(core)

    def on_data(self, core: proto.ClientProtocol, event: proto.FileDataReceived) -> None:
        """FILE_DATA: a chunk of a file being downloaded."""
        with self._lock:
            file_id = bytes(event.file_id)
            left = self._draining.get(file_id)
            if left is not None:
                if left <= 1:
                    del self._draining[file_id]
                else:
                    self._draining[file_id] = left - 1
                return
            download = self._by_file.get(file_id)
            if not isinstance(download, Download):
                return  # nothing asked for it on this connection: stale, ignored
            try:
                download.accept(event.index, event.sealed)
            except DownloadError as exc:
                self._fail(download, exc.reason, exc.detail)
                return
            if download.complete:
                self._finish_download(download)
            else:
                self._progress(download)
                self._ask(core)

    def stop(self) -> None:
        """The client stops for good: every transfer fails as STOPPED (downloads' ``.part``
        files are deleted), and nothing new starts."""
        with self._lock:
            self._stopped = True
            self._live = False
            ongoing: list[Transfer] = [*self._uploads.values(), *self._downloads.values()]
            for transfer in ongoing:
                self._fail(transfer, TransferError.STOPPED, texts.STOPPED)

    # -- uploads ------------------------------------------------------------------------------

    def _send(self, core: proto.ClientProtocol, backlog: int) -> None:
        opened = sum(1 for u in self._uploads.values() if u.opened and not u.complete)
        for upload in list(self._uploads.values()):
            if not upload.opened:
                if opened >= MAX_UPLOADS:
                    continue
                core.open_file(upload.file_id, upload.count, upload.stored_size)
                upload.opened = upload.announced = True
                opened += 1
                continue
            while (
                upload.ready
                and upload.next < upload.count
                and upload.next - upload.have < MAX_PUTS_AHEAD
                and backlog < MAX_BACKLOG
            ):
                try:
                    sealed = upload.sealed_chunk(upload.next)
                except ChunkReadError as exc:
                    self._fail(upload, TransferError.IO, str(exc))
                    break
                core.put_file_chunk(upload.file_id, upload.next, sealed)
                upload.next += 1
                backlog += len(sealed)

    def _upload_state(self, upload: Upload, code: FileCode | int, have: int) -> None:
        if code != FileCode.OK:
            reason, detail = _FAILURES.get(code, (TransferError.IO, texts.unknown_code(code)))
            self._fail(upload, reason, detail, refused=True)
            return
        upload.relay_has(have)
        if not upload.complete:
            self._progress(upload)
            return
        try:
            offer = upload.offer()
        except ChunkReadError as exc:
            self._fail(upload, TransferError.IO, str(exc))
            return
        message = PendingMessage(
            text=offer.name,
            message_id=upload.message_id,
            timestamp_ms=self._client.now_ms(),
            content_type=ContentType.FILE.value,
            body=encode_file_offer(offer),
        )
        try:
            self._client.queue_offer(message, private_to=upload.private_to)
        except ClientStopped:
            self._fail(upload, TransferError.STOPPED, texts.STOPPED)
            return
        except ValueError as exc:  # the outbox is full, the member is no longer known
            self._fail(upload, TransferError.IO, str(exc))
            return
        self._forget(upload)
        upload.close()
        self._progress(upload, force=True)
        self._emit(
            ce.TransferFinished(
                transfer_id=upload.transfer_id,
                message_id=upload.message_id,
                name=upload.name,
                path=upload.path,
                upload=True,
            )
        )

    # -- downloads ----------------------------------------------------------------------------

    def _ask(self, core: proto.ClientProtocol) -> None:
        if not self._live:
            return
        in_flight = sum(self._draining.values()) + sum(
            d.asked - d.received for d in self._downloads.values()
        )
        for download in self._downloads.values():
            if download.file_id in self._draining:
                continue  # the relay still answers a cancelled download of the same file
            left = download.asked - download.received
            want = min(MAX_GET_CHUNKS - in_flight, download.count - download.asked)
            if left > _ASK_AGAIN or want <= 0:
                continue
            core.get_file_chunks(download.file_id, download.asked, want)
            download.asked += want
            in_flight += want

    def _download_state(self, download: Download, code: FileCode | int, have: int) -> None:
        if code == FileCode.OK:
            if have >= download.count:
                return  # nothing lost: the chunks asked for come (or came) as FILE_DATA
            self._fail(download, TransferError.GONE, texts.INCOMPLETE)
            return
        reason, detail = _FAILURES.get(code, (TransferError.GONE, texts.unknown_code(code)))
        if reason is not TransferError.FILES_OFF:
            reason = TransferError.GONE  # the relay refuses to serve it: for us, it is gone
        self._fail(download, reason, detail)

    def _finish_download(self, download: Download) -> None:
        try:
            download.finish()
        except DownloadError as exc:
            self._fail(download, exc.reason, exc.detail)
            return
        self._forget(download)
        self._progress(download, force=True)
        self._emit(
            ce.TransferFinished(
                transfer_id=download.transfer_id,
                message_id=download.message_id,
                name=download.name,
                path=download.dest,
                upload=False,
            )
        )

    # -- both ---------------------------------------------------------------------------------

    def _fail(
        self, transfer: Transfer, reason: TransferError, detail: str, *, refused: bool = False
    ) -> None:
        """End ``transfer`` without its file (under the lock): clean up, say why.
        ``refused``: the relay refused the upload, so it holds nothing of it to drop."""
        upload = isinstance(transfer, Upload)
        self._forget(transfer)
        if isinstance(transfer, Upload):
            transfer.close()
            if transfer.announced and not refused and not self._stopped:
                self._drops.append(transfer.file_id)  # free what the relay holds of it
        else:
            transfer.discard()
            left = transfer.asked - transfer.received
            if self._live and left > 0:
                self._draining[transfer.file_id] = left
        self._emit(
            ce.TransferFailed(
                transfer_id=transfer.transfer_id,
                message_id=transfer.message_id,
                name=transfer.name,
                reason=reason,
                detail=detail,
                upload=upload,
            )
        )

    def _forget(self, transfer: Transfer) -> None:
        self._uploads.pop(transfer.transfer_id, None)
        self._downloads.pop(transfer.transfer_id, None)
        if self._by_file.get(transfer.file_id) is transfer:
            del self._by_file[transfer.file_id]

    def _progress(self, transfer: Transfer, *, force: bool = False) -> None:
        done = transfer.done_bytes
        now = self._client.clock()
        if done == transfer.reported or (
            not force and now - transfer.last_progress < PROGRESS_EVERY
        ):
            return
        transfer.last_progress, transfer.reported = now, done
        self._emit(
            ce.TransferProgress(
                transfer_id=transfer.transfer_id,
                message_id=transfer.message_id,
                name=transfer.name,
                done_bytes=done,
                total_bytes=transfer.size,
                upload=isinstance(transfer, Upload),
            )
        )

    def _emit(self, event: ce.ClientEvent) -> None:
        self._client.emit(event)
