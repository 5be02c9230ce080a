"""A room's life in the whole app, on real Tk (Xvfb) with real relays on 127.0.0.1: the
connection banner while a relay is away, Rejoin after the room was closed (works once the
host is back, on the same port and room), and Back to rooms (the login view again, in the
same window, without a restart)."""

from __future__ import annotations

import functools

import gui.app_rooms
from gui.app import App
from gui.chat_text import SENDING, WAITING
from gui.connection import BACK_TO_ROOMS, CONNECTING, REJOIN, RETRY_NOW, LinkState
from gui.dialogs import ConfirmDialog
from gui.errors import TRUST_NEW_RELAY
from net.client import ChatClient
from net.client.events import ErrorKind
from net.proto import Reason
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.gui.apptest import chat_text, log_in, start_relay_process, wait_for
from tests.gui.conftest import TIMEOUT, pump_until
from tests.net.relay.support import ManualClock


def _join(app: App, port: int, name: str = "alice") -> None:
    log_in(app, port, name)
    pump_until(app.root, lambda: app.chat is not None and app.chat.connected, what="joined")


def _relay(secret: RoomSecret, port: int = 0) -> RelayThread:
    relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=port))
    relay.port = relay.start()
    return relay


def test_the_banner_counts_down_and_retry_now_reconnects_at_once(
    make_app, members, keys, tmp_path, monkeypatch
):
    # The app's client waits on a clock that never moves by itself: only Retry now can end
    # its wait, so the reconnect below is Retry now's doing.
    clock = ManualClock()
    monkeypatch.setattr(gui.app_rooms, "ChatClient", functools.partial(ChatClient, clock=clock))
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    try:
        app = make_app()
        _join(app, port)
        chat = app.chat
        assert chat is not None
        lines = chat_text(app).count("\n")
        process.kill()  # the relay dies without a word
        process.wait(TIMEOUT)
        pump_until(
            app.root, lambda: chat.connection.state is LinkState.WAITING, what="the countdown"
        )
        app.root.update()
        assert chat.connection.winfo_ismapped()
        assert chat.banner_texts[0].startswith("Reconnecting in ")
        assert list(chat.connection.buttons) == [RETRY_NOW]
        chat.entry.insert("1.0", "typed while it was away")
        assert chat.send_entry() and WAITING in chat_text(app)

        process, _ = start_relay_process(room_file, port)
        chat.connection.buttons[RETRY_NOW].invoke()
        assert chat.banner_texts == [CONNECTING]
        pump_until(app.root, lambda: chat.connected, what="the reconnect")
        pump_until(app.root, lambda: SENDING not in chat_text(app), what="the message sent")
        app.root.update()
        assert not chat.connection.winfo_ismapped() and chat.banner_texts == []
        shown = chat_text(app)
        # One line about the loss (now saying it is back) and the message: nothing else.
        assert shown.count("\n") == lines + 3
        assert shown.count("Connection lost at") == 1 and ". Back at" in shown
        _bob, bob_events = members(port, "bob", keys)
        wait_for(lambda: "typed while it was away" in bob_events.texts(), "bob to read it")
    finally:
        process.kill()
        process.wait(TIMEOUT)


def test_a_relay_restart_is_one_line_and_a_banner_then_nothing(make_app, keys):
    secret = RoomSecret.from_room_keys(keys)
    first = _relay(secret)
    port = first.port
    second: RelayThread | None = None
    try:
        app = make_app()
        _join(app, port)
        chat = app.chat
        assert chat is not None
        seen: list[str] = []
        chat.connection.text.trace_add("write", lambda *_: seen.append(chat.connection.text.get()))
        first.stop(reason=Reason.RELAY_RESTARTING)  # systemctl restart
        pump_until(app.root, lambda: not chat.connected, what="the relay going")
        second = _relay(secret, port)
        pump_until(app.root, lambda: chat.connected, what="back by itself")
        shown = chat_text(app)
        assert shown.count("Connection lost at") == 1
        assert "the relay is restarting" in shown and ". Back at" in shown
        assert not chat.closed_for_good and chat.failure is None
        assert seen and not any("0 s" in text for text in seen)
        assert "Disconnected" not in shown and "attempt" not in shown
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_rejoin_after_the_room_closed_works_once_the_host_is_back(make_app, members, keys):
    secret = RoomSecret.from_room_keys(keys)  # the room file: the same room when it is back
    first = _relay(secret)
    port = first.port
    second: RelayThread | None = None
    try:
        app = make_app()
        _join(app, port)
        chat = app.chat
        assert chat is not None
        first.stop()  # the host closes the room
        pump_until(app.root, lambda: chat.closed_for_good, what="the room closed")
        assert chat.failure is not None and chat.failure.kind is ErrorKind.ROOM_CLOSED
        assert chat.connection.state is LinkState.FAILED
        assert list(chat.connection.buttons) == [REJOIN, BACK_TO_ROOMS]
        assert chat.banner_texts[0].startswith("Disconnected: The host closed the room.")
        assert chat_text(app).count("Disconnected:") == 1

        # Rejoin while the host is still away: refused, and the banner offers it again.
        chat.connection.buttons[REJOIN].invoke()
        assert chat.connection.text.get() == "Connecting…"
        pump_until(
            app.root,
            lambda: chat.failure is not None and chat.failure.kind is ErrorKind.REFUSED,
            what="the refusal",
        )
        assert list(chat.connection.buttons) == [REJOIN, BACK_TO_ROOMS]

        # The host is back, on the same port, with the same room: Rejoin gets in.
        second = _relay(secret, port)
        chat.connection.buttons[REJOIN].invoke()
        pump_until(app.root, lambda: chat.connected, what="joined again")
        assert app.chat is chat, "the same window, the same conversation"
        assert chat.banner_texts == [] and chat.send_button.instate(["!disabled"])
        _bob, bob_events = members(port, "bob", keys)
        pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
        chat.entry.insert("1.0", "back in the room")
        assert chat.send_entry()
        wait_for(lambda: "back in the room" in bob_events.texts(), "bob to read it")
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_back_to_rooms_shows_the_login_in_the_same_window(make_app, keys):
    secret = RoomSecret.from_room_keys(keys)
    relay = _relay(secret)
    other = _relay(secret)  # another relay of the room, to join from the login view again
    try:
        app = make_app()
        root = app.root
        _join(app, relay.port)
        chat = app.chat
        assert chat is not None
        relay.stop()
        pump_until(root, lambda: chat.closed_for_good, what="the room closed")
        chat.connection.buttons[BACK_TO_ROOMS].invoke()
        root.update()
        assert app.chat is None and not chat.winfo_exists()
        assert app.login is not None and app.login.winfo_ismapped()
        assert app.client is None
        assert root.title() == "SocketChat"
        # The login view works as on the first start: join a room from it.
        _join(app, other.port)
        assert app.chat is not None and app.chat is not chat
        assert app.chat.connected
    finally:
        relay.stop()
        other.stop()


# -- what was not sent ------------------------------------------------------------------------


class Questions:
    """Stands in for the app's confirmation dialog: records each question, answers ``yes``."""

    def __init__(self, yes: bool) -> None:
        self.yes = yes
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, title: str, text: str, button: str) -> bool:
        self.asked.append((title, text, button))
        return self.yes


def test_a_message_not_sent_is_retried_through_the_new_client(
    make_app, members, keys, tmp_path, monkeypatch
):
    clock = ManualClock()
    monkeypatch.setattr(gui.app_rooms, "ChatClient", functools.partial(ChatClient, clock=clock))
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    replacement: RelayThread | None = None
    try:
        app = make_app(confirm=Questions(True))
        _join(app, port)
        chat = app.chat
        assert chat is not None
        process.kill()
        process.wait(TIMEOUT)
        pump_until(app.root, lambda: chat.connection.state is LinkState.WAITING, what="waiting")
        chat.entry.insert("1.0", "this one never left")
        assert chat.send_entry()
        # The room comes back set up again (a new relay key): the client stops for good
        # before sending anything, and hands the message back.
        replacement = _relay(RoomSecret.from_room_keys(keys), port)
        chat.connection.buttons[RETRY_NOW].invoke()
        pump_until(app.root, lambda: chat.closed_for_good, what="the changed relay")
        assert chat.failure is not None and chat.failure.kind is ErrorKind.RELAY_CHANGED
        assert list(chat.unsent.texts.values()) == ["this one never left"]
        assert "Not sent" in chat_text(app)
        [message_id] = chat.unsent.texts
        retry, _copy = chat.unsent.buttons(message_id)
        assert retry.instate(["disabled"])

        chat.connection.buttons[TRUST_NEW_RELAY].invoke()
        pump_until(app.root, lambda: chat.connected, what="joined the new relay")
        assert retry.instate(["!disabled"])
        _bob, bob_events = members(port, "bob", keys)
        pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
        retry.invoke()
        wait_for(lambda: "this one never left" in bob_events.texts(), "bob to read it")
        pump_until(app.root, lambda: SENDING not in chat_text(app), what="sent")
        assert chat.unsent.texts == {}
        assert app.waiting_messages() == 0
    finally:
        process.kill()
        process.wait(TIMEOUT)
        if replacement is not None:
            replacement.stop()


def test_quitting_with_nothing_waiting_asks_nothing(make_app, keys, tmp_path):
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    try:
        questions = Questions(False)
        app = make_app(confirm=questions)
        _join(app, port)
        app.request_close()
        assert questions.asked == [] and app.closed
    finally:
        process.kill()
        process.wait(TIMEOUT)


def test_quitting_while_disconnected_with_a_message_waiting(make_app, keys, tmp_path):
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    try:
        questions = Questions(False)
        app = make_app(confirm=questions)
        _join(app, port)
        chat = app.chat
        assert chat is not None
        process.kill()
        process.wait(TIMEOUT)
        pump_until(app.root, lambda: not chat.connected, what="the loss")
        chat.entry.insert("1.0", "wait for me")
        assert chat.send_entry()
        assert app.waiting_messages() == 1
        app.request_close()
        assert not app.closed, "Cancel (the default) keeps the app open"
        [(title, text, button)] = questions.asked
        assert title == "Quit SocketChat?" and button == "Quit anyway"
        assert text.startswith("1 message you wrote has not reached the room yet.")
        questions.yes = True
        app.request_close()
        assert app.closed
    finally:
        process.kill()
        process.wait(TIMEOUT)


def test_the_quit_question_is_the_themed_dialog_with_cancel_as_default(make_app, keys, tmp_path):
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    try:
        app = make_app(confirm=None)  # the app's own dialog
        _join(app, port)
        chat = app.chat
        assert chat is not None
        process.kill()
        process.wait(TIMEOUT)
        pump_until(app.root, lambda: not chat.connected, what="the loss")
        chat.entry.insert("1.0", "wait for me")
        assert chat.send_entry()
        seen: dict[str, object] = {}

        def answer_with_enter() -> None:
            dialog = next(w for w in app.root.winfo_children() if isinstance(w, ConfirmDialog))
            seen["focus"] = dialog.focus_get()
            seen["cancel"] = dialog.cancel_button
            seen["heading"] = dialog.heading_text
            dialog.event_generate("<Return>")

        app.root.after(300, answer_with_enter)
        app.request_close()  # waits for the dialog, as the close box does
        assert seen["heading"] == "Quit SocketChat?"
        assert seen["focus"] is seen["cancel"], "Cancel has the focus: Enter keeps the app"
        assert not app.closed
    finally:
        process.kill()
        process.wait(TIMEOUT)
