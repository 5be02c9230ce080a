"""The whole desktop app on real Tk (Xvfb) against the real relay and the real client.

Relays run on 127.0.0.1 with ephemeral ports: in-process (RelayThread) where the relay only has
to be there, and as a real ``main.py relay`` process where it has to die abruptly and come
back. Second members are real :class:`net.client.ChatClient` objects. Every wait pumps Tk on a
condition with a generous deadline.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gui.app
from crypto.kdf import RoomKeys, derive_room_keys
from gui.app import App
from gui.chat import SENDING, WAITING
from gui.notify import DesktopNotifications
from net.client import ChatClient
from net.client import events as ce
from net.client.events import ErrorKind
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.gui.conftest import CHEAP, TIMEOUT, pump_until, text_of
from tests.net.relay.support import ManualClock

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


class Recorder:
    """Collects a second member's events (called from its worker thread)."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self._lock:
            self.events.append(event)

    def texts(self) -> list[str]:
        with self._lock:
            return [e.text for e in self.events if isinstance(e, ce.MessageReceived)]

    def has(self, event_type: type, **fields: object) -> bool:
        with self._lock:
            return any(
                isinstance(e, event_type) and all(getattr(e, k) == v for k, v in fields.items())
                for e in self.events
            )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def keys() -> RoomKeys:
    return derive_room_keys(PASSWORD, room_id=os.urandom(16), n=CHEAP)


@pytest.fixture
def relay(keys) -> Iterator[RelayThread]:
    thread = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    thread.port = thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def members() -> Iterator[Callable[..., tuple[ChatClient, Recorder]]]:
    made: list[ChatClient] = []

    def make(port: int, name: str, keys: RoomKeys) -> tuple[ChatClient, Recorder]:
        recorder = Recorder()
        client = ChatClient(
            host="127.0.0.1", port=port, username=name, keys=keys, on_event=recorder, kdf_cost=CHEAP
        )
        made.append(client)
        client.start()
        return client, recorder

    yield make
    for client in made:
        client.close()


async def _quiet(_title: str, _body: str) -> None:
    return None  # notifications are tested in test_notify.py


@pytest.fixture
def make_app(root, tmp_path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**options: Any) -> App:
        options.setdefault("confirm", lambda _title, _text: True)
        options.setdefault("system_dark", lambda: None)
        options.setdefault("notifications", DesktopNotifications(sender=_quiet))
        app = App(
            root,
            settings_dir=tmp_path / "settings",
            kdf_cost=CHEAP,
            bind_host="127.0.0.1",
            **options,
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
    assert_no_app_threads()


def _app_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("socketchat-") and t.is_alive()
    ]


def assert_no_app_threads() -> None:
    try:
        wait_for(lambda: not _app_threads(), "the app's threads to end")
    except AssertionError:
        raise AssertionError(f"app threads still running: {_app_threads()}") from None


def log_in(
    app: App, port: int, name: str, *, host: str = "127.0.0.1", password: str = PASSWORD
) -> None:
    assert app.login is not None
    fields = app.login.vars
    fields["host"].set(host)
    fields["port"].set(str(port))
    fields["password"].set(password)
    fields["username"].set(name)
    app.login.connect()


def chat_text(app: App) -> str:
    assert app.chat is not None
    return text_of(app.chat.messages.text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_relay_process(room_file: Path, port: int) -> tuple[subprocess.Popen[str], int]:
    """``main.py relay`` on 127.0.0.1; returns once it prints its listening line."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "relay",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--room-file",
            str(room_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    found: queue.SimpleQueue[int] = queue.SimpleQueue()

    def read_lines() -> None:
        # A thread, not select(): the text wrapper may buffer several lines at once.
        assert process.stdout is not None
        for line in process.stdout:
            if "listening on" in line:
                found.put(int(line.rsplit(":", 1)[1]))

    threading.Thread(target=read_lines, daemon=True).start()
    try:
        return process, found.get(timeout=TIMEOUT)
    except queue.Empty:
        process.kill()
        raise AssertionError("the relay process did not start") from None


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
    monkeypatch.setattr(gui.app, "ChatClient", functools.partial(ChatClient, clock=clock))
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
            lambda: "Disconnected from the room" in chat_text(app),
            what="the disconnect notice",
        )
        assert app.chat.status.get().startswith(("Disconnected", "Reconnecting"))
        app.chat.entry.insert("1.0", "written while the relay was down")
        assert app.chat.send_entry()
        assert WAITING in chat_text(app)

        process, _ = start_relay_process(room_file, port)
        assert "Reconnecting (attempt" not in chat_text(app)  # still waiting for its clock
        clock.advance(15.0)  # past any backoff (reconnect_delay's cap)
        app.client.wake()
        pump_until(
            app.root, lambda: "Reconnected to the room." in chat_text(app), what="the reconnect"
        )
        assert chat_text(app).count("Reconnecting (attempt") == 1
        assert "Reconnecting (attempt 2)…" in chat_text(app)
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

    def confirm(title: str, text: str) -> bool:
        questions.append(f"{title} {text}")
        return next(answers)

    app = make_app(confirm=confirm)
    dialog = open_host_dialog(app, free_port())
    passphrase = dialog.password.get()
    assert len(passphrase.split("-")) == 7 and dialog.generated
    assert "Strong" in dialog.strength.get()
    dialog.ok()
    pump_until(root, lambda: app.chat is not None and app.invite is not None, what="hosting")
    invite = app.invite
    port = app.relay.port
    assert invite.port == port and invite.password == passphrase
    assert all(not a.startswith("127.") for a in invite.addresses)
    assert f"port {port}" in invite.invite_text()
    invite.copy_all()
    assert passphrase in root.clipboard_get()
    assert "Your room · port" in app.chat.room_title

    friend_events = Recorder()
    friend = ChatClient(
        host="127.0.0.1",
        port=port,
        username="friend",
        password=passphrase,
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


def failure_after_login(app: App, root, port: int, name: str = "alice", **options) -> str:
    log_in(app, port, name, **options)
    pump_until(
        root,
        lambda: app.login is not None and app.login.failure.get() != "",
        what="a failure message",
    )
    assert app.login is not None
    assert not app.login.busy and app.chat is None
    return app.login.failure.get()


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
    assert "already uses the name 'BOB'" in text and "Pick another name" in text


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


@pytest.mark.parametrize(
    "kind, words",
    [
        (ErrorKind.TIMED_OUT, "timed out"),
        (ErrorKind.INCOMPATIBLE_VERSION, "same SocketChat version"),
    ],
)
def test_failures_the_local_relay_cannot_produce_go_the_same_way(make_app, root, kind, words):
    # Timeouts and version mismatches are produced by the client's own tests; here the same
    # Failed event goes through the app's pump like a real one.
    app = make_app()
    log_in(app, free_port(), "alice")
    app.cancel_connect()
    app.login.show_progress("Connecting…")
    app.pump.put((app._generation, ce.Failed(kind=kind, message="")))
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
        lambda: not {"socketchat-client", "socketchat-closer"} & set(_app_threads()),
        "the cancelled client to stop",
    )
    joined = ce.Joined(
        your_name="alice", members=("alice",), reconnected=False, max_message_bytes=4000
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
