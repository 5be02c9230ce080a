"""The top of a chat window: the room's name, how the conversation stands, and its buttons.

:class:`ChatHeader` shows the room's title (the room list's label), one line that says the
conversation is end-to-end encrypted (green, while connected) or not connected (muted), the
room's history setting in a room with an owner ("New members can read recent history"), and
on the right **Your safety code…**, **Invite friends…** (a room hosted here) and **View**. The
chat window grids it in its first row and tells it what changed, on the Tk thread.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.chat_text import ENCRYPTED, HISTORY_NOT_SHARED, HISTORY_SHARED, NOT_CONNECTED
from gui.safetext import display_name
from gui.theme import Palette


class ChatHeader(ttk.Frame):
    """Made once by the chat window. ``on_safety_code``, ``on_invite`` and ``view_menu``
    (which makes the View menu for the button it is given) add their buttons when given."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        title: str,
        palette: Palette,
        on_safety_code: Callable[[], object] | None,
        on_invite: Callable[[], None] | None,
        view_menu: Callable[[tk.Misc], tk.Menu] | None,
    ) -> None:
        super().__init__(master, padding=(14, 10, 14, 8))
        self.columnconfigure(1, weight=1)
        #: What the encryption line says while connected (a private conversation says more).
        self.encrypted_text = ENCRYPTED
        self.encryption = tk.StringVar(self, "")
        #: The room's history setting, under the encryption line ("" in a room without owner).
        self.room_setting = tk.StringVar(self, "")
        self.title_label = ttk.Label(self, text=title, style="Header.TLabel")
        self.title_label.grid(row=0, column=0, sticky="w")
        self.encryption_label = ttk.Label(self, textvariable=self.encryption)
        # Under the buttons too: the whole width of the window is the label's.
        self.encryption_label.grid(row=1, column=0, columnspan=5, sticky="w")
        self.setting_label = ttk.Label(
            self, textvariable=self.room_setting, foreground=palette.muted
        )
        self.setting_label.grid(row=2, column=0, columnspan=5, sticky="w")
        self.setting_label.grid_remove()  # shown for a room with an owner, once joined
        self.code_button: ttk.Button | None = None
        if on_safety_code is not None:
            self.code_button = ttk.Button(self, text="Your safety code…", command=on_safety_code)
            self.code_button.grid(row=0, column=2, sticky="e", padx=(8, 0))
        if on_invite is not None:
            ttk.Button(self, text="Invite friends…", command=on_invite).grid(
                row=0, column=3, sticky="e", padx=(8, 0)
            )
        self.view_button: ttk.Menubutton | None = None
        if view_menu is not None:
            self.view_button = ttk.Menubutton(self, text="View")
            self.view_button.configure(menu=view_menu(self.view_button))
            self.view_button.grid(row=0, column=4, sticky="e", padx=(8, 0))

    def set_title(self, title: str) -> None:
        """The room was renamed: its label, as the room list shows it."""
        self.title_label.configure(text=display_name(title))

    def show_connected(self, connected: bool, palette: Palette) -> None:
        """The encryption line: encrypted while connected, else not connected."""
        if connected:
            self.encryption.set(self.encrypted_text)
            self.encryption_label.configure(foreground=palette.good)
        else:
            self.encryption.set(NOT_CONNECTED)
            self.encryption_label.configure(foreground=palette.muted)

    def show_room_setting(self, history_for_newcomers: bool | None) -> None:
        """The room's history setting; nothing for a room without an owner (``None``)."""
        if history_for_newcomers is None:
            self.room_setting.set("")
            self.setting_label.grid_remove()
            return
        self.room_setting.set(HISTORY_SHARED if history_for_newcomers else HISTORY_NOT_SHARED)
        self.setting_label.grid()

    def show_peer(self, text: str, colour: str) -> None:
        """A private conversation: the other person's state, where a room's setting goes."""
        self.room_setting.set(text)
        self.setting_label.configure(foreground=colour)
        self.setting_label.grid()

    def add_button(self, text: str, command: Callable[[], object]) -> ttk.Button:
        """One more button on the right of the title (before the others)."""
        button = ttk.Button(self, text=text, command=command)
        button.grid(row=0, column=1, sticky="e", padx=(8, 0))
        return button

    def apply_palette(self, palette: Palette, *, connected: bool) -> None:
        self.encryption_label.configure(foreground=palette.good if connected else palette.muted)
        self.setting_label.configure(foreground=palette.muted)
