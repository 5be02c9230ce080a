"""The conversation's context menu: what a right-click (or Menu / Shift+F10) offers at a spot.

The menu for a spot of the message list (:meth:`ConversationMenu.build`, an index of its
``tk.Text``): first the entries of the parts that add some for that spot (``sources``: the
not-sent messages' Retry sending and Copy message, a message's Reply and a reply's Show the
original message…), then **Copy link** on a link, **Copy message** on a message (its body as
shown), **Copy** (the selection) and **Select all**. From the keyboard the menu is for the spot
of the insert mark (moved with the arrow keys; the message it is in gets a bar beside it),
else for the last message.

The message list (``gui/messages.py``) owns one and binds it; only the Tk thread calls it.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gui.theme import themed_menu

if TYPE_CHECKING:
    from gui.messages import MessageList

#: The tag of the message the keyboard is on (its look: ``gui/message_look.py``).
KEY_SPOT = "keyspot"
_MOVES = frozenset({"Up", "Down", "Prior", "Next", "Home", "End", "Left", "Right"})

#: Entries a part adds for the spot at an index, as (label, command); [] for none.
MenuEntries = Callable[[str], Sequence[tuple[str, Callable[[], object]]]]


class ConversationMenu:
    """Binds the right-click and the menu keys on ``messages.text``."""

    def __init__(self, messages: MessageList) -> None:
        self._messages = messages
        self.menu: tk.Menu | None = None  # the menu while it is open (tests look)
        #: The parts' entries, put first, in order.
        self.sources: list[MenuEntries] = []
        text = messages.text
        text.bind("<Button-3>", self._on_right_click)
        text.bind("<Shift-F10>", self._on_menu_key)
        text.bind("<Menu>", self._on_menu_key)
        # The keyboard's spot: the arrow keys move the insert mark (an invisible cursor in a
        # read-only text); the message it is in gets a bar beside it, so the menu keys are
        # seen to act on that one.
        text.bind("<KeyPress>", self._on_key_moved, add="+")
        text.bind("<FocusOut>", lambda _e: text.tag_remove(KEY_SPOT, "1.0", "end"), add="+")

    def build(self, index: str) -> tk.Menu:
        """The menu for the spot ``index``."""
        messages = self._messages
        menu = themed_menu(messages, messages.palette)
        sources = [messages.menu_extras, *self.sources]
        extras = [entry for source in sources if source is not None for entry in source(index)]
        for label, command in extras:
            menu.add_command(label=label, command=command)
        if extras:
            menu.add_separator()
        url = messages.link_at(index)
        if url is not None:
            menu.add_command(label="Copy link", command=lambda: messages.copy_text(url))
        body = messages.message_at(index)
        if body is not None:
            menu.add_command(label="Copy message", command=lambda: messages.copy_text(body))
        if url is not None or body is not None:
            menu.add_separator()
        has_selection = bool(messages.text.tag_ranges("sel"))
        menu.add_command(
            label="Copy",
            command=messages.copy_selection,
            state="normal" if has_selection else "disabled",
        )
        menu.add_command(label="Select all", command=messages.select_all)
        return menu

    def open(self, index: str, x: int, y: int) -> None:
        """Post the menu for ``index`` at ``x``, ``y`` (screen coordinates)."""
        if self.menu is not None:
            self.menu.destroy()
        self.menu = self.build(index)
        try:
            self.menu.tk_popup(x, y)
        finally:
            self.menu.grab_release()

    def key_index(self) -> str:
        """The spot the keyboard's menu is for: the insert mark's, else the last message."""
        text = self._messages.text
        return "insert" if text.compare("insert", "<", "end-1c") else "end-2c"

    def _on_key_moved(self, event: tk.Event) -> None:
        if event.keysym in _MOVES:  # the text's own binding moves the mark after this one
            self._messages.text.after_idle(self._show_spot)

    def _show_spot(self) -> None:
        text = self._messages.text
        text.tag_remove(KEY_SPOT, "1.0", "end")
        found = message_range(text, "insert")
        if found is not None:
            text.tag_add(KEY_SPOT, *found)

    def _on_right_click(self, event: tk.Event) -> str:
        self._messages.text.focus_set()
        self.open(f"@{event.x},{event.y}", event.x_root, event.y_root)
        return "break"

    def _on_menu_key(self, _event: tk.Event) -> str:
        text = self._messages.text
        index = self.key_index()
        bbox = text.bbox(index) or (10, 10, 0, 0)
        x = text.winfo_rootx() + bbox[0]
        y = text.winfo_rooty() + bbox[1] + bbox[3]
        self.open(index, x, y)
        return "break"


def message_start(text: tk.Text, index: str) -> str:
    """Where the message (or notice) under ``index`` starts in the list's ``text``: every
    message starts a line, its first character tagged ``msgstart`` (a notice's whole line is,
    so neighbouring ranges of the tag run together and cannot be used as they are)."""
    line = int(text.index(index).split(".")[0])
    while line > 1 and "msgstart" not in text.tag_names(f"{line}.0"):
        line -= 1  # a shown body has at most a few dozen lines (``gui/safetext.py``)
    return f"{line}.0"


def message_range(text: tk.Text, index: str) -> tuple[str, str] | None:
    """Where the message (or notice) under ``index`` starts and ends in ``text``; None for
    the end of the list."""
    if text.compare(index, ">=", "end-1c"):
        return None
    start = message_start(text, index)
    after = text.tag_nextrange("msgstart", f"{start} + 1 line")
    return start, str(after[0]) if after else text.index("end-1c")
