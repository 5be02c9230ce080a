"""Invites in the app: Copy invite in the hosted room's panel, Paste invite in the login window
(and an invite found on the clipboard at start), joining in one step with the relay checked
from the first connection, and every damaged invite refused with the part that is wrong."""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.identity import Identity
from gui.app import App
from gui.login import LoginView
from gui.settings import Settings
from net.client import DEFAULT_ROOM, Invite, format_invite, relay_address
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.gui.apptest import PASSWORD, pump_for_failure
from tests.gui.conftest import CHEAP, pump_until

ROOM, KEY = bytes(range(16)), bytes(range(100, 132))
INVITE = format_invite(Invite("chat.example.org", 7001, ROOM, KEY, "cactus-ripple-mammal"))


def _view(root: tk.Tk, requests: list[object] | None = None) -> LoginView:
    view = LoginView(
        root,
        Settings(username="alice"),
        on_connect=(requests if requests is not None else []).append,
        on_host=lambda: None,
        on_cancel=lambda: None,
    )
    view.grid()
    root.update()
    return view


def _put_on_clipboard(root: tk.Tk, text: str) -> None:
    root.clipboard_clear()
    root.clipboard_append(text)
    root.update()


# -- the login view ------------------------------------------------------------------------------


def test_paste_invite_fills_the_fields_and_the_request_carries_room_and_relay_key(root):
    requests: list[object] = []
    view = _view(root, requests)
    _put_on_clipboard(root, f"  {INVITE}\n")
    assert view.paste_invite()
    assert [view.vars[name].get() for name in ("host", "port", "password")] == [
        "chat.example.org",
        "7001",
        "cactus-ripple-mammal",
    ]
    assert "Invite pasted: the room at chat.example.org:7001" in view.invite_status.get()
    view.connect()
    (request,) = requests
    assert (request.room_id, request.relay_key, request.username) == (ROOM, KEY, "alice")
    assert "cactus" not in repr(request)


@pytest.mark.parametrize("field, value", [("host", "other.example.org"), ("port", "7002")])
def test_editing_the_invites_place_drops_its_room_and_key(root, field, value):
    requests: list[object] = []
    view = _view(root, requests)
    view.use_invite(INVITE)
    view.vars[field].set(value)
    assert view.invite is None and view.invite_status.get() == ""
    view.connect()
    (request,) = requests
    assert (request.room_id, request.relay_key) == (DEFAULT_ROOM, b"")


def test_editing_the_password_drops_the_invite_too(root):
    view = _view(root)
    view.use_invite(INVITE)
    view.vars["password"].set("something else entirely")
    assert view.invite is None


@pytest.mark.parametrize(
    "text, words",
    [
        (INVITE[:-1], "changed or not copied whole"),
        (INVITE.replace("/v1/", "/v9/"), "made by a newer SocketChat"),
        (INVITE.replace(":7001", ":99999"), "its port is wrong"),
        ("just some text", "The clipboard holds no invite"),
    ],
)
def test_a_damaged_invite_says_which_part_is_wrong_and_fills_nothing(root, text, words):
    view = _view(root)
    _put_on_clipboard(root, text)
    assert not view.paste_invite()
    assert words in view.invite_status.get()
    assert view.vars["password"].get() == "" and view.invite is None


def test_an_invite_on_the_clipboard_at_start_fills_the_fields(root):
    _put_on_clipboard(root, INVITE)
    view = _view(root)
    pump_until(root, lambda: view.invite is not None, what="the invite from the clipboard")
    assert "Filled in from the invite on your clipboard" in view.invite_status.get()
    assert root.focus_get() is view.connect_button  # the name is known: Connect is next


def test_other_text_on_the_clipboard_at_start_is_left_alone(root):
    _put_on_clipboard(root, "correct horse battery staple")
    view = _view(root)
    root.update()
    assert view.invite is None and view.invite_status.get() == ""
    assert view.vars["password"].get() == ""


def test_a_damaged_invite_on_the_clipboard_at_start_is_reported_not_used(root):
    _put_on_clipboard(root, INVITE[:-3])
    view = _view(root)
    pump_until(root, lambda: view.invite_status.get() != "", what="the report")
    assert view.invite_status.get().startswith("The invite on your clipboard cannot be used")
    assert view.invite is None


# -- two apps: one hosts and copies, the other pastes and joins ------------------------------------


@pytest.fixture
def second_root() -> Iterator[tk.Tk]:
    window = tk.Tk(className="socketchat")
    window.geometry("700x600+0+0")
    yield window
    with contextlib.suppress(tk.TclError):
        window.destroy()


def _guest(window: tk.Tk, tmp_path: Path) -> App:
    return App(
        window,
        settings_dir=tmp_path / "guest-settings",
        data_dir=tmp_path / "guest-data",
        kdf_cost=CHEAP,
        bind_host="127.0.0.1",
        confirm=lambda *_: True,
        system_dark=lambda: None,
    )


def test_an_invite_copied_in_the_host_app_joins_from_another_in_one_step(
    make_app, root, second_root, tmp_path
):
    from gui.host import HostRequest
    from net.reach import Scope

    host = make_app()
    assert host.login is not None
    hosting = HostRequest(
        port=0, password="cactus-ripple-mammal-sprint", username="alice", scope=Scope.COMPUTER
    )
    host.hosting_flow.host_chosen(hosting)
    pump_until(root, lambda: host.chat is not None and host.invite is not None, what="hosting")
    secret = host.relay.relay.secret
    panel = host.invite
    panel.copy_invite()
    copied = root.clipboard_get()
    assert copied == format_invite(
        Invite(
            "127.0.0.1",
            host.relay.port,
            secret.room_id,
            secret.relay_key,
            "cactus-ripple-mammal-sprint",
        )
    )

    guest = _guest(second_root, tmp_path)
    try:
        login = guest.login
        assert login is not None
        pump_until(second_root, lambda: login.invite is not None, what="the invite found")
        login.vars["username"].set("friend")
        login.connect()  # the one step: the invite filled everything else
        address = relay_address("127.0.0.1", host.relay.port, secret.room_id)
        assert guest.trust.relay_key(address) == secret.relay_key  # pinned before connecting
        pump_until(second_root, lambda: guest.chat is not None, what="the guest's chat")
        assert guest.client is not None and guest.client.ask_room == secret.room_id
        chat = host.chat
        pump_until(root, lambda: "friend" in [m.name for m in chat.members], what="friend listed")
    finally:
        guest.close()


def test_an_invite_naming_another_relay_stops_before_the_password(make_app, root, keys):
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    port = relay.start()
    try:
        app = make_app()
        impostor_key = Identity.generate().signing_public  # not this relay's key
        invite = format_invite(Invite("127.0.0.1", port, keys.room_id, impostor_key, PASSWORD))
        assert app.login is not None
        assert app.login.use_invite(invite)
        app.login.vars["username"].set("alice")
        app.login.connect()
        pump_for_failure(app, root)
        text = app.login.failure.get()
        assert text.startswith(f"This is not the relay your invite names: 127.0.0.1:{port}")
        assert app.login.failure_action_label == ""  # no "Trust the new relay": the invite said
        assert relay.stats().members == ()
    finally:
        relay.stop()
