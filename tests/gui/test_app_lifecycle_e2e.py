"""A room's life in the whole app, on real Tk (Xvfb) with real relays on 127.0.0.1: the
connection banner while a relay is away, Rejoin after the room was closed (works once the
host is back, on the same port and room), and Back to rooms (the login view again, in the
same window, without a restart)."""

from __future__ import annotations

import functools

import gui.app
from gui.app import App
from gui.chat import SENDING, WAITING
from gui.connection import BACK_TO_ROOMS, CONNECTING, REJOIN, RETRY_NOW, LinkState
from net.client import ChatClient
from net.client.events import ErrorKind
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
    monkeypatch.setattr(gui.app, "ChatClient", functools.partial(ChatClient, clock=clock))
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
        assert shown.count("Connection lost at") == 1 and "; back at" in shown
        _bob, bob_events = members(port, "bob", keys)
        wait_for(lambda: "typed while it was away" in bob_events.texts(), "bob to read it")
    finally:
        process.kill()
        process.wait(TIMEOUT)


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
        assert chat.banner_texts[0].startswith("Disconnected: The room was closed by its host.")
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
