"""Keyboard use of the chat window and dialogs, zoom, themes, resizing and window placement,
on real Tk under Xvfb. Keys are sent with ``event_generate`` to the widget that has the focus,
as a person pressing them would."""

from __future__ import annotations

import contextlib
import itertools
import time
import tkinter as tk
from tkinter import font as tkfont

import pytest

from gui.app import App
from gui.chat import ChatWindow
from gui.dialogs import ConfirmDialog
from gui.host import HostDialog
from gui.invite import InvitePanel
from gui.login import LoginView
from gui.notify import DesktopNotifications
from gui.screen import Area, fit, place_within
from gui.settings import Settings, load_settings, save_settings
from gui.theme import DARK, LIGHT, apply_theme, current_palette
from net.client import PendingMessage
from net.client import events as ce
from tests.gui.conftest import joined as joined_event
from tests.gui.conftest import members_of, pump_until

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(1))


def received(sender: str, text: str) -> ce.MessageReceived:
    return ce.MessageReceived(
        sender=sender,
        text=text,
        message_id=next(_ids),
        timestamp_ms=NOW_MS,
        from_history=False,
        own=False,
    )


@pytest.fixture
def chat(root):
    sent: list[str] = []

    def send(text: str) -> PendingMessage:
        sent.append(text)
        return PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS)

    apply_theme(root)
    window = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=send,
        is_focused=lambda: True,
    )
    window.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    root.update()
    window.entry.focus_force()
    pump_until(root, lambda: root.focus_get() is window.entry, what="focus on the entry")
    window.sent = sent
    return window


def press(root: tk.Misc, sequence: str) -> None:
    """Send a key to whatever has the focus, as the keyboard would."""
    widget = root.focus_get()
    assert widget is not None, "nothing has the keyboard focus"
    widget.event_generate(sequence)
    root.update()


def fill(window: ChatWindow, count: int = 120) -> None:
    for number in range(count):
        window.handle(received("bob", f"message number {number}"))
    window.flush()
    window.update()


# -- the compose box ----------------------------------------------------------------------


def test_tab_and_shift_tab_leave_the_compose_box_ctrl_tab_inserts_a_tab(chat, root):
    press(root, "<Control-Tab>")
    assert chat.entry.get("1.0", "end-1c") == "\t"
    press(root, "<Tab>")
    assert root.focus_get() is chat.send_button
    chat.entry.focus_force()
    pump_until(root, lambda: root.focus_get() is chat.entry)
    press(root, "<Shift-Tab>")
    assert root.focus_get() is not chat.entry
    assert root.focus_get() is chat.member_list  # the member list comes before it
    press(root, "<Shift-Tab>")
    assert root.focus_get() is chat.messages.text  # and the conversation before that


def test_page_keys_and_ctrl_home_end_scroll_the_conversation_from_the_compose_box(chat, root):
    fill(chat)
    assert chat.messages.at_end()
    press(root, "<Prior>")
    first_up = chat.messages.text.yview()
    assert first_up[1] < 0.999
    press(root, "<Prior>")
    assert chat.messages.text.yview()[0] < first_up[0]
    press(root, "<Next>")
    press(root, "<Control-Home>")
    assert chat.messages.text.yview()[0] == 0.0
    press(root, "<Control-End>")
    assert chat.messages.at_end()
    assert root.focus_get() is chat.entry  # the cursor never left the compose box


def test_up_in_an_empty_box_brings_back_the_last_message_and_sends_it_as_new(chat, root):
    press(root, "<Up>")
    assert chat.entry.get("1.0", "end-1c") == ""  # nothing sent yet
    chat.entry.insert("1.0", "hello wrold")
    press(root, "<Return>")
    assert chat.sent == ["hello wrold"]
    press(root, "<Up>")
    assert chat.entry.get("1.0", "end-1c") == "hello wrold"
    chat.entry.delete("1.0", "end")
    chat.entry.insert("1.0", "hello world")
    press(root, "<Up>")  # not empty now: Up moves the cursor, the text stays
    assert chat.entry.get("1.0", "end-1c") == "hello world"
    press(root, "<Return>")
    assert chat.sent == ["hello wrold", "hello world"]  # a new message, the first unchanged
    assert "↑" in chat.hint_label.cget("text") and "new" in chat.hint_label.cget("text")


def test_focus_rings_are_visible_in_both_themes(root):
    for palette in (LIGHT, DARK):
        apply_theme(root, dark=palette.dark)
        chat = ChatWindow(
            root,
            room="r:1",
            username="alice",
            members=members_of("alice"),
            send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=0),
            palette=palette,
        )
        for widget in (chat.entry, chat.messages.text):
            assert int(widget.cget("highlightthickness")) >= 2
            assert widget.cget("highlightcolor") == palette.accent
            assert widget.cget("highlightcolor") != widget.cget("background")
        chat.destroy()


# -- dialogs close with Escape --------------------------------------------------------------


def test_escape_closes_the_host_dialog_the_invite_panel_and_the_confirmation(root):
    apply_theme(root)
    outcomes: list[object] = []
    dialog = HostDialog(root, on_done=outcomes.append, passphrase=lambda: "a b c d e f g")
    root.update()
    press(root, "<Escape>")
    assert outcomes == [None] and not dialog.winfo_exists()

    panel = InvitePanel(
        root,
        addresses=["192.0.2.1"],
        port=7777,
        password="pw",
        room_id=bytes(16),
        relay_key=bytes(32),
    )
    panel.focus_force()
    pump_until(root, lambda: root.focus_get() is not None)
    panel.event_generate("<Escape>")
    root.update()
    assert not panel.winfo_exists()


def test_confirmation_is_themed_and_the_safe_answer_is_the_default(root):
    palette = apply_theme(root, dark=True)
    dialog = ConfirmDialog(
        root, title="Close the room?", heading="Close the room?", text="t", confirm="Close"
    )
    pump_until(root, lambda: root.focus_get() is dialog.cancel_button, what="focus on Cancel")
    assert str(dialog.cancel_button.cget("default")) == "active"
    assert current_palette(dialog) is palette
    press(root, "<Return>")
    assert dialog.result is False and not dialog.winfo_exists()

    dialog = ConfirmDialog(root, title="t", heading="h", text="t", confirm="Close")
    pump_until(root, lambda: root.focus_get() is dialog.cancel_button)
    press(root, "<Escape>")
    assert dialog.result is False

    dialog = ConfirmDialog(root, title="t", heading="h", text="t", confirm="Close")
    pump_until(root, lambda: root.focus_get() is dialog.cancel_button)
    press(root, "<Shift-Tab>")  # to the Close button, then Enter presses it
    assert root.focus_get() is dialog.confirm_button
    press(root, "<Return>")
    assert dialog.result is True


# -- the app: zoom, theme, placement --------------------------------------------------------


async def _quiet(_title: str, _body: str) -> None:
    return None


def make_app(root: tk.Tk, settings_dir, **options) -> App:
    options.setdefault("system_dark", lambda: None)
    options.setdefault("data_dir", settings_dir / "data")
    return App(
        root,
        settings_dir=settings_dir,
        confirm=lambda *_: True,
        notifications=DesktopNotifications(sender=_quiet),
        **options,
    )


def joined(app: App) -> ChatWindow:
    from gui.login import LoginRequest

    # The room a login started, joined: the app's own path from the login view on.
    room = app.new_room()
    room.request = LoginRequest("example.org", 7777, "pw", "alice")
    app.joining = room
    app.joining_flow.joined(room, joined_event("alice", "bob"))
    assert app.chat is not None
    app.root.update()
    return app.chat


def test_ctrl_plus_minus_zero_zoom_the_conversation_and_are_remembered(root, tmp_path):
    app = make_app(root, tmp_path)
    chat = joined(app)
    chat.entry.focus_force()
    pump_until(root, lambda: root.focus_get() is chat.entry)
    size = tkfont.nametofont("SocketChatMessage", root).actual("size")
    header = tkfont.nametofont("SocketChatHeader", root).actual("size")
    press(root, "<Control-plus>")
    press(root, "<Control-equal>")
    assert tkfont.nametofont("SocketChatMessage", root).actual("size") == size + 2
    assert tkfont.nametofont("SocketChatBold", root).actual("size") == size + 2
    assert tkfont.nametofont("SocketChatHeader", root).actual("size") == header  # rest stays
    assert chat.entry.cget("font") == "SocketChatMessage"
    assert chat.entry.get("1.0", "end-1c") == ""  # the keys typed nothing
    assert load_settings(tmp_path).zoom == 2
    press(root, "<Control-minus>")
    assert load_settings(tmp_path).zoom == 1
    press(root, "<Control-Key-0>")
    assert tkfont.nametofont("SocketChatMessage", root).actual("size") == size
    assert load_settings(tmp_path).zoom == 0
    for _ in range(40):
        app.change_zoom(1)
    assert load_settings(tmp_path).zoom == 12  # bounded
    app.close()


def dark(widget: tk.Misc, colour: object) -> bool:
    return sum(widget.winfo_rgb(str(colour))) / (3 * 65535) < 0.25


def test_dark_theme_reaches_every_plain_widget_and_is_remembered(root, tmp_path):
    app = make_app(root, tmp_path)
    chat = joined(app)
    assert chat.messages.text.cget("background") == LIGHT.surface
    app.set_theme("dark")
    root.update()
    assert chat.messages.text.cget("background") == DARK.surface
    assert chat.entry.cget("background") == DARK.surface
    assert chat.member_list.cget("background") == DARK.background
    # Menus: ours, or sv-ttk's own dark grey once it has seen the theme change.
    assert app.view_menu is not None and dark(root, app.view_menu.cget("background"))
    menu = chat.messages.build_menu("1.0")
    assert dark(root, menu.cget("background"))
    assert root.cget("background") == DARK.background
    assert load_settings(tmp_path).theme == "dark"
    app.close()


def test_theme_follows_the_system_unless_forced(root, tmp_path):
    app = make_app(root, tmp_path, system_dark=lambda: True)
    assert app.palette is DARK
    app.close()
    save_settings(Settings(theme="light"), tmp_path)
    again = tk.Tk()
    try:
        app = make_app(again, tmp_path, system_dark=lambda: True)
        assert app.palette is LIGHT
        app.close()
    finally:
        with contextlib.suppress(tk.TclError):
            again.destroy()


def test_muting_a_room_is_remembered_per_room(root, tmp_path):
    app = make_app(root, tmp_path)
    chat = joined(app)
    chat.mute_button.invoke()
    assert load_settings(tmp_path).muted_rooms == ("example.org:7777",)
    app.close()
    again = tk.Tk()
    try:
        app = make_app(again, tmp_path)
        chat = joined(app)
        assert chat.muted.get() is True
        app.close()
    finally:
        with contextlib.suppress(tk.TclError):
            again.destroy()


def test_chat_never_grows_off_screen(root):
    screen_w, screen_h = root.winfo_screenwidth(), root.winfo_screenheight()
    root.geometry(f"480x320+{screen_w - 500}+{screen_h - 340}")
    root.update()
    place_within(root, (920, 640))
    root.update()
    assert root.winfo_x() + root.winfo_width() <= screen_w
    assert root.winfo_y() + root.winfo_height() <= screen_h
    assert root.winfo_x() >= 0 and root.winfo_y() >= 0


def test_fit_shrinks_and_moves_into_the_work_area():
    area = Area(0, 0, 1280, 800)
    assert fit((920, 640), (100, 100), area) == (920, 640, 100, 100)
    assert fit((920, 640), (1000, 700), area) == (920, 640, 360, 128)
    assert fit((2000, 2000), (50, 50), area) == (1280, 768, 0, 0)
    assert fit((920, 640), (-300, -50), Area(0, 30, 1280, 770)) == (920, 640, 0, 30)


# -- resizing and wide windows ---------------------------------------------------------------


def test_view_stays_pinned_to_the_newest_message_when_the_window_shrinks(chat, root):
    root.geometry("900x640")
    fill(chat, 80)
    assert chat.messages.at_end()
    root.geometry("700x360")
    pump_until(root, lambda: chat.messages.text.winfo_height() < 300, what="the shrink")
    root.update()
    assert chat.messages.at_end()
    chat.handle(received("bob", "after the resize"))
    chat.flush()
    root.update()
    assert chat.messages.at_end()
    assert chat.messages.unseen == 0


def test_zooming_keeps_the_newest_message_in_view(root, tmp_path):
    app = make_app(root, tmp_path)
    chat = joined(app)
    fill(chat, 60)
    assert chat.messages.at_end()
    for _ in range(4):
        app.change_zoom(1)
    pump_until(root, lambda: not chat.messages._holding_pin, what="the zoom's relayout")
    root.update()
    assert chat.messages.at_end()
    chat.handle(received("bob", "after the zoom"))
    chat.flush()
    root.update()
    assert chat.messages.at_end() and chat.messages.unseen == 0
    app.close()


def test_scrolled_up_stays_where_it_was_through_a_resize(chat, root):
    fill(chat, 80)
    chat.messages.scroll_to_top()
    root.update()
    root.geometry("800x500")
    root.update()
    assert chat.messages.text.yview()[0] == 0.0


def test_wide_windows_keep_a_readable_line_length(chat, root):
    chat.messages.update_wrap_width(700)
    narrow = chat.messages.body_right_margin
    chat.messages.update_wrap_width(2000)
    wide = chat.messages.body_right_margin
    assert narrow == 8
    assert wide > 1000
    text_width = 2000 - wide
    assert 500 < text_width < 1000


# -- the login view: host:port ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "host", "port"),
    [
        ("chat.example.org:7000", "chat.example.org", "7000"),
        ("[2001:db8::1]:7001", "2001:db8::1", "7001"),
        ("192.0.2.7:80", "192.0.2.7", "80"),
    ],
)
def test_host_port_in_the_host_field_is_split_when_leaving_it(root, typed, host, port):
    apply_theme(root)
    view = LoginView(
        root, Settings(), on_connect=lambda r: None, on_host=lambda: None, on_cancel=lambda: None
    )
    view.grid()
    view.entries["host"].focus_force()
    pump_until(root, lambda: root.focus_get() is view.entries["host"])
    view.vars["host"].set(typed)
    press(root, "<Tab>")
    assert (view.vars["host"].get(), view.vars["port"].get()) == (host, port)


def test_host_port_split_on_connect_too(root):
    requests = []
    view = LoginView(
        root, Settings(), on_connect=requests.append, on_host=lambda: None, on_cancel=lambda: None
    )
    view.vars["host"].set("[::1]:7002")
    view.vars["password"].set("secret words")
    view.vars["username"].set("alice")
    view.connect()
    assert [(r.host, r.port) for r in requests] == [("::1", 7002)]


def test_ttk_buttons_get_a_visible_focus_ring_in_both_themes(root):
    from gui import focusring

    focusring.install(root)
    for palette in (LIGHT, DARK):
        apply_theme(root, dark=palette.dark)
        chat = ChatWindow(
            root,
            room="r:1",
            username="alice",
            members=members_of("alice"),
            send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=0),
            palette=palette,
        )
        chat.grid(row=0, column=0, sticky="nsew")
        root.update()
        chat.entry.focus_force()
        pump_until(root, lambda chat=chat: root.focus_get() is chat.entry)
        press(root, "<Tab>")  # to Send
        ring = focusring.ring_for(chat.send_button)
        assert ring is not None
        assert ring.cget("background") == palette.text  # Send is an accent button
        assert ring.winfo_width() == chat.send_button.winfo_width() + 2 * focusring.RING
        chat.mute_button.focus_set()
        root.update()
        assert focusring.ring_for(chat.send_button) is None
        ring = focusring.ring_for(chat.mute_button)
        assert ring is not None and ring.cget("background") == palette.accent
        chat.destroy()


def test_ask_waits_for_the_answer_and_escape_means_no(root):
    from gui.dialogs import ask

    apply_theme(root)
    answers = []

    def press_later(sequence: str) -> None:
        def go() -> None:
            dialog = next(w for w in root.winfo_children() if isinstance(w, ConfirmDialog))
            dialog.focus_force()
            root.update()
            (root.focus_get() or dialog).event_generate(sequence)

        root.after(200, go)

    press_later("<Escape>")
    answers.append(ask(root, title="t", heading="h", text="x", confirm="Close the room"))
    press_later("<Return>")  # Cancel has the focus
    answers.append(ask(root, title="t", heading="h", text="x", confirm="Close the room"))
    assert answers == [False, False]


def test_view_menu_switches_theme_and_zoom(root, tmp_path):
    app = make_app(root, tmp_path)
    chat = joined(app)
    menu = app.view_menu
    assert menu is not None
    labels = [
        menu.entrycget(i, "label")
        for i in range(menu.index("end") + 1)
        if menu.type(i) != "separator"
    ]
    assert labels[:3] == ["Theme: follow the system", "Theme: light", "Theme: dark"]
    menu.invoke(labels.index("Theme: dark"))
    assert app.palette is DARK and load_settings(tmp_path).theme == "dark"
    menu.invoke(menu.index("Zoom in"))
    assert load_settings(tmp_path).zoom == 1
    menu.invoke(menu.index("Mute this room"))
    assert chat.muted.get() is True
    app.close()
