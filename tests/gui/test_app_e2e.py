"""The whole desktop app on real Tk (Xvfb) against the real relay and the real client.

Relays run on 127.0.0.1 with ephemeral ports: in-process (RelayThread) where the relay only has
to be there, and as a real ``main.py relay`` process where it has to die abruptly and come
back. Second members are real :class:`net.client.ChatClient` objects, each with an identity of
its own; the app keeps its identity and trust records in the test's folder. Every wait pumps Tk
on a condition with a generous deadline. Identities and trust end to end (safety codes, key
changes, a changed relay, refused names, Reconnect) are in test_app_trust_e2e.py.
"""

from __future__ import annotations

import functools
import json
import socket

import pytest

import gui.app_rooms
from crypto.identity import Identity
from gui.app import App
from gui.chat_text import SENDING, WAITING
from gui.connection import LinkState
from net.client import DEFAULT_ROOM, ChatClient, Invite, Trust, format_invite, relay_address
from net.client import events as ce
from net.client.events import ErrorKind
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.gui.apptest import (
    PASSWORD,
    Recorder,
    app_threads,
    assert_no_app_threads,
    chat_text,
    failure_after_login,
    free_port,
    log_in,
    start_relay_process,
    wait_for,
)
from tests.gui.conftest import CHEAP, ROOM_ID, TIMEOUT, member, pump_until
from tests.net.relay.support import ManualClock


class SilentClient:
    """Stands in for ChatClient where a test hands the app events itself: it connects to
    nothing; its ``on_event`` is the app's own."""

    def __init__(self, **options: object) -> None:
        self.on_event = options["on_event"]
        self.keys = options.get("keys")

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def pending(self) -> tuple[()]:
        return ()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_join_over_ipv6_typed_with_brackets_and_port_in_the_host_field(make_app, keys):
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="::1", port=0))
    port = relay.start()
    try:
        app = make_app()
        log_in(app, 1, "alice", host=f"[::1]:{port}")  # the Port field's 1 is not used
        assert app.login.vars["host"].get() == "::1"
        assert app.login.vars["port"].get() == str(port)
        pump_until(app.root, lambda: app.chat is not None, what="the chat window")
        assert app.root.title() == f"SocketChat — alice in [::1]:{port}"
        assert relay.stats().members == ("alice",)
    finally:
        relay.stop()


# -- join, chat, presence, relay lost and back ------------------------------------------


def test_join_chat_presence_disconnect_and_reconnect(
    make_app, members, keys, tmp_path, monkeypatch
):
    # The app's client runs on a clock the test moves: it waits out its reconnect backoff
    # until the relay is back, then tries exactly once.
    clock = ManualClock()
    monkeypatch.setattr(gui.app_rooms, "ChatClient", functools.partial(ChatClient, clock=clock))
    room_file = tmp_path / "room.json"
    RoomSecret.from_room_keys(keys).save(room_file)
    process, port = start_relay_process(room_file, 0)
    try:
        app = make_app()
        log_in(app, port, "alice")
        assert app.login is not None and app.login.busy, "progress shows while connecting"
        pump_until(app.root, lambda: app.chat is not None, what="the chat window")
        assert app.root.title() == f"SocketChat — alice in 127.0.0.1:{port}"
        saved = json.loads((tmp_path / "settings" / "settings.json").read_text("utf-8"))
        assert saved["host"] == "127.0.0.1" and saved["port"] == port
        assert saved["username"] == "alice"
        assert PASSWORD not in json.dumps(saved)

        bob, bob_events = members(port, "bob", keys)
        pump_until(app.root, lambda: "bob joined the room." in chat_text(app), what="bob")
        assert app.chat.member_list.get(0, "end") == ("alice (you)", "bob")
        assert app.chat.member_title.get() == "Members (2)"

        bob.send("hello alice 👋")
        pump_until(app.root, lambda: "hello alice 👋" in chat_text(app), what="bob's message")
        app.chat.entry.insert("1.0", "hi bob, ça va? 🎉")
        assert app.chat.send_entry()
        pump_until(app.root, lambda: SENDING not in chat_text(app), what="delivery")
        wait_for(lambda: "hi bob, ça va? 🎉" in bob_events.texts(), "bob to get alice's text")

        bob.close()
        pump_until(app.root, lambda: "bob left the room." in chat_text(app), what="bob leaving")
        pump_until(
            app.root,
            lambda: "You are alone in the room" in chat_text(app).split("bob left the room.")[-1],
            what="the alone notice",
        )
        assert app.chat.member_title.get() == "Members (1)"

        process.kill()  # the relay dies without saying goodbye
        process.wait(TIMEOUT)
        pump_until(
            app.root,
            lambda: app.chat.connection.state is LinkState.WAITING,
            what="the reconnect countdown",
        )
        assert "Connection lost at" in chat_text(app)
        assert app.chat.banner_texts[0].startswith("Reconnecting in ")
        assert app.chat.status.get() == "Not connected"
        app.chat.entry.insert("1.0", "written while the relay was down")
        assert app.chat.send_entry()
        assert WAITING in chat_text(app)

        process, _ = start_relay_process(room_file, port)
        assert app.chat.connection.state is LinkState.WAITING  # still waiting for its clock
        clock.advance(15.0)  # past any backoff (reconnect_delay's cap)
        app.client.wake()
        pump_until(app.root, lambda: app.chat.connected, what="the reconnect")
        assert not app.chat.connection.shown
        assert chat_text(app).count("Connection lost at") == 1
        assert ". Back at" in chat_text(app)
        assert "attempt" not in chat_text(app)
        pump_until(
            app.root,
            lambda: WAITING not in chat_text(app) and SENDING not in chat_text(app),
            what="the pending message delivered",
        )
        assert app.chat.status.get() == "Connected as alice"
        assert chat_text(app).count("written while the relay was down") == 1

        _carol, carol_events = members(port, "carol", keys)
        wait_for(
            lambda: "written while the relay was down" in carol_events.texts(),
            "the pending message in the new relay's history",
        )
        assert carol_events.texts().count("written while the relay was down") == 1
    finally:
        process.kill()
        process.wait(TIMEOUT)


# -- host a room -------------------------------------------------------------------------


def open_host_dialog(app: App, port: int, name: str = "host"):
    app.open_host_dialog()
    dialog = app.host_dialog
    assert dialog is not None
    dialog.port.set(str(port))
    dialog.username.set(name)
    return dialog


def test_host_a_room_invite_and_close_it_for_everyone(make_app, root):
    questions: list[str] = []
    answers = iter([False, True])

    def confirm(title: str, text: str, button: str) -> bool:
        questions.append(f"{title} {text} [{button}]")
        return next(answers)

    app = make_app(confirm=confirm)
    port = free_port()
    # A room hosted here before had another relay key: the app's own client must expect the
    # new room's relay, not stop at "not the relay you joined before".
    stale = relay_address("127.0.0.1", port, DEFAULT_ROOM)
    app.trust.pin_relay(stale, Identity.generate().signing_public)
    dialog = open_host_dialog(app, port)
    passphrase = dialog.password.get()
    assert len(passphrase.split("-")) == 7 and dialog.generated
    assert "Strong" in dialog.strength.get()
    dialog.ok()
    pump_until(root, lambda: app.chat is not None and app.invite is not None, what="hosting")
    invite = app.invite
    assert app.relay.port == port
    assert app.trust.relay_key(stale) == app.relay.relay.secret.relay_key
    assert invite.port == port and invite.password == passphrase
    assert all(not a.startswith("127.") for a in invite.addresses)
    secret = app.relay.relay.secret
    expected = format_invite(
        Invite(invite.addresses[0], port, secret.room_id, secret.relay_key, passphrase)
    )
    assert invite.invite_text() == invite.local_invite.get() == expected
    invite.copy_invite()
    assert root.clipboard_get() == expected
    assert "Your room · port" in app.chat.room_title

    friend_events = Recorder()
    friend = ChatClient(
        host="127.0.0.1",
        port=port,
        username="friend",
        password=passphrase,
        identity=Identity.generate(),
        on_event=friend_events,
        kdf_cost=CHEAP,
    )
    friend.start()
    try:
        pump_until(root, lambda: "friend joined the room." in chat_text(app), what="the friend")
        friend.send("thanks for hosting!")
        pump_until(root, lambda: "thanks for hosting!" in chat_text(app), what="a message")

        app.request_close()  # the first answer is No: nothing happens
        assert not app.closed and "1 other member will be disconnected" in questions[0]
        assert questions[0].endswith("[Close the room]")
        app.request_close()
        assert app.closed
        wait_for(
            lambda: friend_events.has(ce.Failed, kind=ErrorKind.ROOM_CLOSED),
            "the friend to be told the room closed",
        )
    finally:
        friend.close()
    assert_no_app_threads()


def test_hosting_on_a_port_in_use_says_so_and_lets_you_pick_another(make_app, root):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        app = make_app()
        open_host_dialog(app, port).ok()
        pump_until(root, lambda: app.host_dialog is not None, what="the dialog to come back")
        dialog = app.host_dialog
        assert f"Port {port} is already in use" in dialog.errors["port"].get()
        assert dialog.port.get() == str(port), "what was typed is kept"
        assert app.relay is None and app.chat is None
        dialog.port.set(str(free_port()))
        dialog.ok()
        pump_until(root, lambda: app.chat is not None, what="hosting on another port")


def test_host_dialog_typed_passphrase_strength_and_cancel(make_app, root):
    app = make_app()
    dialog = open_host_dialog(app, 7777)
    dialog.password.set("password1")
    pump_until(
        root,
        lambda: "Very weak" in dialog.strength.get() or "Weak" in dialog.strength.get(),
        what="the strength hint",
    )
    assert "generated passphrase is much safer" in dialog.strength.get()
    dialog.regenerate()
    pump_until(root, lambda: "Strong" in dialog.strength.get(), what="the generated hint")
    dialog.copy_passphrase()
    assert root.clipboard_get() == dialog.password.get()
    dialog.password.set("")
    dialog.port.set("0")
    dialog.ok()
    assert dialog.errors["port"].get() and dialog.errors["password"].get()
    dialog.cancel()
    assert app.host_dialog is None and app.relay is None and app.login is not None


# -- failures on the way in --------------------------------------------------------------


def test_connection_refused(make_app, root):
    app = make_app()
    text = failure_after_login(app, root, free_port())
    assert "refused" in text and "Is the room running? Is the port right?" in text


def test_host_not_found(make_app, root):
    app = make_app()
    text = failure_after_login(app, root, 7777, host="no-such-host.invalid")
    assert "'no-such-host.invalid' was not found" in text


def test_wrong_password(make_app, root, relay):
    app = make_app()
    text = failure_after_login(app, root, relay.port, password="not the password")
    assert "Wrong room password." in text


def test_name_taken(make_app, root, relay, members, keys):
    _, bob_events = members(relay.port, "bob", keys)
    wait_for(lambda: bob_events.has(ce.Joined), "bob to join")
    app = make_app()
    text = failure_after_login(app, root, relay.port, name="BOB")
    assert "The name 'BOB' belongs to another member" in text and "Pick another name" in text


def test_room_full(make_app, root, keys, members):
    full = RelayThread(
        RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0, max_members=1)
    )
    port = full.start()
    try:
        _, bob_events = members(port, "bob", keys)
        wait_for(lambda: bob_events.has(ce.Joined), "bob to join")
        app = make_app()
        assert "The room is full." in failure_after_login(app, root, port)
    finally:
        full.stop()


def test_a_busy_relay_shows_the_place_in_line_then_the_room(make_app, root, keys):
    busy = RelayThread(
        RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0, max_handshakes=1)
    )
    port = busy.start()
    holder = socket.create_connection(("127.0.0.1", port))
    try:
        holder.sendall(b"\x00")  # a stalled handshake takes the only slot
        wait_for(lambda: busy.stats().handshakes == 1, "the holder's slot")
        app = make_app()
        log_in(app, port, "alice")
        assert app.login is not None
        progress = app.login.progress_text
        pump_until(root, lambda: "in line" in progress.get(), what="the place in line")
        assert progress.get() == "The room is letting others in first. You are number 1 in line…"
        assert app.login.busy  # still connecting, with Cancel
        holder.close()
        pump_until(root, lambda: app.chat is not None, what="the chat window")
    finally:
        holder.close()
        busy.stop()


@pytest.mark.parametrize(
    "kind, words",
    [
        (ErrorKind.TIMED_OUT, "timed out"),
        (ErrorKind.INCOMPATIBLE_VERSION, "same SocketChat version"),
    ],
)
def test_failures_the_local_relay_cannot_produce_go_the_same_way(
    make_app, root, kind, words, monkeypatch
):
    # Timeouts and version mismatches are produced by the client's own tests; here the same
    # Failed event goes from a client's on_event through the app's pump like a real one.
    made: list[SilentClient] = []
    monkeypatch.setattr(
        gui.app_rooms, "ChatClient", lambda **kw: made.append(SilentClient(**kw)) or made[-1]
    )
    app = make_app()
    log_in(app, free_port(), "alice")
    [client] = made
    client.on_event(ce.Failed(kind=kind, message=""))
    pump_until(root, lambda: app.login.failure.get() != "", what="the failure")
    assert words in app.login.failure.get()


def test_validation_messages_in_the_window(make_app, root):
    app = make_app()
    log_in(app, 99999, "bad\tname", host="2001:db8::g", password="")
    errors = {name: var.get() for name, var in app.login.error_vars.items()}
    assert "not a valid IPv6 address" in errors["host"]
    assert "from 1 to 65535" in errors["port"]
    assert "Please enter the room password" in errors["password"]
    assert "control character" in errors["username"]
    assert app.client is None and not app.login.busy
    app.login.vars["port"].set("7777")
    assert app.login.error_vars["port"].get() == "", "editing a field clears its message"
    app.login.show_password.set(True)
    app.login._toggle_password()
    assert app.login.entries["password"].cget("show") == ""


def test_cancel_while_connecting_and_close_from_any_state(make_app, root, relay):
    app = make_app()
    log_in(app, relay.port, "alice")
    cancelled = app._generation
    app.login.cancel()
    assert not app.login.busy and app.client is None
    # Events of the cancelled attempt are ignored: once its worker has stopped, everything it
    # reported is in the pump; even a Joined (whether or not it got that far) opens no window.
    wait_for(
        lambda: not {"socketchat-client", "socketchat-closer"} & set(app_threads()),
        "the cancelled client to stop",
    )
    joined = ce.Joined(
        your_name="alice",
        members=(member("alice", Trust.VERIFIED),),
        reconnected=False,
        max_message_bytes=4000,
        room_id=ROOM_ID,
    )
    app.pump.put((cancelled, joined))
    assert app.pump.drain(limit=app.pump.pending() + 1) >= 1
    assert app.chat is None and app.login is not None and not app.login.busy

    log_in(app, relay.port, "alice")
    app.open_host_dialog()  # busy connecting: the dialog does not open
    assert app.host_dialog is None
    app.close()  # while connecting
    assert app.closed


def test_close_while_the_room_is_starting(make_app, root):
    app = make_app()
    open_host_dialog(app, free_port()).ok()
    app.close()
    assert app.closed and app.relay is None
