"""Files and pictures in a chat window on real Tk, fed with the client's real event objects and
a recording stand-in for the client's file calls (send_file, download, cancel_transfer): the
Send a file… button and Ctrl+O, the room's limit, the cards of sending and receiving, Save…
(its warning for programs, its dialog, progress, Cancel, Saved to …, Show in folder), picture
previews and their refusals, failures in words, paste and drop. The whole app against real
relays and real clients is in test_files_e2e.py."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
import tkinter as tk
from pathlib import Path

import pytest
from PIL import Image

from gui import file_text as words
from gui.chat import ChatWindow
from gui.dialogs import ConfirmDialog
from gui.file_sending import enable_drop
from net.client import events as ce
from net.client.events import TransferError
from net.proto import FileOffer
from tests.gui.conftest import identity_of, joined, members_of, pump_until, text_of

BOB = identity_of("bob")


class Files:
    """Stands in for the room's client's file calls: records them, answers with new ids."""

    def __init__(self, limit: int | None = 100_000_000) -> None:
        self.max_file_bytes = limit
        self.sent: list[tuple[Path, bytes | None]] = []
        self.downloads: list[tuple[bytes, Path]] = []
        self.cancelled: list[bytes] = []
        self.ids: list[bytes] = []

    def _id(self) -> bytes:
        self.ids.append(os.urandom(16))
        return self.ids[-1]

    def send_file(self, path: Path, *, private_to: bytes | None = None) -> bytes:
        self.sent.append((path, private_to))
        return self._id()

    def download(self, offer_message_id: bytes, dest: Path) -> bytes:
        self.downloads.append((offer_message_id, dest))
        return self._id()

    def cancel_transfer(self, transfer_id: bytes) -> None:
        self.cancelled.append(transfer_id)


@pytest.fixture
def files() -> Files:
    return Files()


@pytest.fixture
def chat(root, files, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "Downloads").mkdir(parents=True)
    window = ChatWindow(
        root, room="example.org:7777", username="alice", members=members_of("alice", "bob"),
        send=lambda _text: None, files=files,
    )  # fmt: skip
    window.attachments._cache = tmp_path / "pictures"
    window.attachments._cache.mkdir()
    window.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    window.handle(joined("alice", "bob"))
    root.update()
    return window


def offer(name: str, size: int, media_type: str, data: bytes = b"") -> FileOffer:
    import hashlib

    digest = hashlib.sha256(data).digest() if data else os.urandom(32)
    return FileOffer(
        file_id=os.urandom(16), file_key=os.urandom(32), size=size, sha256=digest,
        name=name, media_type=media_type, width=0, height=0,
    )  # fmt: skip


def receive(chat: ChatWindow, file: FileOffer, *, sender: str = "bob") -> bytes:
    message_id = os.urandom(16)
    chat.handle(
        ce.MessageReceived(
            sender=sender, text=file.name, message_id=message_id,
            timestamp_ms=int(time.time() * 1000), from_history=False, own=False,
            sender_key=identity_of(sender).signing_public, content=ce.FileContent(offer=file),
        )
    )  # fmt: skip
    chat.flush()
    chat.update()
    return message_id


def png_bytes(width: int = 64, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 140, 90)).save(out, format="PNG")
    return out.getvalue()


def card_of(chat: ChatWindow, message_id: bytes):
    return chat.attachments.cards[message_id]


# -- sending ---------------------------------------------------------------------------------


def test_send_a_file_button_sends_the_chosen_file_with_a_card_that_becomes_the_message(
    chat, files, tmp_path, monkeypatch
):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"x" * 5000)
    monkeypatch.setattr("tkinter.filedialog.askopenfilename", lambda **_: str(path))
    assert chat.file_sending.button.cget("text") == words.SEND_FILE
    chat.file_sending.button.invoke()
    assert files.sent == [(path, None)]
    transfer = files.ids[-1]
    card = chat.attachments.transfers[transfer]
    assert card.row.name_label.cget("text") == "notes.txt"
    assert list(card.row.buttons) == [words.CANCEL]
    offer_id = os.urandom(16)
    chat.handle(
        ce.TransferProgress(
            transfer_id=transfer, message_id=offer_id, name="notes.txt", done_bytes=2500,
            total_bytes=5000, upload=True,
        )
    )  # fmt: skip
    chat.update()
    assert card.row.bar.winfo_ismapped() and float(card.row.bar.cget("value")) == 0.5
    assert card.row.status == "Sending… 2.5 kB of 5.0 kB"
    chat.handle(
        ce.TransferFinished(
            transfer_id=transfer, message_id=offer_id, name="notes.txt", path=path, upload=True
        )
    )
    chat.update()
    assert not card.row.buttons and not card.row.bar.winfo_ismapped()
    # Its echo is the same message: nothing more is shown.
    before = text_of(chat.messages.text)
    sent = offer("notes.txt", 5000, "text/plain")
    chat.handle(
        ce.MessageReceived(
            sender="alice", text="notes.txt", message_id=offer_id, timestamp_ms=1, own=True,
            from_history=False, content=ce.FileContent(offer=sent),
        )
    )  # fmt: skip
    assert text_of(chat.messages.text) == before
    assert chat.attachments.cards[offer_id] is card


def test_ctrl_o_opens_the_file_dialog_from_the_compose_box(chat, files, tmp_path, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr("tkinter.filedialog.askopenfilename", lambda **kw: asked.append(kw) or "")
    chat.entry.focus_force()
    chat.update()
    chat.entry.event_generate("<Control-o>")
    chat.update()
    assert len(asked) == 1 and files.sent == []  # the dialog was cancelled: nothing sent
    assert text_of(chat.entry) == ""  # Ctrl+O did not open a line in the box


def test_a_file_over_the_rooms_limit_is_refused_before_anything_is_sent(chat, files, tmp_path):
    files.max_file_bytes = 10_000
    path = tmp_path / "big.bin"
    path.write_bytes(b"\0" * 20_000)
    assert not chat.file_sending.send_path(path)
    assert files.sent == []
    assert chat.limit_text.get() == (
        "big.bin is 20.0 kB: this room takes files up to 10.0 kB. Nothing was sent."
    )
    files.max_file_bytes = 0
    assert not chat.file_sending.send_path(path)
    assert "does not take files" in chat.limit_text.get() and files.sent == []


def test_cancel_an_upload_says_not_sent(chat, files, tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF" * 100)
    assert chat.file_sending.send_path(path)
    transfer = files.ids[-1]
    card = chat.attachments.transfers[transfer]
    card.row.buttons[words.CANCEL].invoke()
    assert files.cancelled == [transfer]
    chat.handle(
        ce.TransferFailed(
            transfer_id=transfer, message_id=b"", name="a.pdf", reason=TransferError.CANCELLED,
            detail="", upload=True,
        )
    )  # fmt: skip
    assert card.row.status == "Not sent. Cancelled." and not card.row.buttons


# -- receiving and Save… ---------------------------------------------------------------------


def test_a_received_file_shows_name_size_kind_and_saves_where_chosen(
    chat, files, tmp_path, monkeypatch
):
    opened: list[Path] = []
    chat.attachments._open_folder = opened.append
    message_id = receive(chat, offer("report.pdf", 1_234_567, "application/pdf"))
    card = card_of(chat, message_id)
    assert card.row.name_label.cget("text") == "report.pdf"
    assert card.row.detail == "1.2 MB · PDF document"
    assert list(card.row.buttons) == [words.SAVE]
    asked: list[dict] = []

    def save_dialog(**options):
        asked.append(options)
        return os.path.join(options["initialdir"], options["initialfile"])

    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", save_dialog)
    card.row.buttons[words.SAVE].invoke()
    downloads = tmp_path / "home" / "Downloads"
    assert asked[0]["initialdir"] == str(downloads) and asked[0]["initialfile"] == "report.pdf"
    assert files.downloads == [(message_id, downloads / "report.pdf")]
    transfer = files.ids[-1]
    assert list(card.row.buttons) == [words.CANCEL]
    chat.handle(
        ce.TransferProgress(
            transfer_id=transfer, message_id=message_id, name="report.pdf", done_bytes=617_000,
            total_bytes=1_234_567, upload=False,
        )
    )  # fmt: skip
    assert card.row.status == "Downloading… 617 kB of 1.2 MB"
    chat.handle(
        ce.TransferFinished(
            transfer_id=transfer, message_id=message_id, name="report.pdf",
            path=downloads / "report.pdf", upload=False,
        )
    )  # fmt: skip
    assert card.row.status == f"Saved to {downloads / 'report.pdf'}"
    assert list(card.row.buttons) == [words.SHOW_IN_FOLDER, words.SAVE]
    card.row.buttons[words.SHOW_IN_FOLDER].invoke()
    assert opened == [downloads / "report.pdf"]


def test_a_name_already_taken_is_saved_beside_it_never_over_it(chat, files, tmp_path, monkeypatch):
    taken = tmp_path / "home" / "Downloads" / "report.pdf"
    taken.write_text("mine")
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", lambda **_: str(taken))
    message_id = receive(chat, offer("report.pdf", 10, "application/pdf"))
    card_of(chat, message_id).row.buttons[words.SAVE].invoke()
    assert files.downloads == [(message_id, taken.with_name("report (2).pdf"))]
    assert taken.read_text() == "mine"


def test_a_hostile_name_is_shown_and_proposed_safe(chat, files, monkeypatch):
    proposed: list[str] = []
    monkeypatch.setattr(
        "tkinter.filedialog.asksaveasfilename",
        lambda **kw: proposed.append(kw["initialfile"]) or "",
    )
    message_id = receive(chat, offer("../../.bashrc\u202etxt.png", 10, "text/plain"))
    card = card_of(chat, message_id)
    shown = card.row.name_label.cget("text")
    assert "/" not in shown and "\u202e" not in shown and not shown.startswith(".")
    card.row.buttons[words.SAVE].invoke()
    assert proposed == [shown] and files.downloads == []


def test_saving_a_program_asks_first_with_cancel_as_the_default(chat, files, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", lambda **kw: asked.append(kw) or "")
    message_id = receive(chat, offer("setup.exe", 5_000_000, "application/x-msdownload"))
    card = card_of(chat, message_id)
    assert card.row.detail == "5.0 MB · program"
    card.row.buttons[words.SAVE].invoke()
    dialog = chat.dialog
    assert isinstance(dialog, ConfirmDialog) and dialog.heading_text == "This file is a program"
    chat.update()
    assert dialog.focus_get() is dialog.cancel_button
    dialog.event_generate("<Return>")  # Enter: the default, Cancel
    chat.update()
    assert asked == [] and files.downloads == []
    card.row.buttons[words.SAVE].invoke()
    chat.dialog.confirm_button.invoke()
    assert len(asked) == 1


def test_cancel_a_download_and_failures_in_plain_words(chat, files, tmp_path, monkeypatch):
    dest = tmp_path / "home" / "Downloads" / "movie.mp4"
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", lambda **_: str(dest))
    message_id = receive(chat, offer("movie.mp4", 50_000_000, "video/mp4"))
    card = card_of(chat, message_id)
    for reason, said in (
        (TransferError.CANCELLED, "Cancelled."),
        (TransferError.CORRUPT, "It arrived damaged or changed on the way, so it was not saved."),
        (TransferError.GONE, "No longer on the relay: ask for it to be sent again."),
    ):
        card.row.buttons[words.SAVE].invoke()
        transfer = files.ids[-1]
        if reason is TransferError.CANCELLED:
            card.row.buttons[words.CANCEL].invoke()
            assert files.cancelled == [transfer]
        chat.handle(
            ce.TransferFailed(
                transfer_id=transfer, message_id=message_id, name="movie.mp4", reason=reason,
                detail="", upload=False,
            )
        )  # fmt: skip
        assert card.row.status == said
    assert card.row.buttons == {}  # gone from the relay: nothing left to save


def test_ctrl_o_from_the_conversation_and_member_list(chat, files, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr("tkinter.filedialog.askopenfilename", lambda **kw: asked.append(kw) or "")
    for widget in (chat.messages.text, chat.member_list):
        widget.focus_force()
        chat.update()
        widget.event_generate("<Control-o>")
        chat.update()
    assert len(asked) == 2 and files.sent == []


def test_tab_reaches_an_uploads_cancel_and_space_presses_it(chat, files, tmp_path):
    path = tmp_path / "slides.odp"
    path.write_bytes(b"odp" * 1000)
    assert chat.file_sending.send_path(path)
    chat.update()
    chat.messages.text.focus_force()
    chat.update()
    chat.messages.text.event_generate("<Tab>")
    chat.update()
    cancel = chat.attachments.transfers[files.ids[-1]].row.buttons[words.CANCEL]
    assert chat.focus_get() is cancel
    cancel.event_generate("<space>")
    chat.update()
    assert files.cancelled == [files.ids[-1]]


def test_tab_from_the_conversation_reaches_save(chat):
    message_id = receive(chat, offer("report.pdf", 10, "application/pdf"))
    chat.messages.text.focus_force()
    chat.update()
    chat.messages.text.event_generate("<Tab>")
    chat.update()
    assert chat.focus_get() is card_of(chat, message_id).row.buttons[words.SAVE]


# -- pictures -----------------------------------------------------------------------------------


def _fetched(chat: ChatWindow, files: Files, message_id: bytes, data: bytes) -> None:
    """Do what the client does for a picture fetch: write the checked file, say so."""
    (asked_id, dest) = files.downloads[-1]
    assert asked_id == message_id and dest.parent == chat.attachments._cache
    dest.write_bytes(data)
    chat.handle(
        ce.TransferFinished(
            transfer_id=files.ids[-1], message_id=message_id, name=dest.name, path=dest,
            upload=False,
        )
    )  # fmt: skip


def test_a_picture_is_fetched_by_itself_and_previewed(chat, files, root):
    data = png_bytes(640, 400)
    message_id = receive(chat, offer("cat.png", len(data), "image/png", data))
    card = card_of(chat, message_id)
    assert files.downloads[-1][1].name == card.offer.sha256.hex()
    _fetched(chat, files, message_id, data)
    pump_until(root, lambda: card.row.photo is not None, what="the preview")
    assert card.row.preview.winfo_ismapped()
    assert (card.row.photo.width(), card.row.photo.height()) == (360, 225)
    assert list(card.row.buttons) == [words.SAVE]
    # The same picture again: from the cache, not fetched twice.
    again = receive(chat, offer("cat again.png", len(data), "image/png", data))
    pump_until(root, lambda: card_of(chat, again).row.photo is not None, what="the second")
    assert len(files.downloads) == 1


@pytest.mark.parametrize(
    ("picture", "reason"),
    [
        (lambda: png_bytes(20_000, 20_000), "the picture is too large to show"),
        (lambda: png_bytes()[:60], "the picture is damaged or incomplete"),
        (lambda: b"MZ" + b"\0" * 200, "this is not a PNG, JPEG, GIF or WebP picture"),
    ],
    ids=["bomb", "cut-short", "not-a-picture"],
)
def test_a_refused_picture_shows_why_in_place_of_the_preview(chat, files, root, picture, reason):
    data = picture()
    message_id = receive(chat, offer("pic.png", len(data), "image/png", data))
    card = card_of(chat, message_id)
    _fetched(chat, files, message_id, data)
    pump_until(root, lambda: bool(card.row.preview.cget("text")), what="the refusal")
    assert card.row.preview.cget("text") == f"No preview: {reason}"
    assert card.row.photo is None and list(card.row.buttons) == [words.SAVE]


def test_a_picture_gone_from_the_relay_says_so(chat, files):
    message_id = receive(chat, offer("old.jpg", 1000, "image/jpeg"))
    card = card_of(chat, message_id)
    chat.handle(
        ce.TransferFailed(
            transfer_id=files.ids[-1], message_id=message_id, name="x", reason=TransferError.GONE,
            detail="", upload=False,
        )
    )  # fmt: skip
    assert card.row.preview.cget("text") == (
        "No preview: No longer on the relay: ask for it to be sent again."
    )


def test_a_large_picture_is_not_fetched_by_itself(chat, files):
    receive(chat, offer("huge.png", 11_000_000, "image/png"))
    assert files.downloads == []


def test_saving_a_fetched_picture_copies_it(chat, files, root, tmp_path, monkeypatch):
    data = png_bytes()
    message_id = receive(chat, offer("cat.png", len(data), "image/png", data))
    _fetched(chat, files, message_id, data)
    dest = tmp_path / "home" / "Downloads" / "cat.png"
    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", lambda **_: str(dest))
    card = card_of(chat, message_id)
    card.row.buttons[words.SAVE].invoke()
    pump_until(root, lambda: card.row.status.startswith("Saved to"), what="the copy")
    assert dest.read_bytes() == data and len(files.downloads) == 1


# -- paste and drop -------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("xclip") is None, reason="xclip puts a picture on the clipboard")
def test_pasting_a_picture_asks_then_sends_it_as_png(chat, files, root, tmp_path):
    picture = tmp_path / "clip.png"
    picture.write_bytes(png_bytes(50, 30))
    owner = subprocess.Popen(
        ["xclip", "-selection", "clipboard", "-t", "image/png", "-i", str(picture)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.3)  # xclip takes the clipboard, then waits to serve it
        chat.entry.event_generate("<<Paste>>")
        pump_until(root, lambda: chat.file_sending.question is not None, what="the question")
        assert "50 × 30 picture" in chat.file_sending.question.body_text
        chat.file_sending.question.confirm_button.invoke()
        ((sent, _to),) = files.sent
        assert sent.suffix == ".png" and Image.open(sent).size == (50, 30)
        assert text_of(chat.entry) == ""
    finally:
        owner.kill()


def test_pasting_text_still_pastes_text(chat, files, root):
    root.clipboard_clear()
    root.clipboard_append("plain words")
    chat.entry.event_generate("<<Paste>>")
    chat.update()
    assert text_of(chat.entry) == "plain words" and files.sent == []


def test_dropped_files_are_sent(chat, files, tmp_path):
    """A drop through tkdnd's own XDND target code: what a file manager does on X11 (enter,
    position, drop, then the drop target reads the XdndSelection as ``text/uri-list``), with
    this window owning the selection as the drag source would."""
    first, second = tmp_path / "one.txt", tmp_path / "two words.txt"
    first.write_text("1")
    second.write_text("2")
    assert chat.file_sending.drop_enabled
    uris = f"file://{first}\r\nfile://{str(second).replace(' ', '%20')}\r\n"
    source = tk.Frame(chat)
    serve = chat.register(lambda offset, size: uris[int(offset) : int(offset) + int(size)])
    call = chat.tk.call
    call("selection", "handle", "-selection", "XdndSelection", "-type", "text/uri-list",
         source, serve)  # fmt: skip
    call("selection", "own", "-selection", "XdndSelection", source)
    target = chat.messages.text
    x, y = target.winfo_rootx() + 40, target.winfo_rooty() + 40
    assert call("tkdnd::xdnd::HandleXdndEnter", target, source.winfo_id(), ("text/uri-list",), 0)
    assert call("tkdnd::xdnd::HandleXdndPosition", target, x, y, 0, source.winfo_id()) == "copy"
    assert call("tkdnd::xdnd::HandleXdndDrop", 0) == "copy"
    assert [path for path, _ in files.sent] == [first, second]


def test_drop_registration_is_skipped_without_tkdnd(root, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tkdnd(name, *args, **kwargs):
        if name.startswith("tkinterdnd2"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tkdnd)
    assert enable_drop([tk.Text(root)], lambda _paths: None) is False
