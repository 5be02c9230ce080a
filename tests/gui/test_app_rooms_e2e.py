"""Many rooms in one window, the whole app on real Tk (Xvfb) with real relays on 127.0.0.1 and
real clients: two rooms joined and one hosted at once, unread counts, Ctrl+K; remembered rooms
kept in a real Secret Service (GNOME Keyring on a private bus, ``tests/net/keychain_support``)
and opened again by a new app without the password; no keyring at all."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tkinter as tk

import pytest

from crypto.kdf import derive_room_keys
from gui.app import App
from gui.roomlist import JumpDialog, RoomState
from gui.saved import keychain_name
from net.client.keychain import Keychain, KeychainUnavailable
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.gui.apptest import PASSWORD, chat_text, free_port, log_in, wait_for
from tests.gui.conftest import CHEAP, TIMEOUT, pump_until
from tests.gui.test_app_e2e import open_host_dialog
from tests.net.keychain_support import secret_service_fixture  # noqa: F401

OTHER_PASSWORD = "another room, another password"


@pytest.fixture
def second_keys():
    return derive_room_keys(OTHER_PASSWORD, room_id=os.urandom(16), n=CHEAP)


def _relay(keys) -> RelayThread:
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    relay.port = relay.start()
    return relay


def _join(app: App, port: int, *, password: str = PASSWORD, remember: bool = False) -> None:
    if app.login is None:
        app.show_login()
    assert app.login is not None
    app.login.remember.set(remember)
    log_in(app, port, "alice", password=password)
    before = len(app.rooms)
    pump_until(
        app.root,
        lambda: len(app.rooms) > before and app.chat is not None and app.chat.connected,
        what="joined",
    )


def _labels(app: App) -> list[str]:
    tree = app.room_list.tree
    return [str(tree.item(item, "values")[0]) for item in tree.get_children()]


def test_two_rooms_joined_and_one_hosted_in_one_window(make_app, root, keys, second_keys, members):
    first, second = _relay(keys), _relay(second_keys)
    try:
        app = make_app()
        assert not app.room_list.winfo_ismapped(), "no list before there is a room"
        _join(app, first.port)
        room_a = app.current
        root.update()
        assert app.room_list.winfo_ismapped()
        app.room_list.new_button.invoke()  # Join or host a room…
        assert app.current is None and app.login is not None
        _join(app, second.port, password=OTHER_PASSWORD)
        room_b = app.current
        app.room_list.new_button.invoke()
        dialog = open_host_dialog(app, free_port(), "alice")
        dialog.ok()
        pump_until(root, lambda: len(app.rooms) == 3 and app.chat is not None, what="hosting")
        room_c = app.current
        assert room_c is not None and room_c.relay is not None
        root.update()
        assert _labels(app) == [
            f"127.0.0.1:{first.port}",
            f"127.0.0.1:{second.port}",
            f"Your room · port {room_c.port}",
        ]
        assert app.room_list.selected() == room_c.token
        # One client per room; only the current room's conversation is shown.
        clients = {room.client for room in (room_a, room_b, room_c)}
        assert len(clients) == 3 and None not in clients
        assert room_c.chat.winfo_ismapped()
        assert not room_a.chat.winfo_ismapped() and not room_b.chat.winfo_ismapped()
        assert first.stats().members == ("alice",) and second.stats().members == ("alice",)

        # A message in a room not shown: its row counts it, in bold.
        bob, _bob_events = members(first.port, "bob", keys)
        pump_until(root, lambda: "bob joined the room." in chat_text_of(room_a), what="bob")
        bob.send("are you there?")
        pump_until(root, lambda: room_a.chat.unread == 1, what="the unread count")
        item = str(room_a.token)
        assert str(app.room_list.tree.item(item, "values")[1]) == "1"
        assert "unread" in app.room_list.tree.item(item, "tags")
        assert room_c.chat.unread == 0

        # Choosing it shows it and clears the count.
        app.room_list.tree.selection_set(item)
        pump_until(root, lambda: app.current is room_a, what="the switch")
        root.update()
        assert room_a.chat.winfo_ismapped() and not room_c.chat.winfo_ismapped()
        assert room_a.chat.unread == 0
        assert "unread" not in app.room_list.tree.item(item, "tags")
        assert root.title() == f"SocketChat — alice in 127.0.0.1:{first.port}"

        # Ctrl+K from the compose box, type part of a name, Enter: there.
        room_c.invite.destroy()  # the hosted room's invite panel, open since it started
        room_a.chat.entry.focus_force()
        pump_until(root, lambda: root.focus_get() is room_a.chat.entry, what="focus")
        room_a.chat.entry.event_generate("<Control-k>")
        jump = app.jump
        assert isinstance(jump, JumpDialog) and room_a.chat.entry.get("1.0", "end-1c") == ""
        jump.typed.set("your")
        pump_until(root, lambda: root.focus_get() is jump.entry, what="the box's focus")
        jump.entry.event_generate("<Return>")
        assert app.current is room_c
        root.update()
        assert root.focus_get() is room_c.chat.entry

        # Rename… (the room's menu): the list and the header follow; Enter in the dialog.
        dialog = app.ask_rename(room_b)
        root.update()
        assert dialog.value.get() == f"127.0.0.1:{second.port}"
        dialog.value.set("  Book   club ")
        dialog.yes()
        assert room_b.label == "Book club" and _labels(app)[1] == "Book club"
        assert room_b.chat.title_label.cget("text") == "Book club"

        # Sending goes through each room's own client.
        room_c.chat.entry.insert("1.0", "hosted hello")
        assert room_c.chat.send_entry()
        pump_until(root, lambda: "sending…" not in chat_text_of(room_c), what="sent")
        assert "hosted hello" not in chat_text_of(room_a)
    finally:
        first.stop()
        second.stop()


def _gone(chain: Keychain, name: str) -> bool:
    try:
        return chain.get(name) is None
    except KeychainUnavailable:  # read while the app's thread deletes it: look again
        return False


def chat_text_of(room) -> str:
    return room.chat.messages.text.get("1.0", "end-1c")


def test_remembered_rooms_open_again_from_the_keyring_without_the_password(
    secret_service, tmp_path, keys, members
):
    relay = _relay(keys)
    opened: list[tk.Tk] = []

    def new_app() -> App:
        root = tk.Tk(className="socketchat")
        opened.append(root)
        return App(
            root,
            settings_dir=tmp_path / "settings",
            data_dir=tmp_path / "data",
            kdf_cost=CHEAP,
            confirm=lambda *_: True,
            system_dark=lambda: None,
            keychain=Keychain.open,
        )

    try:
        app = new_app()
        pump_until(app.root, lambda: app.memory_available is True, what="the keyring")
        assert app.login is not None and app.login.remember_button.winfo_ismapped()
        _join(app, relay.port, remember=True)
        room = app.current
        assert room is not None and room.remembered
        chain = Keychain.open()
        wait_for(lambda: chain.get(keychain_name(keys.room_id)) is not None, "the record")
        record = chain.get(keychain_name(keys.room_id))
        assert record is not None and PASSWORD.encode() not in record
        assert keys.access.hex().encode() in record  # the keys, not the password
        index = (tmp_path / "settings" / "rooms.json").read_text("utf-8")
        assert keys.access.hex() not in index and PASSWORD not in index
        assert json.loads(index)[0]["room_id"] == keys.room_id.hex()
        app.close()

        # A new start: the room is listed at once, then opened with the keyring's keys.
        app = new_app()
        assert [room.label for room in app.rooms] == [f"127.0.0.1:{relay.port}"]
        assert app.current is app.rooms[0] and app.chat is not None
        assert app.chat.connection.text.get() == "Connecting…"
        pump_until(app.root, lambda: app.chat.connected, what="joined again", timeout=TIMEOUT)
        room = app.current
        assert room.request is None and room.client is not None
        assert room.client._password is None, "joined with the remembered keys alone"
        bob, _ = members(relay.port, "bob", keys)
        bob.send("welcome back")
        pump_until(app.root, lambda: "welcome back" in chat_text(app), what="bob's message")

        # Forgetting it removes the record; the open room stays open.
        menu = app.room_menu(room.token)
        labels = [
            menu.entrycget(i, "label")
            for i in range(menu.index("end") + 1)
            if menu.type(i) == "command"
        ]
        assert "Do not remember this room" in labels
        app.forget_room(room)
        wait_for(lambda: _gone(chain, keychain_name(keys.room_id)), "the record gone")
        assert json.loads((tmp_path / "settings" / "rooms.json").read_text("utf-8")) == []
        assert room in app.rooms and room.state is RoomState.JOINED
        app.close()
    finally:
        relay.stop()
        for root in opened:
            with contextlib.suppress(tk.TclError):
                root.destroy()
        gc.collect()  # on the main thread: Tk variables collected elsewhere raise


def test_without_a_keyring_the_app_says_so_and_remembers_nothing(make_app, root, tmp_path, relay):
    def no_keyring() -> Keychain:
        raise KeychainUnavailable("no keyring service is running or installed")

    app = make_app(keychain=no_keyring)
    pump_until(root, lambda: app.memory_available is False, what="the keyring's answer")
    login = app.login
    assert login is not None
    assert login.remember_note.get() == (
        "No keyring is available on this computer (no keyring service is running or "
        "installed). SocketChat remembers nothing secret."
    )
    assert login.remember_button.instate(["disabled"]) and not login.remember.get()
    _join(app, relay.port)
    room = app.current
    assert room is not None and not room.remembered
    assert not app.remember_room(room)
    assert not (tmp_path / "settings" / "rooms.json").exists()
    menu = app.room_menu(room.token)
    remember = next(
        i
        for i in range(menu.index("end") + 1)
        if menu.type(i) == "command" and menu.entrycget(i, "label") == "Remember this room"
    )
    assert menu.entrycget(remember, "state") == "disabled"


def test_a_remembered_room_without_its_keys_asks_for_the_password(make_app, root, tmp_path, keys):
    from gui.saved import SavedRoom, save_index

    room = SavedRoom("chat.example.org", 7001, "alice", "Book club", keys)
    save_index([room.entry()], tmp_path / "settings")

    def no_keyring() -> Keychain:
        raise KeychainUnavailable("no keyring service is running or installed")

    app = make_app(keychain=no_keyring)
    # Listed at once, from rooms.json; the window shows it while the keyring is asked.
    assert _labels(app) == ["… Book club"] and app.current is app.rooms[0]
    pump_until(root, lambda: app.memory_available is False, what="the keyring's answer")
    root.update()
    assert _labels(app) == ["○ Book club"] and app.rooms[0].state is RoomState.CLOSED
    assert app.current is None and app.login is not None and app.rooms[0].chat is None
    fields = app.login.vars
    assert (fields["host"].get(), fields["port"].get(), fields["username"].get()) == (
        "chat.example.org",
        "7001",
        "alice",
    )
    assert fields["password"].get() == ""
    assert app.login.failure.get().startswith("No keyring is available on this computer (")
    assert app.login.failure.get().endswith("Type the room password to open this room again.")
