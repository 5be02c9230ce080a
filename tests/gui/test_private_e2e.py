"""Private conversations and replies in the whole app, on real Tk (Xvfb) with a real relay on
127.0.0.1 and real members (bob and carol: real clients): Message privately from the member
menu (mouse and keyboard), a private message reaching only its one recipient, the room list's
row and its unread count, a private message notifying in a muted room, Ctrl+K, a reply from
the conversation's menu with its quote on both sides, a member who left, and private
conversations coming back from the local history after a restart."""

from __future__ import annotations

import contextlib
import gc
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from gui.app import App
from gui.chat import ChatWindow
from gui.chat_private import PeerState, private_title
from gui.member_commands import MESSAGE_PRIVATELY
from gui.notify import DesktopNotifications
from gui.roomlist import JumpDialog, row_text
from net.client import MessageReceived, ReplyContent
from net.client.keychain import Keychain
from net.relay import RoomSecret
from tests.gui.apptest import chat_text, log_in, quiet, start_relay_process
from tests.gui.conftest import CHEAP, TIMEOUT, pump_until, text_of
from tests.net.keychain_support import secret_service_fixture  # noqa: F401


def _join(app: App, port: int) -> None:
    log_in(app, port, "alice")
    pump_until(app.root, lambda: app.chat is not None and app.chat.connected, what="joined")


def _labels(app: App) -> list[str]:
    tree = app.room_list.tree
    return [str(tree.item(item, "values")[0]) for item in tree.get_children()]


def _unread(app: App, token: int) -> str:
    return str(app.room_list.tree.item(str(token), "values")[1])


def _select(chat: ChatWindow, name: str) -> None:
    index = next(i for i, member in enumerate(chat.rows) if member.name == name)
    chat.member_list.selection_clear(0, "end")
    chat.member_list.selection_set(index)
    chat.member_events.selection_changed()


def _commands(menu) -> list[str]:
    return [
        menu.entrycget(i, "label")
        for i in range(menu.index("end") + 1)
        if menu.type(i) == "command"
    ]


def _private_texts(recorder, peer: bytes) -> list[str]:
    return [
        e.text
        for e in list(recorder.events)
        if isinstance(e, MessageReceived) and e.private_with == peer
    ]


def _all_texts(recorder) -> list[str]:
    return [e.text for e in list(recorder.events) if isinstance(e, MessageReceived)]


def test_a_private_conversation_from_the_member_menu_reaches_only_that_member(
    make_app, root, relay, keys, members
):
    looking = [True]
    app = make_app(is_focused=lambda: looking[0])
    _join(app, relay.port)
    room = app.current
    assert room is not None and room.chat is not None
    bob, bob_events = members(relay.port, "bob", keys)
    carol, carol_events = members(relay.port, "carol", keys)
    pump_until(root, lambda: len(room.chat.members) == 3, what="bob and carol")
    alice_key = app.identity.signing_public

    # Message privately, from bob's menu in the member list.
    _select(room.chat, "bob")
    menu = room.chat.build_member_menu()
    labels = _commands(menu)
    assert labels[:2] == [MESSAGE_PRIVATELY, "Verify bob…"]
    menu.invoke(labels.index(MESSAGE_PRIVATELY))
    root.update()
    private = room.privates[bob.identity.signing_public]
    chat = private.chat
    assert chat is not None and app.chat is chat and room.view is private
    assert chat.winfo_ismapped() and not room.chat.winfo_ismapped()
    pump_until(root, lambda: root.focus_get() is chat.entry, what="the private compose box")
    assert _labels(app) == [f"127.0.0.1:{relay.port}", "    bob (private)"]
    assert app.room_list.selected() == private.token
    assert chat.title_label.cget("text") == private_title("bob")
    assert "end to end between you and bob" in chat.encryption.get()
    assert chat.private_view.state is PeerState.NOT_VERIFIED
    assert not chat.member_panel.winfo_ismapped() and not chat.mute_button.winfo_ismapped()

    # Sent there, it reaches bob alone: carol receives the box but never sees it.
    chat.entry.insert("1.0", "just between us")
    chat.entry.event_generate("<Return>")
    pump_until(root, lambda: "sending…" not in text_of(chat.messages.text), what="stored")
    assert "just between us" in text_of(chat.messages.text)
    pump_until(
        root,
        lambda: _private_texts(bob_events, alice_key) == ["just between us"],
        what="bob's private message",
    )
    room.chat.entry.insert("1.0", "hello everyone")
    assert room.chat.send_entry()
    pump_until(root, lambda: "hello everyone" in _all_texts(carol_events), what="carol's line")
    assert "just between us" not in _all_texts(carol_events)
    assert "just between us" not in chat_text_of(room.chat)
    assert "hello everyone" not in text_of(chat.messages.text)

    # Bob answers privately while alice reads the room: the private row counts it.
    app.choose_room(room.token)
    looking[0] = False
    bob.send_private(alice_key, "sure, see you at 7")
    pump_until(root, lambda: "see you at 7" in text_of(chat.messages.text), what="bob's answer")
    root.update()
    assert chat.unread == 1 and room.chat.unread == 0
    assert _unread(app, private.token) == "1" and _unread(app, room.token) == ""
    assert "unread" in app.room_list.tree.item(str(private.token), "tags")
    assert "see you at 7" not in chat_text_of(room.chat)
    assert chat.notified[-1] == ("bob (private)", "sure, see you at 7")

    # Muted room: a message in the room stays quiet, a private one still notifies.
    room.muted.set(True)
    before = len(room.chat.notified)
    carol.send("something for everyone")
    pump_until(root, lambda: "for everyone" in chat_text_of(room.chat), what="carol's message")
    assert len(room.chat.notified) == before and room.chat.unread == 1
    bob.send_private(alice_key, "are you coming?")
    pump_until(root, lambda: chat.unread == 2, what="the second private message")
    assert chat.notified[-1] == ("bob (private)", "are you coming?")

    # Choosing the row shows it and clears its count.
    looking[0] = True
    app.room_list.tree.selection_set(str(private.token))
    pump_until(root, lambda: app.chat is chat, what="the switch")
    root.update()
    assert chat.unread == 0 and _unread(app, private.token) == ""

    # A private reply, from the conversation's menu: bob gets it with its quote.
    spot = chat.messages.text.search("are you coming", "1.0")
    menu = chat.messages.build_menu(spot)
    menu.invoke(_commands(menu).index("Reply"))
    root.update()
    assert chat.reply_bar.text.get() == "Replying to bob: are you coming?"
    chat.entry.insert("1.0", "yes, on my way")
    chat.entry.event_generate("<Return>")
    pump_until(
        root, lambda: "yes, on my way" in _private_texts(bob_events, alice_key), what="the reply"
    )
    answer = next(
        e
        for e in list(bob_events.events)
        if isinstance(e, MessageReceived) and e.text == "yes, on my way"
    )
    assert isinstance(answer.content, ReplyContent)
    assert answer.content.reply_to.sender == "bob"
    assert answer.content.reply_to.excerpt == "are you coming?"
    assert "▍ bob  are you coming?\nyes, on my way" in text_of(chat.messages.text)
    assert "yes, on my way" not in _all_texts(carol_events)

    # Ctrl+K finds the private conversation by the other person's name.
    app.choose_room(room.token)
    app.views.open_jump()
    jump = app.jump
    assert isinstance(jump, JumpDialog)
    jump.typed.set("bob")
    root.update()
    assert jump.listbox.get(0) == f"bob (private) · 127.0.0.1:{relay.port}"
    jump.choose()
    root.update()
    assert app.chat is chat

    # Verified from the private conversation: its header and the room's member list say so.
    chat.mark_verified("bob", bob.identity.signing_public)
    assert chat.private_view.state is PeerState.VERIFIED
    assert "✓ You verified bob's safety code." in chat.room_setting.get()
    assert "✓ bob" in room.chat.member_list.get(0, "end")

    # Someone else arriving is the room's news, not this conversation's.
    members(relay.port, "dave", keys)
    pump_until(root, lambda: len(room.chat.members) == 4, what="dave")
    assert "dave" in chat_text_of(room.chat) and "dave" not in text_of(chat.messages.text)

    # Bob leaves: the conversation stays readable; sending says what the library does.
    bob.close()
    pump_until(root, lambda: chat.private_view.state is PeerState.AWAY, what="bob gone")
    assert "bob is not in the room now." in chat.room_setting.get()
    assert "see you at 7" in text_of(chat.messages.text)
    assert "bob left the room." in text_of(chat.messages.text)
    assert "carol" not in text_of(chat.messages.text)
    chat.entry.insert("1.0", "for when you are back")
    assert chat.send_entry()  # bob is remembered: it waits in the room's history for him


def test_the_keyboard_opens_a_private_conversation_from_the_member_list(
    make_app, root, relay, keys, members
):
    app = make_app()
    _join(app, relay.port)
    room = app.current
    bob, _ = members(relay.port, "bob", keys)
    pump_until(root, lambda: len(room.chat.members) == 2, what="bob")
    listbox = room.chat.member_list
    listbox.focus_force()
    pump_until(root, lambda: root.focus_get() is listbox, what="the member list")
    root.update()  # Tab in selects the first other member
    assert room.chat.selected_member().name == "bob"
    listbox.event_generate("<Menu>")
    root.update()
    menu = room.chat.member_menu
    assert menu is not None and menu.entrycget(0, "label") == MESSAGE_PRIVATELY
    menu.unpost()
    menu.invoke(0)
    root.update()
    private = room.privates[bob.identity.signing_public]
    pump_until(root, lambda: root.focus_get() is private.chat.entry, what="its compose box")
    # The room list reaches it too: Up to the room, Down to the conversation, Enter.
    tree = app.room_list.tree
    tree.focus_force()
    pump_until(root, lambda: root.focus_get() is tree, what="the room list")
    tree.focus(str(private.token))
    tree.event_generate("<Up>")
    root.update()
    assert app.chat is room.chat
    tree.event_generate("<Down>")
    root.update()
    assert app.chat is private.chat
    tree.event_generate("<Return>")
    root.update()
    pump_until(root, lambda: root.focus_get() is private.chat.entry, what="the compose box")
    # Its row's menu: Open, Verify bob….
    menu = app.room_menu(private.token)
    assert _commands(menu) == ["Open", "Verify bob…"]


def test_a_room_reply_shows_its_quote_to_every_member(make_app, root, relay, keys, members):
    app = make_app()
    _join(app, relay.port)
    room = app.current
    bob, bob_events = members(relay.port, "bob", keys)
    pump_until(root, lambda: len(room.chat.members) == 2, what="bob")
    bob.send("Who brings the cake?")
    pump_until(root, lambda: "brings the cake" in chat_text(app), what="bob's question")
    chat = room.chat
    chat.messages.text.focus_force()
    pump_until(root, lambda: root.focus_get() is chat.messages.text, what="the conversation")
    chat.messages.text.event_generate("<Menu>")  # the last message: bob's
    root.update()
    menu = chat.messages.menu
    menu.unpost()
    menu.invoke(_commands(menu).index("Reply"))
    root.update()
    pump_until(root, lambda: root.focus_get() is chat.entry, what="the compose box")
    chat.entry.insert("1.0", "I do!")
    chat.entry.event_generate("<Return>")
    pump_until(root, lambda: "I do!" in bob_events.texts(), what="bob gets the reply")
    answer = next(e for e in list(bob_events.events) if getattr(e, "text", "") == "I do!")
    assert isinstance(answer.content, ReplyContent) and answer.private_with is None
    assert answer.content.reply_to.excerpt == "Who brings the cake?"
    assert "▍ bob  Who brings the cake?\nI do!" in chat_text(app)


def chat_text_of(chat: ChatWindow) -> str:
    return text_of(chat.messages.text)


def test_row_text_of_a_hostile_name_is_one_safe_line():
    from gui.roomlist import RoomRow, RoomState

    row = RoomRow(5, "b\u202eob\nbob", RoomState.JOINED, 3, private=True, room_label="x")
    assert row_text(row) == "    b⟨U+202E⟩ob⟨U+000A⟩bob (private)"


# -- coming back: the relay's history, the local history -------------------------------------


class Apps:
    """New apps on new roots sharing the test's settings and data (one identity): what a
    restart of the app is."""

    def __init__(self, folder: Path, keychain: Callable[[], Keychain] | None) -> None:
        self.folder = folder
        self.keychain = keychain
        self.roots: list[tk.Tk] = []

    def new(self) -> App:
        root = tk.Tk(className="socketchat")
        root.geometry("1150x640+0+0")
        self.roots.append(root)
        return App(
            root,
            settings_dir=self.folder / "settings",
            data_dir=self.folder / "data",
            kdf_cost=CHEAP,
            confirm=lambda *_: True,
            system_dark=lambda: None,
            notifications=DesktopNotifications(sender=quiet),
            keychain=self.keychain,
        )

    def close(self) -> None:
        for root in self.roots:
            with contextlib.suppress(tk.TclError):
                root.destroy()
        gc.collect()  # here, on the main thread: Tk variables collected elsewhere raise


def _private_of(app: App, name: str):
    room = app.current
    assert room is not None
    return next((p for p in room.privates.values() if p.name == name), None)


def test_the_relays_history_brings_a_private_conversation_back(tmp_path, relay, keys, members):
    apps = Apps(tmp_path, keychain=None)
    try:
        app = apps.new()
        _join(app, relay.port)
        alice_key = app.identity.signing_public
        bob, _ = members(relay.port, "bob", keys)
        pump_until(app.root, lambda: len(app.chat.members) == 2, what="bob")
        bob.send_private(alice_key, "kept by the relay")
        pump_until(app.root, lambda: _private_of(app, "bob") is not None, what="the conversation")
        app.close()

        # The same device (its identity) without a local history: joining again, the
        # relay's recent history holds the box, and the conversation comes back from it.
        app = apps.new()
        _join(app, relay.port)
        pump_until(app.root, lambda: _private_of(app, "bob") is not None, what="it came back")
        private = _private_of(app, "bob")
        assert "kept by the relay" in text_of(private.chat.messages.text)
        assert "kept by the relay" not in chat_text_of(app.current.chat)
        assert private.chat.unread == 0  # history is not news
        assert "    bob (private)" in _labels(app)
        app.close()
    finally:
        apps.close()


def test_private_conversations_come_back_from_the_local_history(
    secret_service, tmp_path, keys, members
):
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    apps = Apps(tmp_path, keychain=Keychain.open)
    try:
        app = apps.new()
        pump_until(app.root, lambda: app.history is not None, what="the history's key")
        app.login.remember.set(True)
        _join(app, port)
        alice_key = app.identity.signing_public
        bob, _ = members(port, "bob", keys)
        pump_until(app.root, lambda: len(app.chat.members) == 2, what="bob")
        bob.send("in the room")
        bob.send_private(alice_key, "only for alice")
        pump_until(app.root, lambda: _private_of(app, "bob") is not None, what="the conversation")
        private = _private_of(app, "bob")
        pump_until(
            app.root,
            lambda: "only for alice" in text_of(private.chat.messages.text),
            what="the private message",
        )
        spot = private.chat.messages.text.search("only for alice", "1.0")
        private.chat.replies.start(private.chat.messages.message_id_at(spot))
        private.chat.entry.insert("1.0", "thanks, noted")
        assert private.chat.send_entry()
        pump_until(
            app.root,
            lambda: "sending…" not in text_of(private.chat.messages.text),
            what="the reply stored",
        )
        bob.close()
        app.close()
        process.kill()
        process.wait(TIMEOUT)

        # Restarted with the relay down: the remembered room and its private conversation
        # come back from this device's history, the reply with its quote.
        app = apps.new()
        pump_until(app.root, lambda: app.current is not None, what="the remembered room")
        pump_until(app.root, lambda: _private_of(app, "bob") is not None, what="it came back")
        private = _private_of(app, "bob")
        shown = text_of(private.chat.messages.text)
        assert "only for alice" in shown
        assert "▍ bob  only for alice\nthanks, noted" in shown
        assert "only for alice" not in chat_text_of(app.current.chat)
        assert "in the room" in chat_text_of(app.current.chat)
        # Under its room, marked as its room is (connecting or disconnected: the relay is down).
        assert [label.lstrip() for label in _labels(app)[1:]] in (
            ["… bob (private)"],
            ["⚠ bob (private)"],
        )
        # A search match in a private message opens its conversation, lit up there.
        app.choose_room(app.current.token)
        app.open_search()
        panel = app.search_panel
        panel.query.set("only for alice")
        panel.run()
        assert [hit.message.text for hit in panel.hits] == ["only for alice"]
        panel.results.selection_set(0)
        panel.choose()
        assert app.chat is private.chat
        lit = private.chat.messages.text.tag_ranges("found")
        assert lit and "only for alice" in private.chat.messages.text.get(lit[0], lit[1])
        app.close()
    finally:
        process.kill()
        process.wait(TIMEOUT)
        apps.close()
