"""How the app looks and sounds: the theme, the zoom, each room's View menu and its Mute switch.

View → Theme follows the system (``gui/system_theme.py``, asked once, only while it is the
choice), or is light or dark; every window follows at once. Ctrl+plus / Ctrl+minus / Ctrl+0
zoom the whole app; the conversation keeps its place. A room's Mute switch starts as
remembered for that room (by host and port) and is remembered when changed. The View menu
also holds the tray setting (``gui/app_tray.py``, which keeps its entry's words up to date).
Every choice goes to the settings file (``gui/settings.py``).

:class:`Look` works on the app (``gui/app.py``), on the Tk thread; the app keeps what the rest
reads (``theme``, ``zoom``, ``palette``, ``view_menus``).
"""

from __future__ import annotations

import functools
import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.chat import ChatWindow
from gui.room import Room
from gui.settings import THEMES, room_key
from gui.theme import apply_theme, colour_menu, set_zoom

if TYPE_CHECKING:
    from gui.app import App


class Look:
    """Made once by the app, before its first window; binds the zoom keys on ``app.root``.
    ``system_dark`` says whether the system prefers dark (None: it does not say)."""

    def __init__(self, app: App, system_dark: Callable[[], bool | None]) -> None:
        self._app = app
        theme = app.settings.theme
        self._system_dark = system_dark() if theme == "system" else None
        self._system_dark_asked = theme == "system"
        self._system_dark_reader = system_dark
        root = app.root
        for sequence in ("<Control-plus>", "<Control-equal>", "<Control-KP_Add>"):
            root.bind(sequence, lambda _e: self.change_zoom(1))
        for sequence in ("<Control-minus>", "<Control-KP_Subtract>"):
            root.bind(sequence, lambda _e: self.change_zoom(-1))
        for sequence in ("<Control-Key-0>", "<Control-KP_0>", "<Control-KP_Insert>"):
            root.bind(sequence, lambda _e: self.change_zoom(None))

    def dark(self) -> bool:
        """Whether the theme chosen now is dark."""
        theme = self._app.theme.get()
        if theme == "system":
            if not self._system_dark_asked:
                self._system_dark = self._system_dark_reader()
                self._system_dark_asked = True
            return bool(self._system_dark)
        return theme == "dark"

    def set_theme(self, theme: str) -> None:
        """View → Theme: "system", "light" or "dark"; every window follows, and it is
        remembered."""
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}")
        app = self._app
        app.theme.set(theme)
        app.palette = apply_theme(app.root, dark=self.dark(), zoom=app.zoom)
        for room in app.rooms:
            for chat in room.chats():  # the room's own and its private conversations
                chat.apply_palette(app.palette)
        for menu in app.view_menus.values():
            self.colour_menu(menu)
        app.room_list.apply_palette(app.palette)
        if app.login is not None:  # its coloured labels were made with the old palette
            shown = app.current is None
            busy = app.login.busy
            if not busy:
                app.login.destroy()
                app.login = None
                if shown:
                    app.views.show_login()
        for room in app.rooms:
            if room.invite is not None and room.invite.winfo_exists():
                room.invite.destroy()
                room.invite = None
                app.hosting_flow.show_invite(room)
        app.save_settings(theme=theme)

    def change_zoom(self, steps: int | None) -> str:
        """Ctrl+plus / Ctrl+minus (``steps`` ±1) and Ctrl+0 (``None``: back to 100 %)."""
        app = self._app
        zoom = 0 if steps is None else app.zoom + steps
        if app.chat is not None:
            app.chat.messages.hold_pin()
        app.zoom = set_zoom(app.root, zoom)
        for room in app.rooms:
            for chat in room.chats():
                chat.messages.update_wrap_width()
        app.save_settings(zoom=app.zoom)
        return "break"

    def build_view_menu(self, master: tk.Misc, room: Room, token: int | None = None) -> tk.Menu:
        """The View menu of ``room``'s chat window (its header's View button), or of its
        private conversation ``token``'s."""
        app = self._app

        def chat() -> ChatWindow | None:
            """The window whose menu this is (a file sent from it goes where it does)."""
            found = app.privates.of(token) if token is not None else None
            return found[1].chat if found is not None else room.chat

        menu = tk.Menu(master, tearoff=False)
        for value, label in (
            ("system", "Theme: follow the system"),
            ("light", "Theme: light"),
            ("dark", "Theme: dark"),
        ):
            menu.add_radiobutton(
                label=label,
                value=value,
                variable=app.theme,
                command=functools.partial(self.set_theme, value),
            )
        menu.add_separator()
        menu.add_command(label="Zoom in", accelerator="Ctrl++", command=lambda: self.change_zoom(1))
        menu.add_command(
            label="Zoom out", accelerator="Ctrl+-", command=lambda: self.change_zoom(-1)
        )
        menu.add_command(
            label="Actual size", accelerator="Ctrl+0", command=lambda: self.change_zoom(None)
        )
        menu.add_separator()
        menu.add_checkbutton(label="Mute this room", variable=room.muted)
        menu.add_checkbutton(label="Sound for new messages", variable=app.sound)
        if app.memory is not None:
            menu.add_checkbutton(label="Keep history on this device", variable=app.keep_history)
        menu.add_checkbutton(label=app.tray_flow.setting_label(), variable=app.keep_in_tray)
        menu.add_separator()
        menu.add_command(
            label="Jump to a room…", accelerator="Ctrl+K", command=lambda: app.views.open_jump()
        )
        menu.add_command(
            label="Search…",
            accelerator="Ctrl+F",
            command=lambda: app.history_actions.open_search(),
        )
        menu.add_separator()
        menu.add_command(
            label="Send a file…",
            accelerator="Ctrl+O",
            command=lambda: _choose_file(chat()),
        )
        self.colour_menu(menu)
        app.view_menus[room.token if token is None else token] = menu
        return menu

    def colour_menu(self, menu: tk.Menu) -> None:
        colour_menu(menu, self._app.palette)

    def watch_mute(self, room: Room) -> None:
        """The room's Mute switch starts as remembered, and is remembered when changed."""
        app = self._app
        room.muted.set(self._mute_key(room) in app.settings.muted_rooms)
        room.muted.trace_add("write", lambda *_: self._muted_changed(room))

    def _mute_key(self, room: Room) -> str:
        return room_key("your room" if room.hosting else room.host, room.port)

    def _muted_changed(self, room: Room) -> None:
        app = self._app
        key = self._mute_key(room)
        rooms = [other for other in app.settings.muted_rooms if other != key]
        if room.muted.get():
            rooms.append(key)
        app.save_settings(muted_rooms=tuple(rooms[-200:]))


def _choose_file(chat: ChatWindow | None) -> None:
    """View → Send a file… of ``chat``."""
    if chat is not None:
        chat.file_sending.choose()
