"""Keeping the app in the system tray: the setting, the icon, the window hidden and brought back.

With View → "Keep running in the tray when the window is closed" on (remembered in the
settings; off by default), the app puts its icon in the system tray (``gui/tray.py``) and the
window's close box hides the window instead of quitting: rooms stay connected, unread counts
and desktop notifications go on, and the icon's tooltip says how many messages wait. A click
on the icon (Show SocketChat) brings the window back; Quit SocketChat quits as the close box
does without the tray, asking first when messages wait or a room hosted here would close (the
window comes back for the question).

The window is hidden only while the icon is in a tray. Without one (no pystray, no tray on
this desktop, a tray that does not show the icon) the View menu says why and the close box
quits as before; a tray that goes away while the window is hidden brings the window back. The
icon is tried again every :data:`RETRY_MS` while the setting is on and it is not in a tray (a
panel that starts after the app, or restarts).

:class:`TrayFlow` works on the app (``gui/app.py``) on the Tk thread; the icon's threads reach
it only through the pump, each event tagged with the number of the icon that sent it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.icon import assets_dir
from gui.tray import (
    MENU,
    TrayAction,
    TrayChosen,
    TrayEvent,
    TrayGone,
    TrayIcon,
    TrayMenuAsked,
    TrayProblem,
    TrayShown,
    tray_title,
)

if TYPE_CHECKING:
    from gui.app import App

SETTING = "Keep running in the tray when the window is closed"
RETRY_MS = 15_000
#: Problems a tray may get over by itself (a panel starting late or restarting).
_RETRIED = frozenset({TrayProblem.NO_TRAY, TrayProblem.NOT_TAKEN, TrayProblem.LOST})


class TrayFlow:
    """Made once by the app, after its pump and before its first view; starts the icon at
    once if the setting is on. ``make_icon`` builds the icon (tests: other timings)."""

    def __init__(self, app: App, make_icon: Callable[..., TrayIcon] = TrayIcon) -> None:
        self._app = app
        self._make_icon = make_icon
        self.icon: TrayIcon | None = None
        self.shown = False  # the icon is in a tray now: the close box may hide the window
        self.problem: TrayProblem | None = None  # why it is not, while the setting is on
        self.menu: tk.Menu | None = None  # the icon's menu, where the tray draws none
        self.retry_ms = RETRY_MS
        self._numbers = itertools.count(1)
        self._number = 0  # the icon running now; what older ones say is dropped
        self._title = ""
        self._retry: str | None = None
        app.keep_in_tray.trace_add("write", lambda *_: self._setting_changed())
        if app.keep_in_tray.get():
            self.start()

    # -- the setting and the icon ------------------------------------------------------------

    def setting_label(self) -> str:
        """The View menu's words for the setting: with why it does nothing, when it does not."""
        if self.problem is not None and self._app.keep_in_tray.get():
            return f"{SETTING} (not available: {self.problem.value})"
        return SETTING

    def start(self) -> None:
        """Put the icon in the tray (it says later whether it is there)."""
        if self.icon is not None:
            return
        number = self._number = next(self._numbers)
        self.icon = self._make_icon(
            lambda event: self._app.pump.put((number, event)), image=assets_dir() / "icon-64.png"
        )
        self._title = ""
        self.icon.start()
        self.update_title()

    def stop(self) -> None:
        """Take the icon out of the tray and end its threads (the setting is left alone)."""
        icon, self.icon = self.icon, None
        self.shown = False
        self._number = 0
        self._cancel_retry()
        if icon is not None:
            icon.stop()

    def update_title(self) -> None:
        """The icon's tooltip follows the unread count (after any change of it)."""
        if self.icon is None:
            return
        app = self._app
        # Private conversations count too: each has its own count, apart from its room's.
        title = tray_title(sum(chat.unread for room in app.rooms for chat in room.chats()))
        if title != self._title:
            self._title = title
            self.icon.set_title(title)

    def refresh_menus(self) -> None:
        """Every View menu's entry for the setting says what it does now."""
        label = self.setting_label()
        for menu in self._app.view_menus.values():
            with contextlib.suppress(tk.TclError):  # a menu whose chat is being destroyed
                index = self._entry_of(menu)
                if index is not None:
                    menu.entryconfigure(index, label=label)

    # -- the window --------------------------------------------------------------------------

    def hide_window(self) -> bool:
        """The close box, with the setting on: hide the window if the icon is in a tray (True),
        else leave it to quitting (False)."""
        if self.icon is None or not self.shown:
            return False
        self._app.root.withdraw()
        return True

    def show_window(self) -> None:
        """Show SocketChat: the window back, in front, with the focus (as the window manager
        gives it to a window shown again; Tk's ``focus -force`` was seen to crash Tk 8.6
        under Xvfb after earlier roots of the same process were destroyed)."""
        root = self._app.root
        with contextlib.suppress(tk.TclError):
            root.deiconify()
            root.lift()
            root.focus_set()

    def choose(self, action: TrayAction) -> None:
        """An item of the icon's menu (or a click on the icon: Show SocketChat)."""
        if action is TrayAction.SHOW:
            self.show_window()
        else:
            app = self._app
            if app.quit_flow.asks_first():
                self.show_window()  # the question is asked in front of the window
            app.quit_flow.request_quit()

    # -- events from the icon ------------------------------------------------------------------

    def tray_event(self, number: int, event: TrayEvent) -> None:
        """An event of icon ``number`` from the pump."""
        if number != self._number or self.icon is None:
            return
        if isinstance(event, TrayShown):
            self.shown = True
            self.problem = None
            self._cancel_retry()
            self.refresh_menus()
        elif isinstance(event, TrayGone):
            self.shown = False
            self.problem = event.problem
            self._bring_window_back()
            self.refresh_menus()
            if event.problem in _RETRIED and self._retry is None:
                self._retry = self._app.root.after(self.retry_ms, self._try_again)
        elif isinstance(event, TrayChosen):
            self.choose(event.action)
        elif isinstance(event, TrayMenuAsked):
            self._post_menu(event.x, event.y)

    def _setting_changed(self) -> None:
        app = self._app
        on = app.keep_in_tray.get()
        app.save_settings(keep_in_tray=on)
        self.problem = None
        if on:
            self.start()
        else:
            self.stop()
        self.refresh_menus()

    def _try_again(self) -> None:
        self._retry = None
        if self._app.closed or not self._app.keep_in_tray.get() or self.shown:
            return
        self.stop()
        self.start()

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            with contextlib.suppress(tk.TclError):
                self._app.root.after_cancel(self._retry)
            self._retry = None

    def _bring_window_back(self) -> None:
        """Never leave the window hidden behind an icon nobody can see."""
        with contextlib.suppress(tk.TclError):
            if self._app.root.state() == "withdrawn" and not self._app.closed:
                self.show_window()

    def _post_menu(self, x: int, y: int) -> None:
        app = self._app
        if self.menu is None:
            self.menu = tk.Menu(app.root, tearoff=False)
            for action in MENU:
                self.menu.add_command(
                    label=action.value, command=functools.partial(self.choose, action)
                )
        app.look.colour_menu(self.menu)
        # Beside the pointer, away from the screen's edge: a tray sits on a panel at an edge,
        # and Tk would only push the menu back over the icon.
        menu = self.menu
        menu.update_idletasks()
        width, height = menu.winfo_reqwidth(), menu.winfo_reqheight()
        if x + width > menu.winfo_screenwidth():
            x -= width
        if y + height > menu.winfo_screenheight():
            y -= height
        menu.tk_popup(max(0, x), max(0, y))

    def _entry_of(self, menu: tk.Menu) -> int | None:
        last = menu.index("end")
        variable = str(self._app.keep_in_tray)
        for index in range(last + 1 if last is not None else 0):
            if menu.type(index) == "checkbutton" and str(menu.entrycget(index, "variable")) == (
                variable
            ):
                return index
        return None
