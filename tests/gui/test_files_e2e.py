"""Files and pictures through the whole app on real Tk (Xvfb), a real relay on 127.0.0.1 and a
real second member (``bob``, a :class:`net.client.ChatClient` with an identity of its own).

Only the system's file dialogs are replaced (``tkinter.filedialog``): what the person picks
there is what the test says; everything after it is the app's own path. The widgets with
the client's events alone are in test_files.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from gui import file_text as words
from net.client import events as ce
from net.client.events import TransferError
from tests.gui.apptest import chat_text, log_in, wait_for
from tests.gui.conftest import pump_until


@pytest.fixture
def room(make_app, relay, keys, members, tmp_path, monkeypatch):
    """alice's app and bob's client in one room; returns (app, bob, bob's events)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "Downloads").mkdir(parents=True)
    app = make_app()
    log_in(app, relay.port, "alice")
    pump_until(app.root, lambda: app.chat is not None, what="the chat window")
    app.chat.attachments._cache = tmp_path / "pictures"
    app.chat.attachments._cache.mkdir()
    bob, events = members(relay.port, "bob", keys)
    pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
    return app, bob, events


def _offers(events) -> list[ce.MessageReceived]:
    with events._lock:
        return [
            e
            for e in events.events
            if isinstance(e, ce.MessageReceived) and isinstance(e.content, ce.FileContent)
        ]


def _bob_sends(app, bob, path: Path):
    """bob sends ``path``; returns alice's card of it once it is on her screen."""
    bob.send_file(path)
    pump_until(
        app.root,
        lambda: any(c.offer and c.offer.size == path.stat().st_size for c in _cards(app)),
        what=f"{path.name} in alice's conversation",
    )
    return next(c for c in _cards(app) if c.offer and c.offer.size == path.stat().st_size)


def _cards(app):
    return list(app.chat.attachments.cards.values())


def _save_as_proposed(monkeypatch) -> list[dict]:
    """The save dialog answers with what it proposes: the safe name in its folder."""
    asked: list[dict] = []

    def dialog(**options):
        asked.append(options)
        return os.path.join(options["initialdir"], options["initialfile"])

    monkeypatch.setattr("tkinter.filedialog.asksaveasfilename", dialog)
    return asked


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, format="PNG")
    return out.getvalue()


def _claims_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header announces ``width`` × ``height`` (a bomb's header; CRC fixed)."""
    header = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + header + struct.pack(">I", zlib.crc32(header)) + png[33:]


def test_a_file_sent_with_the_button_arrives_and_bob_can_save_it(room, tmp_path, monkeypatch):
    app, bob, events = room
    data = os.urandom(150_000)  # three chunks
    path = tmp_path / "notes.bin"
    path.write_bytes(data)
    monkeypatch.setattr("tkinter.filedialog.askopenfilename", lambda **_: str(path))
    app.chat.file_sending.button.invoke()
    wait_for(lambda: _offers(events), "bob to get the offer")
    pump_until(app.root, lambda: not app.chat.attachments.transfers, what="the upload to end here")
    card = _cards(app)[0]
    assert not card.row.buttons and not card.row.bar.winfo_ismapped()
    offer = _offers(events)[0]
    assert offer.content.offer.name == "notes.bin" and offer.content.offer.size == len(data)
    saved = tmp_path / "bob-saved.bin"
    bob.download(offer.message_id, saved)
    wait_for(lambda: events.has(ce.TransferFinished, upload=False), "bob's download")
    assert saved.read_bytes() == data


def test_a_received_file_is_saved_with_save_and_its_bytes_match(room, tmp_path, monkeypatch):
    app, bob, _events = room
    data = os.urandom(200_000)
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    card = _bob_sends(app, bob, path)
    assert card.row.detail == "200 kB · PDF document"
    assert list(card.row.buttons) == [words.SAVE]
    opened: list[Path] = []
    app.chat.attachments._open_folder = opened.append
    _save_as_proposed(monkeypatch)
    card.row.buttons[words.SAVE].invoke()
    pump_until(app.root, lambda: card.row.status.startswith("Saved to"), what="the save")
    dest = tmp_path / "home" / "Downloads" / "report.pdf"
    assert dest.read_bytes() == data
    assert not dest.with_name("report.pdf.part").exists()
    card.row.buttons[words.SHOW_IN_FOLDER].invoke()
    assert opened == [dest]


def test_a_path_traversal_name_is_saved_inside_the_chosen_folder(room, tmp_path, monkeypatch):
    app, bob, _events = room
    # Backslashes are ordinary in a Linux file name, and the offer carries the name as sent.
    path = tmp_path / "..\\..\\..\\escaped.txt"
    path.write_bytes(b"where am I")
    card = _bob_sends(app, bob, path)
    assert card.row.name_label.cget("text") == "escaped.txt"
    asked = _save_as_proposed(monkeypatch)
    card.row.buttons[words.SAVE].invoke()
    pump_until(app.root, lambda: card.row.status.startswith("Saved to"), what="the save")
    downloads = tmp_path / "home" / "Downloads"
    assert asked[0]["initialfile"] == "escaped.txt"
    assert (downloads / "escaped.txt").read_bytes() == b"where am I"
    assert [p.name for p in tmp_path.rglob("escaped.txt")] == ["escaped.txt"]


def test_a_program_asks_before_the_save_dialog(room, tmp_path, monkeypatch):
    app, bob, _events = room
    path = tmp_path / "invoice.pdf.exe"
    path.write_bytes(b"MZ" + os.urandom(1000))
    card = _bob_sends(app, bob, path)
    assert card.row.detail.endswith("· program")
    asked = _save_as_proposed(monkeypatch)
    card.row.buttons[words.SAVE].invoke()
    assert asked == [] and app.chat.dialog is not None
    assert app.chat.dialog.heading_text == "This file is a program"
    app.chat.dialog.cancel_button.invoke()
    assert asked == [] and not app.chat.attachments.transfers


def test_a_picture_is_previewed_without_asking(room, tmp_path):
    app, bob, _events = room
    path = tmp_path / "sunset.png"
    path.write_bytes(_png(900, 600))
    card = _bob_sends(app, bob, path)
    pump_until(app.root, lambda: card.row.photo is not None, what="the preview")
    assert (card.row.photo.width(), card.row.photo.height()) == (360, 240)
    cached = app.chat.attachments._cache / hashlib.sha256(path.read_bytes()).hexdigest()
    assert cached.read_bytes() == path.read_bytes()
    assert not (tmp_path / "home" / "Downloads" / "sunset.png").exists()  # nothing saved


def test_a_picture_bomb_shows_its_refusal(room, tmp_path):
    app, bob, _events = room
    path = tmp_path / "bomb.png"
    path.write_bytes(_claims_size(_png(8, 8), 100_000, 100_000))
    card = _bob_sends(app, bob, path)
    pump_until(app.root, lambda: bool(card.row.preview.cget("text")), what="the refusal")
    assert card.row.preview.cget("text") == "No preview: the picture is too large to show"
    assert card.row.photo is None


def test_cancel_an_upload_and_a_download(room, tmp_path, monkeypatch):
    app, bob, events = room
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5_000_000))
    assert app.chat.file_sending.send_path(big)
    (card,) = app.chat.attachments.transfers.values()
    card.row.buttons[words.CANCEL].invoke()
    pump_until(app.root, lambda: card.row.status.startswith("Not sent"), what="the cancel")
    assert card.row.status == "Not sent. Cancelled."
    # bob's file, saved and cancelled at once: nothing is left behind.
    theirs = tmp_path / "theirs.zip"
    theirs.write_bytes(os.urandom(5_000_000))
    received = _bob_sends(app, bob, theirs)
    _save_as_proposed(monkeypatch)
    received.row.buttons[words.SAVE].invoke()
    assert list(received.row.buttons) == [words.CANCEL]
    received.row.buttons[words.CANCEL].invoke()
    pump_until(app.root, lambda: received.row.status == "Cancelled.", what="the cancel")
    assert list(received.row.buttons) == [words.SAVE]
    downloads = tmp_path / "home" / "Downloads"
    assert list(downloads.iterdir()) == []
    assert not any(
        isinstance(e, ce.MessageReceived) and e.text == "big.bin" for e in list(events.events)
    )


def test_a_file_over_the_rooms_limit_is_refused_before_sending(room, tmp_path):
    app, _bob, _events = room
    limit = app.chat.attachments.files.max_file_bytes
    assert limit == 100 * 1024 * 1024  # the relay's default
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as out:
        out.truncate(limit + 1)
    assert not app.chat.file_sending.send_path(huge)
    assert app.chat.limit_text.get() == (
        "huge.bin is 104,857,601 bytes: this room takes files up to 104,792,080 bytes. "
        "Nothing was sent."
    )
    assert not app.chat.attachments.transfers


def test_failure_words_cover_every_reason():
    for reason in TransferError:
        assert words.failure_text(reason, upload=False) != "It did not work."


def test_received_pictures_last_one_run_of_the_app(make_app, relay, keys, members, tmp_path):
    # Pictures are decrypted in their cache: an earlier run's are gone when this run first
    # uses it, and this run's when the app quits (the local history is what lasts).
    from gui.picture_fetch import CACHE_FOLDER
    from net.client import data_dir

    cache = data_dir() / CACHE_FOLDER  # the tests' own data folder (SOCKETCHAT_DATA_DIR)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ("ab" * 32)).write_bytes(b"a picture from an earlier run")
    app = make_app()
    log_in(app, relay.port, "alice")
    pump_until(app.root, lambda: app.chat is not None, what="the chat window")
    bob, _events = members(relay.port, "bob", keys)
    pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
    path = tmp_path / "sunset.png"
    path.write_bytes(_png(300, 200))
    card = _bob_sends(app, bob, path)
    pump_until(app.root, lambda: card.row.photo is not None, what="the preview")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sorted(p.name for p in cache.iterdir()) == [digest]  # the leftover went first
    app.close()
    assert list(cache.iterdir()) == []
