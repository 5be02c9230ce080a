"""The bar above the compose box while a reply is being written: "Replying to bob: …" and ✕.

"Reply" on a message (the conversation's menu, ``gui/chat_replies.py``) starts it with the
message it answers (:class:`net.client.ReplyTo`); the next message sent from the compose box
goes with it (``ChatClient.send(..., reply_to=)``) and the bar goes away. **✕**, or Esc in the
compose box, cancels it. The sender's name and the excerpt are shown on one short line, made
safe (``gui/quotes.py``).

The chat window owns one and grids it above the compose box; only the Tk thread calls it.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.quotes import BAR, one_line_text
from gui.safetext import display_name
from gui.theme import Palette
from net.client import ReplyTo

REPLY_EXCERPT_CHARS = 70  # of the answered message, in the bar
CANCEL = "✕"


def replying_text(sender: str, text: str) -> str:
    """What the bar says: "Replying to bob: the start of what bob said"."""
    return f"Replying to {display_name(sender)}: {one_line_text(text, REPLY_EXCERPT_CHARS)}"


class ReplyBar(ttk.Frame):
    """Grid it once, then call :meth:`hide`; it shows itself while a reply is being written.
    ``on_cancel`` is told when ✕ (or Esc) cancels one."""

    def __init__(
        self, master: tk.Misc, *, palette: Palette, on_cancel: Callable[[], None] | None = None
    ) -> None:
        super().__init__(master, padding=(14, 8, 14, 0))
        self._on_cancel = on_cancel
        self.reply: ReplyTo | None = None  # what the next message answers
        self.text = tk.StringVar(self, "")
        self.columnconfigure(1, weight=1)
        self.bar = ttk.Label(self, text=BAR.strip(), foreground=palette.accent)
        self.bar.grid(row=0, column=0, sticky="w", padx=(0, 4))
        self.label = ttk.Label(self, textvariable=self.text, foreground=palette.muted)
        self.label.grid(row=0, column=1, sticky="w")
        self.cancel_button = ttk.Button(self, text=CANCEL, width=3, command=self.cancel)
        self.cancel_button.grid(row=0, column=2, sticky="e", padx=(8, 0))

    def start(self, reply: ReplyTo, sender: str, text: str) -> None:
        """Write a reply to ``reply``; ``sender`` and ``text`` are what this conversation
        shows of the answered message."""
        self.reply = reply
        self.text.set(replying_text(sender, text))
        self.grid()

    def cancel(self) -> bool:
        """✕ or Esc: no reply any more (the typed text stays); False if there was none."""
        if self.reply is None:
            return False
        self.clear()
        if self._on_cancel is not None:
            self._on_cancel()
        return True

    def clear(self) -> None:
        """The reply was sent (or cancelled): the bar goes."""
        self.reply = None
        self.text.set("")
        self.hide()

    def hide(self) -> None:
        self.grid_remove()

    @property
    def shown(self) -> bool:
        return self.reply is not None

    def apply_palette(self, palette: Palette) -> None:
        self.bar.configure(foreground=palette.accent)
        self.label.configure(foreground=palette.muted)
