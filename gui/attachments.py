"""Files and pictures in the conversation: each one a card in its message, from the first byte
sent to "Saved to …".

- **Sending** (:meth:`Attachments.send`, from ``gui/file_sending.py``): the file shows at once
  as our own message with a card: its name, size, a progress bar and **Cancel**. When the
  relay holds all of it the client sends the offer; the card becomes the file message (its
  echo adds nothing). Our own pictures are previewed from the file we sent.
- **Receiving** (:meth:`Attachments.received`, a ``MessageReceived`` whose content is a
  ``FileContent``): a card with the name (``safe_name``), size and kind, and **Save…**. Save…
  asks first for a file that runs programs (Cancel is the default), then opens a save dialog
  in the Downloads folder proposing the safe name; the download shows its progress and
  Cancel, then "Saved to …" and **Show in folder**, which opens the folder, never the file.
  The client writes a ``.part`` file next to the destination while it downloads, and gives
  the file its name only once it is complete and its SHA-256 matched.
- **Pictures** (``file_text.is_picture``): fetched by themselves into the picture cache
  (``gui/picture_fetch.py``), decoded in a worker with ``gui/pictures.py`` and shown above
  the card; a picture refused (too large, a decompression bomb, damaged, not a picture) shows
  the reason instead. Save… copies the cached file.

Nothing received is ever opened or run. Transfer events come from the room's client through
the app's pump to the chat window, which hands them here (:meth:`Attachments.handle`); only the
Tk thread calls this. ``files`` is what the room's current client offers (:class:`FileActions`).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog
from typing import TYPE_CHECKING, Protocol

from gui import file_text as words
from gui.dialogs import ConfirmDialog
from gui.file_rows import FileRow, Tone
from gui.folders import show_in_folder
from gui.picture_fetch import Decoded, PreviewDecoder, cache_folder, cached_path
from gui.pictures import PREVIEW_SIDE, photo_image
from gui.pump import EventPump
from net import client as ce
from net.client import FileOffer, is_executable, media_type_for, safe_name, sealed_size, unique_path

if TYPE_CHECKING:
    from gui.chat import ChatWindow

MAX_PREVIEWS = 60  # decoded previews kept in memory at once; older ones give theirs back
MAX_PICTURE_FETCHES = 2  # pictures fetched by themselves at once (the rest wait their turn)


class FileActions(Protocol):
    """What the chat window asks of its room's client for files (``ChatClient`` has it all).
    Each call returns at once; ``ValueError`` says why it cannot be done now."""

    @property
    def max_file_bytes(self) -> int | None: ...

    def send_file(self, path: Path, *, private_to: bytes | None = None) -> bytes: ...

    def download(self, offer_message_id: bytes, dest: Path) -> bytes: ...

    def cancel_transfer(self, transfer_id: bytes) -> None: ...


@dataclass(eq=False)
class _Card:
    """A file in the conversation: its card and where it stands."""

    row: FileRow
    name: str
    size: int
    offer: FileOffer | None = None  # None while our own upload is under way
    message_id: bytes | None = None
    transfer: bytes | None = None  # the upload, the Save… download, or the picture fetch
    fetching: bool = False  # ``transfer`` fetches the picture into the cache
    picture: Path | None = None  # the picture's file on this device, once there
    saving_to: Path | None = None
    local: Path | None = None  # our own upload: the file sent
    fetch_to: Path | None = None  # the picture's place in the cache, while fetched


class Attachments:
    """Made once by the chat window."""

    def __init__(
        self,
        chat: ChatWindow,
        files: FileActions | None,
        *,
        cache: Path | None = None,
        open_folder: Callable[[Path], None] = show_in_folder,
    ) -> None:
        self._chat = chat
        self.files = files
        self._cache = cache
        self._open_folder = open_folder
        self.cards: dict[bytes, _Card] = {}  # by message id (file messages shown)
        self.transfers: dict[bytes, _Card] = {}  # by transfer id (under way)
        self._previews: list[_Card] = []  # oldest first, at most MAX_PREVIEWS
        self._fetch_queue: list[_Card] = []
        self._decoder = PreviewDecoder(chat, self._decoded, max_side=PREVIEW_SIDE, cache=None)
        self._copies = EventPump(chat, self._copied)  # Save… of a cached picture (a worker)

    # -- sending ----------------------------------------------------------------------------

    def send(self, path: Path, *, private_to: bytes | None = None) -> str | None:
        """Send the file at ``path`` (checked by ``gui/file_sending.py``): a card with its
        progress at the end of the conversation. Returns why not, or None."""
        chat = self._chat
        if self.files is None:
            return "Files cannot be sent from here."
        try:
            size = path.stat().st_size
            transfer = self.files.send_file(path, private_to=private_to)
        except OSError as error:
            return f"Could not read {path.name}: {error.strerror or error}"
        except ValueError as error:
            return str(error)
        name = path.name
        row = self._row(name, words.file_line_for(name, size, media_type_for(path)))
        card = _Card(row=row, name=name, size=size, transfer=transfer, local=path)
        self.transfers[transfer] = card
        row.show_progress(0.0)
        row.show_status(words.progress_text(0, size, upload=True))
        row.show_buttons([(words.CANCEL, lambda: self.cancel(card))])
        mine = chat.identity.signing_public if chat.identity is not None else b""
        now_ms = int(time.time() * 1000)
        # The transfer id stands for the message until the offer is sent (never a message id).
        chat.messages.add_message(
            chat.username, name, now_ms, own=True, message_id=transfer, sender_key=mine
        )
        chat.messages.embed_in_message(transfer, row)
        chat.messages.follow_next()
        chat.messages.flush()
        chat.messages.update_idletasks()  # the card laid out: the end is below it
        chat.messages.scroll_to_end()
        if words.is_picture_type(media_type_for(path)) and size <= words.MAX_PREVIEW_BYTES:
            card.picture = path
            self._decoder.decode(transfer, path)
        return None

    def cancel(self, card: _Card) -> None:
        """Cancel on a card: the client stops the transfer (TransferFailed follows)."""
        if card.transfer is not None and self.files is not None:
            self.files.cancel_transfer(card.transfer)

    # -- receiving --------------------------------------------------------------------------

    def received(self, event: ce.MessageReceived, offer: FileOffer, *, changed: bool) -> bool:
        """A file message (ours included): its card, with Save…; a picture is fetched. Returns
        whether it was shown now (not a repeat, not our own upload's echo)."""
        chat = self._chat
        if event.message_id in self.cards:
            return False
        if event.own and self._adopt(event.message_id, offer):
            return False
        shown = chat.messages.add_message(
            event.sender,
            event.text,
            event.timestamp_ms,
            own=event.own,
            from_history=event.from_history,
            message_id=event.message_id,
            sender_key=event.sender_key,
            changed=changed,
        )
        if not shown:
            return False
        row = self._row(offer.name, words.file_line(offer), offer=offer)
        card = _Card(row=row, name=offer.name, size=offer.size, offer=offer)
        card.message_id = event.message_id
        self.cards[event.message_id] = card
        chat.messages.embed_in_message(event.message_id, row)
        self._offer_save(card)
        if words.is_picture(offer):
            self._fetch_picture(card)
        return True

    def _adopt(self, message_id: bytes, offer: FileOffer) -> bool:
        """Our own offer came back: the card of the upload it ends becomes its message."""
        for card in self.transfers.values():
            if card.local is not None and card.message_id == message_id:
                break
        else:
            return False
        self._sent(card, message_id, offer)
        return True

    def _sent(self, card: _Card, message_id: bytes, offer: FileOffer | None) -> None:
        card.message_id = message_id
        if offer is not None:
            card.offer = offer
        self.cards[message_id] = card
        card.row.show_progress(None)
        card.row.show_status("")
        card.row.show_buttons([])

    # -- Save… -------------------------------------------------------------------------------

    def save(self, card: _Card) -> None:
        """Save… on a card: a program asks first; then the save dialog."""
        offer = card.offer
        if offer is None:
            return
        if is_executable(offer.name, offer.media_type):
            heading, text = words.executable_warning(offer.name)
            self._chat.close_dialog()
            self._chat.dialog = ConfirmDialog(
                self._chat,
                title="Save a program?",
                heading=heading,
                text=text,
                confirm="Save anyway",
                on_done=lambda yes: self._choose_place(card) if yes else None,
            )
            return
        self._choose_place(card)

    def _choose_place(self, card: _Card) -> None:
        offer, message_id = card.offer, card.message_id
        if offer is None or message_id is None:
            return
        folder = words.downloads_folder()
        chosen = filedialog.asksaveasfilename(
            parent=self._chat,
            title="Save file",
            initialdir=str(folder),
            initialfile=safe_name(offer.name),
            confirmoverwrite=False,  # never replaced: a file already there gets " (2)"
        )
        if not chosen:
            return
        dest = Path(chosen)
        if dest.exists() or dest.is_symlink():
            dest = unique_path(dest.parent, dest.name)
        card.saving_to = dest
        if card.picture is not None and card.picture.is_file():
            self._copy_picture(card, card.picture, dest)
            return
        if card.transfer is not None and card.fetching:
            card.row.show_status("Wait for the picture to arrive, then save it.")
            return
        try:
            transfer = self._files().download(message_id, dest)
        except (ValueError, OSError) as error:
            card.row.show_status(str(error), "warning")
            return
        card.transfer, card.fetching = transfer, False
        self.transfers[transfer] = card
        card.row.show_progress(0.0)
        card.row.show_status(words.progress_text(0, offer.size, upload=False))
        card.row.show_buttons([(words.CANCEL, lambda: self.cancel(card))])

    def _copy_picture(self, card: _Card, source: Path, dest: Path) -> None:
        # A worker copies (up to 10 MB); the outcome comes back through the copy pump.
        def work() -> None:
            try:
                with source.open("rb") as reading, dest.open("xb") as writing:
                    shutil.copyfileobj(reading, writing)
                self._copies.put((card, dest, ""))
            except OSError as error:
                self._copies.put((card, dest, error.strerror or str(error)))

        card.row.show_status("Saving…")
        self._copies.start()
        threading.Thread(target=work, name="socketchat-save-copy", daemon=True).start()

    def _copied(self, outcome: tuple[_Card, Path, str]) -> None:
        card, dest, problem = outcome
        self._copies.stop()
        if not card.row.winfo_exists():
            return
        with self._kept_in_view():
            if problem:
                card.row.show_status(f"Could not write the file: {problem}", "warning")
            else:
                self._saved(card, dest)

    def _saved(self, card: _Card, path: Path) -> None:
        card.saving_to = path
        card.row.show_progress(None)
        card.row.show_status(words.saved_text(path), "good")
        card.row.show_buttons(
            [
                (words.SHOW_IN_FOLDER, lambda: self._open_folder(path)),
                (words.SAVE, lambda: self.save(card)),
            ]
        )

    def _offer_save(self, card: _Card, *, gone: bool = False) -> None:
        card.row.show_progress(None)
        card.row.show_buttons([] if gone else [(words.SAVE, lambda: self.save(card))])

    # -- pictures ----------------------------------------------------------------------------

    def _fetch_picture(self, card: _Card) -> None:
        offer, message_id = card.offer, card.message_id
        if offer is None or message_id is None:
            return
        folder = self._picture_folder()
        path = cached_path(folder, offer.sha256)
        if path.is_file() and path.stat().st_size == offer.size:
            card.picture = path
            self._decoder.decode(message_id, path)
            return
        if sum(1 for c in self.transfers.values() if c.fetching) >= MAX_PICTURE_FETCHES:
            self._fetch_queue.append(card)
            return
        stale = path.with_name(path.name + ".part")  # left by a run that stopped mid-way
        if not any(c.fetch_to == path for c in self.transfers.values()):
            stale.unlink(missing_ok=True)
        try:
            transfer = self._files().download(message_id, path)
        except (ValueError, OSError) as error:
            card.row.show_no_picture(str(error))
            return
        card.transfer, card.fetching, card.fetch_to = transfer, True, path
        self.transfers[transfer] = card
        card.row.show_status("Loading the picture…")

    def _next_fetch(self) -> None:
        while self._fetch_queue:
            card = self._fetch_queue.pop(0)
            if card.row.winfo_exists():
                self._fetch_picture(card)
                return

    def _picture_folder(self) -> Path:
        if self._cache is None:
            self._cache = cache_folder()
        return self._cache

    def _decoded(self, decoded: Decoded) -> None:
        card = self.cards.get(decoded.key) or self.transfers.get(decoded.key)
        if card is None or not card.row.winfo_exists():
            return
        if decoded.preview is None:
            with self._kept_in_view():
                card.row.show_no_picture(decoded.refused)
            return
        with self._kept_in_view():
            card.row.show_picture(photo_image(decoded.preview, card.row))
        self._previews.append(card)
        if len(self._previews) > MAX_PREVIEWS:
            old = self._previews.pop(0)
            if old.row.winfo_exists():
                old.row.show_no_picture("hidden to save memory (Save… keeps it)")

    # -- transfer events ---------------------------------------------------------------------

    def has(self, transfer_id: bytes) -> bool:
        """Whether ``transfer_id`` is a transfer of this window's (under way)."""
        return transfer_id in self.transfers

    def handle(self, event: ce.TransferProgress | ce.TransferFinished | ce.TransferFailed) -> None:
        """A transfer event of this room's client (on the Tk thread, from the pump)."""
        card = self.transfers.get(event.transfer_id)
        if card is None:
            return  # another window's, or one this window no longer shows
        with self._kept_in_view():
            self._transfer_event(card, event)

    def _transfer_event(
        self, card: _Card, event: ce.TransferProgress | ce.TransferFinished | ce.TransferFailed
    ) -> None:
        row = card.row
        match event:
            case ce.TransferProgress(done_bytes=done, total_bytes=total, upload=upload):
                if upload and event.message_id:
                    card.message_id = event.message_id  # the offer's, should its echo come first
                if card.fetching:
                    return
                row.show_progress(done / total if total else 1.0)
                row.show_status(words.progress_text(done, total, upload=upload))
            case ce.TransferFinished():
                self._finished(card, event)
            case ce.TransferFailed():
                self._failed(card, event)

    def _finished(self, card: _Card, event: ce.TransferFinished) -> None:
        del self.transfers[event.transfer_id]
        card.transfer = None
        if event.upload:
            card.message_id = event.message_id
            self._sent(card, event.message_id, card.offer)
            return
        if card.fetching:
            card.fetching, card.fetch_to = False, None
            card.row.show_status("")
            card.picture = event.path
            if event.path is not None and card.message_id is not None:
                self._decoder.decode(card.message_id, event.path)
            self._next_fetch()
            return
        if event.path is not None:
            self._saved(card, event.path)

    def _failed(self, card: _Card, event: ce.TransferFailed) -> None:
        del self.transfers[event.transfer_id]
        card.transfer = None
        cancelled = event.reason is ce.TransferError.CANCELLED
        text = words.failure_text(event.reason, upload=event.upload, detail=event.detail)
        tone: Tone = "muted" if cancelled else "warning"
        gone = event.reason is ce.TransferError.GONE
        if event.upload:
            card.row.show_progress(None)
            card.row.show_buttons([])
            card.row.show_status(f"Not sent. {text}", tone)
            return
        if card.fetching:
            card.fetching, card.fetch_to = False, None
            card.row.show_no_picture(text)
            card.row.show_status("")
            self._offer_save(card, gone=gone)
            self._next_fetch()
            return
        card.row.show_status(text, tone)
        self._offer_save(card, gone=gone)

    # -- helpers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _kept_in_view(self) -> Iterator[None]:
        """A card changes its size: a list that showed its newest message still does."""
        messages = self._chat.messages
        following = messages.at_end()
        yield
        if following:
            messages.update_idletasks()
            messages.scroll_to_end()

    def _files(self) -> FileActions:
        if self.files is None:
            raise ValueError("Files cannot be saved from here.")
        return self.files

    def _row(self, name: str, detail: str, *, offer: FileOffer | None = None) -> FileRow:
        program = offer is not None and is_executable(offer.name, offer.media_type)
        return FileRow(
            self._chat.messages.text,
            palette=self._chat.palette,
            name=words.shown_name(name),
            detail=detail,
            program=program,
        )

    def apply_palette(self) -> None:
        for card in {*self.cards.values(), *self.transfers.values()}:
            if card.row.winfo_exists():
                card.row.apply_palette(self._chat.palette)

    def stop(self) -> None:
        """The window goes: outcomes still on their way are dropped."""
        self._decoder.stop()
        self._copies.stop()


class RoomFiles:
    """:class:`FileActions` of a room: handed to its current client (``client()``), which
    changes at each Rejoin; ``ValueError`` while it has none."""

    def __init__(self, client: Callable[[], FileActions | None]) -> None:
        self._client = client

    def _current(self) -> FileActions:
        client = self._client()
        if client is None:
            raise ValueError("You are not in the room right now: reconnect first.")
        return client

    @property
    def max_file_bytes(self) -> int | None:
        client = self._client()
        return client.max_file_bytes if client is not None else None

    def send_file(self, path: Path, *, private_to: bytes | None = None) -> bytes:
        return self._current().send_file(path, private_to=private_to)

    def download(self, offer_message_id: bytes, dest: Path) -> bytes:
        return self._current().download(offer_message_id, dest)

    def cancel_transfer(self, transfer_id: bytes) -> None:
        client = self._client()
        if client is not None:
            client.cancel_transfer(transfer_id)


def size_problem(path: Path, limit: int | None) -> str | None:
    """Why the file at ``path`` cannot be sent to a room that takes files up to ``limit``
    bytes as stored on the relay (sealed: ``net.proto.sealed_size``; 0: no files; None: not
    joined yet), or None. Checked before anything is sent."""
    try:
        size = path.stat().st_size
    except OSError as error:
        return f"Could not read {path.name}: {error.strerror or error}"
    if not path.is_file():
        return f"{path.name} is not a file."
    if limit is None:
        return "Not in the room yet: wait until it is joined."
    if limit <= 0 or sealed_size(size) > limit:
        return words.too_large_text(path.name, size, limit)
    return None
