"""Local history in the whole app, on real Tk (Xvfb) with a real Secret Service (GNOME Keyring
on a private bus) holding the history's key, a real SQLite archive in the test's folder and
real relays on 127.0.0.1: reopening shows past conversations, Ctrl+F finds in the room and in
all rooms and jumps, Export… writes the room, Forget this room deletes it all, and the setting
turns history off."""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import tkinter as tk
from pathlib import Path

import pytest

from crypto.kdf import derive_room_keys
from gui.app import App
from gui.exporting import ExportDialog
from gui.history import FILE_NAME
from gui.saved import keychain_name
from net.client.archive import Archive
from net.client.export import ExportFormat
from net.client.keychain import Keychain
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.gui.apptest import PASSWORD, chat_text, log_in, start_relay_process, wait_for
from tests.gui.conftest import CHEAP, TIMEOUT, pump_until
from tests.net.keychain_support import secret_service_fixture  # noqa: F401


def _relay(keys) -> RelayThread:
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    relay.port = relay.start()
    return relay


class Apps:
    """New apps on new roots, all sharing the test's settings, data and keyring."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.roots: list[tk.Tk] = []
        self.questions: list[str] = []

    def new(self) -> App:
        root = tk.Tk(className="socketchat")
        root.geometry("1150x640+0+0")
        self.roots.append(root)

        def confirm(title: str, _text: str, _button: str) -> bool:
            self.questions.append(title)
            return True

        app = App(
            root,
            settings_dir=self.folder / "settings",
            data_dir=self.folder / "data",
            kdf_cost=CHEAP,
            confirm=confirm,
            system_dark=lambda: None,
            keychain=Keychain.open,
        )
        return app

    def close(self) -> None:
        for root in self.roots:
            with contextlib.suppress(tk.TclError):
                root.destroy()
        # Here, on the main thread: Tk variables collected on a worker thread raise.
        gc.collect()


@pytest.fixture
def apps(secret_service, tmp_path):
    made = Apps(tmp_path)
    yield made
    made.close()


def _join(app: App, port: int, password: str = PASSWORD, *, remember: bool = True) -> None:
    if app.login is None:
        app.show_login()
    assert app.login is not None
    app.login.remember.set(remember)
    before = len(app.rooms)
    log_in(app, port, "alice", password=password)
    pump_until(
        app.root,
        lambda: len(app.rooms) > before and app.chat is not None and app.chat.connected,
        what="joined",
    )


def _kept(path: Path, key: bytes, room_id: bytes) -> list[str]:
    with Archive.open(path, key) as archive:
        return [message.text for message in archive.latest(room_id, 1000)]


def test_history_search_export_and_forget(apps, tmp_path, keys, members):
    other_keys = derive_room_keys("the other room's password", room_id=os.urandom(16), n=CHEAP)
    first, second = _relay(keys), _relay(other_keys)
    try:
        app = apps.new()
        pump_until(app.root, lambda: app.history is not None, what="the history's key")
        history_file = tmp_path / "data" / FILE_NAME
        assert stat.S_IMODE(history_file.stat().st_mode) == 0o600
        key = Keychain.open().local_key()
        _join(app, first.port)
        room = app.current
        assert room is not None
        bob, _ = members(first.port, "bob", keys)
        pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
        bob.send("the quick brown fox")
        pump_until(app.root, lambda: "quick brown fox" in chat_text(app), what="bob's line")
        room.chat.entry.insert("1.0", "a reply about the FOX")
        assert room.chat.send_entry()
        wait_for(lambda: len(_kept(history_file, key, keys.room_id)) == 2, "both kept on disk")
        assert b"quick brown fox" not in history_file.read_bytes(), "sealed at rest"

        # Ctrl+F in the compose box: this room, case-insensitive; Enter on a match jumps.
        chat = room.chat
        chat.entry.focus_force()
        pump_until(app.root, lambda: app.root.focus_get() is chat.entry, what="focus")
        chat.entry.event_generate("<Control-f>")
        panel = app.search_panel
        assert panel is not None
        pump_until(app.root, lambda: panel.winfo_ismapped(), what="the search panel")
        pump_until(app.root, lambda: app.root.focus_get() is panel.entry, what="the box")
        panel.query.set("fox")
        panel.run()
        assert [hit.message.text for hit in panel.hits] == [
            "a reply about the FOX",
            "the quick brown fox",
        ]
        panel.results.selection_clear(0, "end")
        panel.results.selection_set(1)
        panel.choose()
        lit = chat.messages.text.tag_ranges("found")
        assert lit and "quick brown fox" in chat.messages.text.get(lit[0], lit[1])

        # A second room; All rooms finds in both, and a match there switches to it.
        _join(app, second.port, "the other room's password")
        other = app.current
        other.chat.entry.insert("1.0", "a fox in the other room")
        assert other.chat.send_entry()
        wait_for(lambda: _kept(history_file, key, other_keys.room_id), "kept there too")
        app.choose_room(room.token)
        app.open_search()
        panel = app.search_panel
        panel.query.set("fox")
        panel.all_rooms.set(True)
        panel.run()
        assert {hit.label for hit in panel.hits} == {room.label, other.label}
        assert panel.results.get(0).startswith(f"{other.label} · alice · ")
        panel.results.selection_set(0)
        panel.choose()
        assert app.current is other
        lit = other.chat.messages.text.tag_ranges("found")
        assert lit and "a fox in the other room" in other.chat.messages.text.get(lit[0], lit[1])

        # Export… from the room's menu.
        app.choose_room(room.token)
        menu = app.room_menu(room.token)
        labels = [
            menu.entrycget(i, "label")
            for i in range(menu.index("end") + 1)
            if menu.type(i) == "command"
        ]
        assert "Export…" in labels and "Forget this room…" in labels
        dialog = app.export_room(room)
        assert isinstance(dialog, ExportDialog)
        dialog.path.set(str(tmp_path / "room.html"))
        dialog.fmt.set(ExportFormat.HTML.value)
        dialog.ok()
        page = (tmp_path / "room.html").read_text("utf-8")
        assert "the quick brown fox" in page and "a reply about the FOX" in page
        assert "a fox in the other room" not in page
        app.close()

        # Reopened: the remembered room shows where the conversation left off at once.
        app = apps.new()
        pump_until(app.root, lambda: app.history is not None, what="the history again")
        shown = app.current
        assert shown is not None and shown.label == room.label
        pump_until(app.root, lambda: "the quick brown fox" in chat_text(app), what="kept lines")
        assert chat_text(app).count("the quick brown fox") == 1
        pump_until(app.root, lambda: app.chat.connected, what="joined again")
        assert chat_text(app).count("the quick brown fox") == 1, "the relay's copy adds nothing"

        # Forget this room…: asked first, then its history and its keys are gone.
        app.ask_forget(shown)
        assert apps.questions[-1] == "Forget this room?"
        assert shown not in app.rooms
        assert _kept(history_file, key, keys.room_id) == []
        wait_for(lambda: Keychain.open().get(keychain_name(keys.room_id)) is None, "its keys gone")
        assert _kept(history_file, key, other_keys.room_id), "other rooms keep theirs"
        app.close()
    finally:
        first.stop()
        second.stop()


def test_history_turned_off_keeps_nothing_new(apps, tmp_path, keys, members):
    relay = _relay(keys)
    try:
        app = apps.new()
        pump_until(app.root, lambda: app.history is not None, what="the history's key")
        app.keep_history.set(False)  # View → Keep history on this device
        _join(app, relay.port, remember=False)
        bob, _ = members(relay.port, "bob", keys)
        bob.send("not for keeping")
        pump_until(app.root, lambda: "not for keeping" in chat_text(app), what="the line")
        assert app.current.client is not None and app.history_actions.archive_opener() is None
        app.close()
        key = Keychain.open().local_key()
        assert _kept(tmp_path / "data" / FILE_NAME, key, keys.room_id) == []

        app = apps.new()
        app.root.update()
        assert app.keep_history.get() is False
        app.show_login()
        _join(app, relay.port, remember=False)
        app.open_search()
        panel = app.search_panel
        assert panel is not None and panel.entry.instate(["disabled"])
        assert "keeps no history" in panel.status.get()
        app.close()
    finally:
        relay.stop()


def test_a_message_typed_offline_is_sent_when_the_room_opens_next_time(
    apps, tmp_path, keys, members
):
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    try:
        app = apps.new()
        pump_until(app.root, lambda: app.history is not None, what="the history's key")
        _join(app, port)
        chat = app.chat
        process.kill()
        process.wait(TIMEOUT)
        pump_until(app.root, lambda: not chat.connected, what="the loss")
        chat.entry.insert("1.0", "written on the train")
        assert chat.send_entry()
        answers: list[str] = []
        app.confirm = lambda title, text, button: answers.append(text) or True
        app.request_close()
        assert app.closed
        assert answers == [
            "1 message you wrote has not reached the room yet. It stays on this device and is "
            "sent the next time you open the room."
        ]

        process, _ = start_relay_process(room_file, port)
        _bob, bob_events = members(port, "bob", keys)
        app = apps.new()  # the remembered room opens by itself, and sends what was kept
        pump_until(
            app.root, lambda: "written on the train" in bob_events.texts(), what="bob reads it"
        )
        pump_until(app.root, lambda: app.chat is not None and app.chat.connected, what="in")
        pump_until(app.root, lambda: "sending…" not in chat_text(app), what="sent")
        assert chat_text(app).count("written on the train") == 1
        assert bob_events.texts().count("written on the train") == 1
        app.close()
    finally:
        process.kill()
        process.wait(TIMEOUT)
