"""Take the README's screenshots of the real app under a display (Xvfb): ``docs/screenshots/``.

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py hostile-text [OUT.png]
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py link|notification
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py trust
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py roles [FOLDER]
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py private [FOLDER] [--dark]
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py files [FOLDER] [--dark]
    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py tray [FOLDER]

Drives the app in-process the way a person would: fills the login view, hosts a room, lets
two friends (real clients on 127.0.0.1) join and talk, then grabs each window with
ImageMagick's ``import`` (``chat.png``, then ``dark.png`` after View → Theme: dark and
``zoomed.png`` after Ctrl+plus three times). Settings, the identity and trust records go to
temporary folders, never the user's own.

The router and the local network are stand-ins here (:class:`SampleRouter`,
:class:`SampleBrowser`): the pictures must not depend on, or talk to, the network of the
machine that takes them. They feed the app the same events the real ``net.reach`` services
do, with documentation addresses (203.0.113.0/24, 192.0.2.0/24); the real services are tested
against a real router (miniupnpd) in tests/net/reach/test_namespaces.py.


``hostile-text.png`` and ``link.png`` are different: a chat window fed client events directly
(as the GUI tests do); in the first one member sends text made to look like messages from
someone else, in the second the pointer rests on a link. ``notification.png`` starts dunst on
a private session bus (``tests/gui/notification_daemon.py``; needs dbus-daemon, dbus-bin and
dunst) and grabs the screen with its popup next to the unfocused chat window.

``trust`` takes the identity pictures: ``safety-code.png`` (Your safety code over the chat
window), ``verify.png`` (the Verify dialog for a member), ``key-change.png`` (the banner and marked
messages after a member's key changed, fed as client events), ``verify-changed.png`` (the
Verify dialog for that member) and, from the real app
against a real in-process relay, ``login-lookalike.png`` (the relay refused a look-alike name),
``login-name-check.png`` (the name refused in the window before connecting) and
``relay-changed.png`` (not the room's relay joined before, with the button that trusts it).

``private`` takes a private conversation (``private.png``) and replies with their quotes and
the reply bar (``reply.png``), from the real app against real relays and members
(``tools/screenshots_private.py``; ``--dark`` writes ``-dark`` variants for checking).

``tray`` takes the tray icon with its menu open, the window closed (``tray.png``), from the
real app in a real room with a real XEmbed tray (``trayer``; ``tools/screenshots_tray.py``).

``roles`` takes the owner's view of a room with an admin (``roles.png``: the member list's
role column, the conversation's lines about actions, and the menu for a member) and the
confirmation before removing a member (``remove-member.png``), fed as client events.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crypto.identity import Identity  # noqa: E402
from crypto.kdf import RoomKeys, derive_room_keys  # noqa: E402
from gui.app import App  # noqa: E402
from gui.chat import ChatWindow  # noqa: E402
from gui.messages import format_time  # noqa: E402
from gui.notify import DesktopNotifications  # noqa: E402
from gui.reach import ForRoom, OutsideSeen, ReachServices  # noqa: E402
from gui.settings import Settings, save_settings  # noqa: E402
from gui.theme import apply_theme  # noqa: E402
from net.client import (  # noqa: E402
    DEFAULT_ROOM,
    ActionKind,
    ChatClient,
    Invite,
    Member,
    PendingMessage,
    Role,
    Trust,
    format_invite,
    relay_address,
)
from net.client import events as ce  # noqa: E402
from net.reach import FoundRoom, Lease, PortMapEvent, PortMapped  # noqa: E402
from net.relay import RelayConfig, RelayThread, RoomSecret  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
# A sample for the pictures only; real rooms get a freshly generated one.
PASSPHRASE = "cactus-ripple-mammal-sprint-lantern-oyster-gravel"  # noqa: S105


def pump(root: tk.Tk, until: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        root.update()
        time.sleep(0.01)


def settle(root: tk.Tk, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.01)


def grab(window: tk.Misc, name: str, path: Path | None = None) -> None:
    window.update_idletasks()
    window.update()
    frame = window.winfo_toplevel().wm_frame()
    path = path or OUT / name
    subprocess.run(["import", "-window", frame, str(path)], check=True)  # noqa: S603, S607
    print("wrote", path)


def grab_screen(name: str, crop: tuple[int, int, int, int], path: Path | None = None) -> None:
    """The screen (for windows Tk does not own: tooltips, a daemon's popup), cropped to
    ``(width, height, x, y)``."""
    path = path or OUT / name
    width, height, x, y = crop
    subprocess.run(  # noqa: S603
        ["import", "-window", "root", "-crop", f"{width}x{height}+{x}+{y}", str(path)],  # noqa: S607
        check=True,
    )
    print("wrote", path)


async def _quiet(_title: str, _body: str) -> None:
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_IDENTITIES: dict[str, Identity] = {}


def identity(name: str) -> Identity:
    """The pictures' members: one fixed identity per name, so that their colours (which come
    from the key) are the same in every run, and different from each other's."""
    if name not in _IDENTITIES:
        secret = hashlib.sha512(f"shots-48|{name}".encode()).digest()
        _IDENTITIES[name] = Identity.from_secret(secret)
    return _IDENTITIES[name]


def member(name: str, trust: Trust = Trust.KNOWN, who: Identity | None = None) -> Member:
    who = who or identity(name)
    return Member(name=name, signing_key=who.signing_public, dh_key=who.dh_public, trust=trust)


def joined_event(members: tuple[Member, ...], your_name: str = "alice") -> ce.Joined:
    return ce.Joined(
        your_name=your_name,
        members=members,
        reconnected=False,
        max_message_bytes=4000,
        room_id=bytes(16),
    )


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


CHEAP = 2**10  # the pictures' rooms: a cheap scrypt, never the product's


def picture_app(
    root: tk.Tk, folder: Path, *, dark: bool = False, is_focused: Callable[[], bool] = lambda: True
) -> Any:  # Any: the pictures reach into rooms that are there by now
    """The real app for the pictures: settings and data under ``folder``, cheap rooms,
    every question answered yes, notifications sent nowhere."""
    return App(
        root,
        settings_dir=folder / "settings",
        data_dir=folder / "data",
        kdf_cost=CHEAP,
        confirm=lambda *_: True,
        system_dark=lambda: dark,
        notifications=DesktopNotifications(sender=_quiet),
        is_focused=is_focused,
    )


def picture_relay(password: str) -> tuple[RelayThread, RoomKeys]:
    """A real relay on 127.0.0.1 (a free port, in ``relay.port``) for a new room with
    ``password``; stop it when the pictures are taken."""
    keys = derive_room_keys(password, room_id=os.urandom(16), n=CHEAP)
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    relay.port = relay.start()
    return relay, keys


def join_as_alice(app: Any, root: tk.Tk, port: int, password: str) -> Any:
    """Join the room on ``port`` as alice through the login view, as a person would (opening
    it first when the app is in a room already); the new room, once connected."""
    if app.login is None:
        app.show_login()
    fields = app.login.vars
    fields["host"].set("127.0.0.1")
    fields["port"].set(str(port))
    fields["password"].set(password)
    fields["username"].set("alice")
    before = len(app.rooms)
    app.login.connect()
    pump(root, lambda: len(app.rooms) > before and app.chat.connected)
    return app.current


class SampleRouter:
    """Stands in for net.reach.PortMapper: the router "opens" the port at once."""

    def __init__(self, port: int, on_event: Callable[[PortMapEvent], None]) -> None:
        self.port = port
        self.on_event = on_event

    def start(self) -> None:
        lease = Lease(
            method="UPnP IGD",
            router="192.168.1.1",
            external_address="203.0.113.45",
            external_port=self.port,
            internal_port=self.port,
            lifetime=3600,
        )
        self.on_event(PortMapped(lease))

    def stop(self, timeout: float = 10.0) -> None:
        del timeout


class SampleBrowser:
    """Stands in for net.reach.RoomBrowser: two rooms "found", one with a hostile name."""

    def __init__(self, on_change: Callable[[tuple[FoundRoom, ...]], None]) -> None:
        self.on_change = on_change

    def start(self) -> None:
        self.on_change(
            (
                FoundRoom(
                    key="bob's room._socketchat._tcp.local.",
                    label="bob's room",
                    host_name="bob-laptop.local",
                    address="192.0.2.23",
                    port=7777,
                ),
                FoundRoom(
                    key="x._socketchat._tcp.local.",
                    label="team\u202e moor s'bob",
                    host_name="x.local",
                    address="192.0.2.66",
                    port=7000,
                ),
            )
        )

    def close(self) -> None:
        pass


class SampleAnnouncer:
    def __init__(self, label: str, port: int) -> None:
        self.name = f"{label}._socketchat._tcp.local."

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


SAMPLES = ReachServices(mapper=SampleRouter, announcer=SampleAnnouncer, browser=SampleBrowser)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    settings_dir = Path(tempfile.mkdtemp(prefix="socketchat-shots-"))
    save_settings(Settings(host="chat.example.org", port=7777, username="alice"), settings_dir)
    root = tk.Tk(className="socketchat")
    app = App(
        root,
        settings_dir=settings_dir,
        data_dir=temp_dir("socketchat-shots-data-"),
        confirm=lambda *_: True,
        system_dark=lambda: False,
        notifications=DesktopNotifications(sender=_quiet),
        bind_host=("127.0.0.1",),
        reach=SAMPLES,
    )
    login = app.login
    assert login is not None
    login.vars["password"].set("correct horse battery staple")
    pump(root, lambda: bool(login.rooms))
    settle(root)
    grab(root, "login.png")
    # An invite pasted from a friend (documentation address, a sample room and relay key).
    sample = Invite("203.0.113.45", 7777, bytes(range(16)), bytes(range(32)), PASSPHRASE)
    root.clipboard_clear()
    root.clipboard_append(format_invite(sample))
    login.paste_invite()
    settle(root)
    grab(root, "login-invite.png")
    root.clipboard_clear()
    login.vars["host"].set("chat.example.org")
    login.vars["port"].set("7777")
    login.vars["password"].set("")

    port = free_port()
    app.open_host_dialog()
    dialog = app.host_dialog
    assert dialog is not None
    dialog.port.set(str(port))
    dialog.password.set(PASSPHRASE)
    dialog._generated_value = PASSPHRASE  # shown as the generated one it stands for
    dialog.generated = True
    dialog._show_strength()
    dialog.username.set("alice")
    settle(root)
    grab(dialog, "host-dialog.png")
    dialog.ok()
    pump(root, lambda: app.chat is not None and app.invite is not None)
    assert app.invite is not None
    # What the relay's OutsideWatcher reports when a friend from the internet connects.
    assert app.reach is not None
    app.pump.put((0, ForRoom(app.reach, OutsideSeen("198.51.100.7", "14:02"))))
    pump(root, lambda: app.invite is not None and "Reachable" in app.invite.verdict.get())
    settle(root)
    grab(app.invite, "host-invite.png")
    app.invite.destroy()

    keys = app.client.keys if app.client else None
    friends = []
    for name in ("bob", "carol"):
        client = ChatClient(
            host="127.0.0.1",
            port=port,
            username=name,
            keys=keys,
            identity=identity(name),
            on_event=lambda _e: None,
        )
        client.start()
        friends.append(client)
    chat = app.chat
    assert chat is not None
    pump(root, lambda: len(chat.members) == 3)
    lines = [
        (0, "hi all! is this thing really end-to-end encrypted? 🔐"),
        (
            None,
            "It is: the relay only ever sees ciphertext. Even I, hosting it, can't read "
            "what passes through except as a member.",
        ),
        (1, "nice 👍 I'm in from the café Wi-Fi"),
        (0, "Shall we meet at 7?\nI'll bring the slides."),
        (1, "7 works. Ça marche 🙂"),
    ]
    for who, text in lines:
        if who is None:
            chat.entry.insert("1.0", text)
            chat.send_entry()
        else:
            friends[who].send(text)

        def shown(text: str = text) -> bool:
            return text in chat.messages.text.get("1.0", "end")

        pump(root, shown)
        settle(root, 0.15)
    chat.entry.insert("1.0", "See you there 🎉")
    settle(root)
    grab(root, "chat.png")
    app.set_theme("dark")
    settle(root)
    grab(root, "dark.png")
    app.set_theme("light")
    for _ in range(3):
        app.change_zoom(1)
    settle(root)
    grab(root, "zoomed.png")
    app.change_zoom(None)
    for client in friends:
        client.close()
    app.close()


def hostile_text(path: Path | None = None) -> None:
    """A conversation where "mallory" tries to pass text off as messages from others."""
    root = tk.Tk(className="socketchat")
    root.geometry("900x880+0+0")
    palette = apply_theme(root)
    names = ("alice", "bob", "mallory", "carol\u2028bob  12:34", "b\u200bob", "\u202eecila")
    members = tuple(member(name) for name in names)
    chat = ChatWindow(
        root,
        room="chat.example.org:7777",
        room_title="Project room",
        username="alice",
        members=members,
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        palette=palette,
        is_focused=lambda: True,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    now_ms = int(time.time() * 1000)
    hhmm = format_time(now_ms)
    conversation = [
        ("bob", "Release notes are up, have a look before 3."),
        ("mallory", f"ok\n\nbob  {hhmm}\nplease send me the admin password, I lost it"),
        ("alice", "On it."),
        ("mallory", "brb" + "\n" * 40 + f"alice  {hhmm}\nsent it to mallory by mail"),
        ("mallory", f"\U0001d41b\U0001d428\U0001d41b  {hhmm}\nthe new password is hunter2"),
        ("mallory", "the report: invoice_\u202egpj.exe\u202c, open it \u2067now\u2069"),
        ("carol\u2028bob  12:34", "a name with a line separator"),
        ("b\u200bob", "a name with a zero-width space"),
        ("\u202eecila", "a name that reverses itself"),
        ("m" * 70, "a very long name"),
    ]
    events: list[ce.ClientEvent] = [joined_event(members)]
    for number, (sender, text) in enumerate(conversation):
        events.append(
            ce.MessageReceived(
                sender=sender,
                text=text,
                message_id=number.to_bytes(16, "big"),
                timestamp_ms=now_ms,
                from_history=False,
                own=sender == "alice",
                sender_key=identity(sender).signing_public,
            )
        )
    for event in events:
        chat.handle(event)
    chat.flush()
    settle(root)
    grab(root, "hostile-text.png", path)
    root.destroy()
    gc.collect()  # here: Tk variables collected on a worker thread crash Tcl


class _NoActions:
    """The pictures' room: asking it for an action does nothing."""

    def make_admin(self, name: str) -> None:
        pass

    def unmake_admin(self, name: str) -> None:
        pass

    def remove_member(self, name: str) -> None:
        pass

    def change_password(self, *, remove: str | None = None) -> str:
        return ""

    def release_name(self, name: str) -> None:
        pass


def _conversation_window(
    root: tk.Tk,
    *,
    focused: bool = True,
    notify: DesktopNotifications | None = None,
    members: tuple[Member, ...] | None = None,
    username: str = "alice",
    actions: _NoActions | None = None,
) -> ChatWindow:
    palette = apply_theme(root)
    chat = ChatWindow(
        root,
        room="chat.example.org:7777",
        room_title="Project room",
        username=username,
        members=members or tuple(member(name) for name in ("alice", "bob", "carol")),
        identity=identity("alice").public,
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        palette=palette,
        is_focused=lambda: focused,
        notify=notify.show if notify else None,
        open_url=lambda _url: None,
        actions=actions,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    return chat


def _feed(chat: ChatWindow, conversation: list[tuple[str, str]], first_id: int = 0) -> None:
    now_ms = int(time.time() * 1000)
    if first_id == 0:
        chat.handle(joined_event(chat.members))
    for number, (sender, text) in enumerate(conversation, start=first_id):
        chat.handle(
            ce.MessageReceived(
                sender=sender,
                text=text,
                message_id=number.to_bytes(16, "big"),
                timestamp_ms=now_ms,
                from_history=False,
                own=sender == "alice",
                sender_key=identity(sender).signing_public,
            )
        )
    chat.flush()


LINK_CONVERSATION = [
    ("bob", "The release notes are up: https://example.org/releases/2.0 (draft)."),
    ("carol", "@alice can you check them before 3?"),
    ("alice", "Sure, looking now."),
    (
        "carol",
        "Careful with the one Mallory pasted: javascript:alert(document.cookie) only gets "
        "copied, and https://exa\u200bmple.org (with an invisible character) is not a link.",
    ),
    ("bob", "Background reading: https://en.wikipedia.org/wiki/End-to-end_encryption."),
]


def link(path: Path | None = None) -> None:
    """The pointer on a link: underlined, tooltip and status line show the exact target."""
    root = tk.Tk(className="socketchat")
    root.geometry("900x600+0+0")
    chat = _conversation_window(root)
    _feed(chat, LINK_CONVERSATION)
    settle(root)
    text = chat.messages.text
    start = text.search("example.org/releases", "1.0")
    box = text.bbox(f"{start} + 8 chars")
    assert box is not None
    x, y = box[0] + box[2] // 2, box[1] + box[3] // 2
    subprocess.run(  # noqa: S603
        ["xdotool", "mousemove", str(text.winfo_rootx() + x), str(text.winfo_rooty() + y)],  # noqa: S607
        check=False,
    )
    text.event_generate("<Motion>", x=x, y=y)
    settle(root, 0.6)
    root.update_idletasks()
    grab_screen("link.png", (root.winfo_width(), root.winfo_height(), 0, 0), path)
    # The pointer goes out of the way: left here, it would hover a link in the next picture.
    subprocess.run(["xdotool", "mousemove", "1270", "890"], check=False)  # noqa: S607
    root.destroy()
    gc.collect()  # here: Tk variables collected on a worker thread crash Tcl


def notification(path: Path | None = None) -> None:
    """A real notification daemon (dunst) shows a message that came while unfocused."""
    import os

    from tests.gui import notification_daemon

    folder = Path(tempfile.mkdtemp(prefix="socketchat-notify-"))
    daemon = notification_daemon.start(folder)
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = daemon.address
    notifications = DesktopNotifications()
    try:
        root = tk.Tk(className="socketchat")
        root.geometry("860x560+0+0")
        chat = _conversation_window(root, focused=False)
        _feed(chat, LINK_CONVERSATION[:3])
        settle(root)
        chat.alerts.notify = notifications.show  # from here on: the earlier ones are read
        _feed(chat, [("carol", "@alice the build is green, shall we ship it?")], first_id=10)
        if not daemon.wait_for(1):
            raise TimeoutError("the notification did not reach the daemon")
        settle(root, 1.0)
        grab_screen("notification.png", (1280, 580, 0, 0), path)
        root.destroy()
        gc.collect()  # here: Tk variables collected on a worker thread crash Tcl
    finally:
        notifications.close()
        daemon.stop()


# -- identities and trust -------------------------------------------------------------------

TRUST_CONVERSATION = [
    ("carol", "Slides for Thursday are in the shared folder."),
    ("bob", "Thanks! I'll add the budget page tonight."),
    ("alice", "Great, I'll review them tomorrow morning."),
]


def _trust_window(root: tk.Tk) -> ChatWindow:
    """A chat where carol is verified, dave known, and bob comes back with a new key."""
    root.geometry("920x640+0+0")
    members = (
        member("alice", Trust.VERIFIED),
        member("bob", Trust.VERIFIED),
        member("carol", Trust.VERIFIED),
        member("dave"),
    )
    chat = _conversation_window(root, members=members, username="dave")
    _feed(chat, TRUST_CONVERSATION)
    return chat


def _grab_with_dialog(root: tk.Tk, name: str, path: Path | None) -> None:
    settle(root, 0.5)
    root.update_idletasks()
    grab_screen(name, (root.winfo_width(), root.winfo_height(), 0, 0), path)


def safety_code_picture(path: Path | None = None) -> None:
    root = tk.Tk(className="socketchat")
    chat = _trust_window(root)
    settle(root)
    chat.show_safety_code()
    _grab_with_dialog(root, "safety-code.png", path)
    root.destroy()
    gc.collect()  # here: Tk variables collected on a worker thread crash Tcl


def verify_picture(path: Path | None = None) -> None:
    root = tk.Tk(className="socketchat")
    chat = _trust_window(root)
    settle(root)
    chat.open_verify("dave")
    _grab_with_dialog(root, "verify.png", path)
    root.destroy()
    gc.collect()  # here: Tk variables collected on a worker thread crash Tcl


def key_change_picture(path: Path | None = None, verify_path: Path | None = None) -> None:
    """The banner and bob's marked messages; then (``verify-changed.png``) the Verify dialog
    for bob, with the warning and Accept the new key."""
    root = tk.Tk(className="socketchat")
    chat = _trust_window(root)
    new_bob = identity("bob on another device")
    bob_now = member("bob", Trust.CHANGED, new_bob)
    others = (member("alice", Trust.VERIFIED), member("carol", Trust.VERIFIED), member("dave"))
    now_ms = int(time.time() * 1000)
    events: list[ce.ClientEvent] = [
        ce.MemberLeft(name="bob", members=others, reason="left"),
        ce.IdentityChanged(
            name="bob",
            old_key=identity("bob").signing_public,
            new_key=new_bob.signing_public,
            was_verified=True,
        ),
        ce.MemberJoined(member=bob_now, members=(*others, bob_now)),
    ]
    for number, text in enumerate(
        (
            "hey, it's me: new laptop, lost the old one 😅",
            "can you send me the server password again?",
        ),
        start=50,
    ):
        events.append(
            ce.MessageReceived(
                sender="bob",
                text=text,
                message_id=number.to_bytes(16, "big"),
                timestamp_ms=now_ms,
                from_history=False,
                own=False,
                sender_key=new_bob.signing_public,
                trust=Trust.CHANGED,
            )
        )
    for event in events:
        chat.handle(event)
    chat.flush()
    settle(root)
    grab(root, "key-change.png", path)
    chat.open_verify("bob")
    _grab_with_dialog(root, "verify-changed.png", verify_path)
    root.destroy()
    gc.collect()  # here: Tk variables collected on a worker thread crash Tcl


def login_pictures(folder: Path | None = None) -> None:
    """The real app against a real relay: refused names and a relay with another key."""
    out = folder or OUT
    settings_dir = temp_dir("socketchat-shots-")
    save_settings(Settings(host="127.0.0.1", port=7777, username="alice"), settings_dir)
    keys = derive_room_keys("correct horse battery staple", room_id=bytes(range(16)), n=2**10)
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    port = relay.start()
    bob = ChatClient(
        host="127.0.0.1",
        port=port,
        username="bob",
        keys=keys,
        identity=identity("bob"),
        on_event=lambda _e: None,
    )
    bob.start()
    root = tk.Tk(className="socketchat")
    app = App(
        root,
        settings_dir=settings_dir,
        data_dir=temp_dir("socketchat-shots-data-"),
        confirm=lambda *_: True,
        system_dark=lambda: False,
        notifications=DesktopNotifications(sender=_quiet),
        kdf_cost=2**10,
        bind_host="127.0.0.1",
    )
    login = app.login
    assert login is not None

    def attempt(name: str) -> None:
        login.vars["host"].set("127.0.0.1")
        login.vars["port"].set(str(port))
        login.vars["password"].set("correct horse battery staple")
        login.vars["username"].set(name)
        login.connect()
        pump(root, lambda: not login.busy and bool(login.failure.get()))

    try:
        attempt("b0b")  # a zero: looks like bob, who is in the room
        settle(root)
        grab(root, "login-lookalike.png", out / "login-lookalike.png")

        login.vars["username"].set("аlice")  # a Cyrillic а, then Latin letters
        login.connect()
        settle(root)
        grab(root, "login-name-check.png", out / "login-name-check.png")

        # This device joined the room before, when its relay had another key.
        address = relay_address("127.0.0.1", port, DEFAULT_ROOM)
        app.trust.pin_relay(address, Identity.generate().signing_public)
        attempt("alice")
        settle(root)
        grab(root, "relay-changed.png", out / "relay-changed.png")
    finally:
        bob.close()
        app.close()
        relay.stop()


def locked_history(folder: Path | None = None) -> None:
    """A newcomer's view: earlier messages locked until a member who holds their keys comes
    online (``locked-history.png``), then filled in where they belong (``history-filled.png``),
    fed as client events."""
    out = folder or OUT
    root = tk.Tk(className="socketchat")
    root.geometry("760x560+0+0")
    members = tuple(member(name) for name in ("dave", "carol"))
    chat = _conversation_window(root, members=members, username="dave")
    now_ms = int(time.time() * 1000)
    earlier = [
        ("alice", "Minutes from today are in the shared folder."),
        ("bob", "Thanks! I added the budget numbers."),
        ("alice", "Next meeting Thursday at 10."),
    ]
    chat.handle(joined_event(members, "dave"))
    for number, (sender, _text) in enumerate(earlier):
        chat.handle(
            ce.MessageLocked(
                sender=sender, message_id=number.to_bytes(16, "big"), from_history=True
            )
        )
    chat.handle(
        ce.MessageReceived(
            sender="carol",
            text="Welcome, Dave! Alice will be online in a minute.",
            message_id=(99).to_bytes(16, "big"),
            timestamp_ms=now_ms,
            from_history=False,
            own=False,
            sender_key=identity("carol").signing_public,
        )
    )
    chat.flush()
    settle(root)
    grab(root, "locked-history.png", out / "locked-history.png")
    for number, (sender, text) in enumerate(earlier):  # alice is back and hands out the keys
        chat.handle(
            ce.MessageReceived(
                sender=sender,
                text=text,
                message_id=number.to_bytes(16, "big"),
                timestamp_ms=now_ms - 3_600_000 + number * 60_000,
                from_history=True,
                own=False,
                sender_key=identity(sender).signing_public,
            )
        )
    chat.flush()
    settle(root)
    grab(root, "history-filled.png", out / "history-filled.png")
    root.destroy()
    gc.collect()


def roles(folder: Path | None = None) -> None:
    """alice owns the room and made bob an admin; bob removed frank. ``roles.png``: the member
    list with its role column and the menu alice gets for carol; ``remove-member.png``: the
    confirmation before alice removes erin."""
    out = folder or OUT
    root = tk.Tk(className="socketchat")
    root.geometry("920x640+0+0")
    names = ("alice", "bob", "carol", "dave", "erin", "frank")
    plain = tuple(member(n, Trust.VERIFIED if n == "bob" else Trust.KNOWN) for n in names)

    def with_roles(admins: tuple[str, ...], gone: tuple[str, ...] = ()) -> tuple[Member, ...]:
        return tuple(
            dataclasses.replace(
                m,
                role=Role.OWNER
                if m.name == "alice"
                else Role.ADMIN
                if m.name in admins
                else Role.MEMBER,
            )
            for m in plain
            if m.name not in gone
        )

    chat = _conversation_window(root, members=plain, actions=_NoActions())
    _feed(
        chat,
        [
            ("alice", "Welcome everyone! Bob will help me keep the room tidy."),
        ],
    )
    events: list[ce.ClientEvent] = [
        ce.RoleChange(kind=None, actor="", target="", detail="", members=with_roles(())),
        ce.RoleChange(
            kind=ActionKind.MAKE_ADMIN,
            actor="alice",
            target="bob",
            detail="",
            members=with_roles(("bob",)),
        ),
    ]
    for event in events:
        chat.handle(event)
    _feed(
        chat,
        [
            ("bob", "Thanks! Slides for Thursday are in the shared folder."),
            ("frank", "BUY CHEAP FOLLOWERS NOW!!! https://spam.example"),
        ],
        first_id=10,
    )
    after = with_roles(("bob",), gone=("frank",))
    for event in (
        ce.RoleChange(
            kind=ActionKind.REMOVE,
            actor="bob",
            target="frank",
            detail="",
            members=with_roles(("bob",)),
        ),
        ce.MemberLeft(name="frank", members=after, reason="was removed from the room"),
    ):
        chat.handle(event)
    _feed(chat, [("carol", "Much better. I'll add the budget page tonight.")], first_id=20)
    settle(root)
    index = [m.name for m in chat.rows].index("carol")
    chat.member_list.selection_set(index)
    chat.member_list.event_generate("<<ListboxSelect>>")
    settle(root, 0.2)
    menu = chat.member_menu = chat.build_member_menu()
    assert menu is not None
    box = chat.member_list.bbox(index) or (0, 0, 0, 0)
    x = chat.member_list.winfo_rootx() + box[0] + 30
    y = chat.member_list.winfo_rooty() + box[1] + box[3]
    menu.post(x, y)
    _grab_with_dialog(root, "roles.png", out / "roles.png")
    menu.unpost()
    erin = [m.name for m in chat.rows].index("erin")
    chat.member_list.selection_clear(0, "end")
    chat.member_list.selection_set(erin)
    chat.member_list.event_generate("<<ListboxSelect>>")
    settle(root, 0.2)
    chat.ask_remove("erin")
    _grab_with_dialog(root, "remove-member.png", out / "remove-member.png")
    chat.ask_change_password("erin")
    _grab_with_dialog(
        root, "remove-and-change-password.png", out / "remove-and-change-password.png"
    )
    root.destroy()
    gc.collect()  # here: Tk variables collected on a worker thread crash Tcl


def trust(folder: Path | None = None) -> None:
    out = folder or OUT
    safety_code_picture(out / "safety-code.png")
    verify_picture(out / "verify.png")
    key_change_picture(out / "key-change.png", out / "verify-changed.png")
    login_pictures(out)


def rooms(folder: Path | None = None) -> None:
    """The room list, the reconnect banner, a message not sent, search and export
    (``tools/screenshots_rooms.py``)."""
    from screenshots_rooms import rooms_pictures  # beside this file (the script's folder)

    rooms_pictures(folder or OUT, sys.modules[__name__])
    gc.collect()


def files(folder: Path | None = None, *, dark: bool = False) -> None:
    """Files and pictures in a room (``tools/screenshots_files.py``)."""
    from screenshots_files import files_pictures  # beside this file (the script's folder)

    files_pictures(folder or OUT, sys.modules[__name__], dark=dark)
    gc.collect()


def tray(folder: Path | None = None) -> None:
    """The tray icon and its menu, the window closed (``tools/screenshots_tray.py``)."""
    from screenshots_tray import tray_picture  # beside this file (the script's folder)

    tray_picture(folder or OUT, sys.modules[__name__])
    gc.collect()


def private(folder: Path | None = None, *, dark: bool = False) -> None:
    """A private conversation and replies (``tools/screenshots_private.py``)."""
    from screenshots_private import private_pictures  # beside this file (the script's folder)

    private_pictures(folder or OUT, sys.modules[__name__], dark=dark)
    gc.collect()


if __name__ == "__main__":
    if sys.argv[1:2] == ["trust"]:
        trust(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["hostile-text"]:
        hostile_text(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["link"]:
        link(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["notification"]:
        notification(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["locked-history"]:
        locked_history(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["roles"]:
        roles(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["rooms"]:
        rooms(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["files"]:
        arguments = [a for a in sys.argv[2:] if a != "--dark"]
        files(Path(arguments[0]) if arguments else None, dark="--dark" in sys.argv)
    elif sys.argv[1:2] == ["tray"]:
        tray(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif sys.argv[1:2] == ["private"]:
        arguments = [a for a in sys.argv[2:] if a != "--dark"]
        private(Path(arguments[0]) if arguments else None, dark="--dark" in sys.argv)
    else:
        main()
        hostile_text()
        link()
        notification()
        trust()
        locked_history()
        roles()
        rooms()
        files()
        private()
        tray()
