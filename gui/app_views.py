"""What the app's one window shows: the login view or a room's chat, with the room list beside.

The window holds one view at a time in its right-hand column: the login view (the first
window, Join or host a room…, Back to rooms; the same view comes back with its progress while
a room started from it is still joining), the current room's chat window, or, when this
device's identity cannot be loaded, the view that says so (``gui/identity_problem.py``). The
room list (``gui/roomlist.py``) sits on the left once there is a room, each room's private
conversations under it (a private conversation shown is its room's ``view``,
``gui/app_private.py``); Ctrl+K jumps to a room or a private conversation by name. Choosing
a closed remembered room opens it.

:class:`Views` works on the app (``gui/app.py``), on the Tk thread: ``app.current`` is the room
shown (None: the login view), ``app.login`` the login view while it exists.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.identity_problem import IdentityProblemView
from gui.login import LoginView
from gui.roomlist import JumpDialog, RoomState
from gui.screen import place_within
from gui.verify import SafetyCodeDialog
from net import client as ce

if TYPE_CHECKING:
    from gui.app import App

LOGIN_SIZE = (480, 320)
_CHAT_SIZE = (920, 640)
_LIST_WIDTH = 230  # the room list's share of the window, beside the conversation


class Views:
    """Made once by the app. ``is_focused`` says whether the window has the focus (tests
    replace it; default: ask Tk)."""

    def __init__(self, app: App, is_focused: Callable[[], bool] | None) -> None:
        self._app = app
        self._is_focused = is_focused

    def show_login(self) -> None:
        """Show the login view: the first window, Join or host a room…, Back to rooms.
        While a room started from it is still joining, the same view (with its progress)
        comes back."""
        app = self._app
        if app.identity is None:
            return
        self._hide_current()
        app.current = None
        if app.login is None:
            app.login = LoginView(
                app.root,
                app.settings,
                on_connect=app.joining_flow.connect,
                on_host=app.hosting_flow.open_host_dialog,
                on_cancel=app.joining_flow.cancel_connect,
                logo=app.logo,
                on_safety_code=self.show_safety_code,
                rooms_list=app.finder.enabled,
                remember=app.memory is not None,
            )
            if app.memory_available is False:
                app.login.remember_unavailable(app.memory_why)
        app.login.grid(row=0, column=1, sticky="nsew")
        app.finder.start_soon()
        app.root.title("SocketChat")
        self.layout()
        app.login.focus_first_empty()
        self.refresh_rooms()

    def show_identity_problem(self) -> None:
        """Instead of the login view: this device's identity cannot be loaded (and is not
        replaced); say why, where it lives, and offer Quit."""
        app = self._app
        folder = app.data_dir
        if folder is None:
            with contextlib.suppress(Exception):  # only for the text: never fail here
                folder = ce.data_dir()
        app.problem = IdentityProblemView(
            app.root, text=app.identity_problem, folder=folder, on_quit=app.close
        )
        app.problem.grid(row=0, column=1, sticky="nsew")
        app.root.title("SocketChat — cannot start")
        app.root.minsize(*LOGIN_SIZE)
        app.problem.quit_button.focus_set()

    def show_safety_code(self) -> SafetyCodeDialog | None:
        """ "Your safety code…" from the login view: this device's code, to read aloud."""
        app = self._app
        if app.identity is None:
            return None
        if app.code_dialog is not None and app.code_dialog.winfo_exists():
            app.code_dialog.lift()
            return app.code_dialog
        app.code_dialog = SafetyCodeDialog(app.root, app.identity.public)
        return app.code_dialog

    def choose_room(self, token: int) -> None:
        """Show the room ``token`` (a click in the room list, Ctrl+K, a remembered room at
        start), or the private conversation ``token`` in its room. A remembered room that is
        closed opens (or, without its keys, the login view comes with its host, port and name
        filled in)."""
        app = self._app
        found = app.privates.of(token)
        room, view = found if found is not None else (app.room_of(token), None)
        if room is None:
            return
        if room is app.current and room.view is view and room.shown_chat is not None:
            return
        if room.state is RoomState.CLOSED and not app.room_life.reopen(room):
            return
        self._hide_current()
        app.current = room
        room.view = view
        if room.chat is None:
            app.room_life.make_chat(room, None)
        if view is not None and view.chat is None:
            app.privates.make_chat(room, view)
        chat = room.shown_chat
        assert chat is not None
        chat.grid(row=0, column=1, sticky="nsew")
        chat.update_title()
        self.layout()
        place_within(app.root, (_CHAT_SIZE[0] + _LIST_WIDTH, _CHAT_SIZE[1]))
        if self.window_has_focus():
            chat.mark_read()
        self.refresh_rooms()

    def focus_conversation(self, token: int) -> None:
        """Enter in the room list (or Ctrl+K): the keyboard goes to the compose box of the
        room (or private conversation) ``token``."""
        self.choose_room(token)
        chat = self._app.chat
        if chat is not None:
            chat.entry.focus_set()

    def open_jump(self) -> str:
        """Ctrl+K: a small box to jump to a room by typing part of its name."""
        app = self._app
        if not app.rooms:
            return "break"
        if app.jump is not None and app.jump.winfo_exists():
            app.jump.lift()
            return "break"
        app.jump = JumpDialog(
            app.root,
            [row for room in app.rooms for row in room.rows()],
            on_jump=self.focus_conversation,
            palette=app.palette,
        )
        return "break"

    def refresh_rooms(self) -> None:
        """The room list says what the rooms are now (after any change of state or count)."""
        app = self._app
        room = app.current
        current = None
        if room is not None:
            current = room.view.token if room.view is not None else room.token
        app.room_list.show([row for room in app.rooms for row in room.rows()], current)
        app.tray_flow.update_title()  # the tray icon's tooltip counts unread messages too

    def layout(self) -> None:
        """The room list beside the view once there is a room; the window's size for it."""
        app = self._app
        listed = bool(app.rooms)
        if listed:
            app.room_list.grid(row=0, column=0, sticky="ns")
        else:
            app.room_list.grid_remove()
        extra = _LIST_WIDTH if listed else 0
        if app.current is None:
            app.root.minsize(LOGIN_SIZE[0] + extra, LOGIN_SIZE[1])
            if not listed:
                app.root.geometry("")  # the login view's natural size
        else:
            app.root.minsize(640 + extra, 420)

    def window_has_focus(self) -> bool:
        if self._is_focused is not None:
            return self._is_focused()
        try:
            return self._app.root.focus_displayof() is not None
        except (KeyError, tk.TclError):
            return False

    def window_focused(self, _event: tk.Event) -> None:
        """The window got the focus: the room shown is read."""
        if self._app.chat is not None:
            self._app.chat.mark_read()

    def _hide_current(self) -> None:
        """Take the current view off the window (the room stays as it is)."""
        app = self._app
        if app.current is not None and app.current.shown_chat is not None:
            app.current.shown_chat.grid_remove()
        if app.login is not None:
            if app.login.busy:
                app.login.grid_remove()  # its attempt goes on; Join or host shows it again
            else:
                app.login.destroy()
                app.login = None
                app.finder.stop()
