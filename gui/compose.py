"""The compose box under the conversation: the text box, **Send**, the hint and the byte counter.

Keys in the box: Enter sends (``on_send``), Shift+Enter adds a line, Ctrl+Tab a tab, Tab and
Shift+Tab move the focus on, PgUp / PgDn and Ctrl+Home / Ctrl+End scroll the conversation, Up
in an empty box brings back the last message sent (:attr:`ComposeBox.last_sent`, to edit and
send as a new message). Close to the room's limit the counter says how many bytes are left,
and past it by how many the text is too long, in the warning colour.

The chat window owns one and grids it under the conversation; only the Tk thread calls it.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.chat_text import HINT
from gui.messages import MessageList
from gui.theme import Palette

_WARN_REMAINING = 400  # show the remaining-bytes counter this close to the limit


class ComposeBox(ttk.Frame):
    """``limit()`` is the room's current message limit in bytes; ``on_send`` sends what is
    typed (the chat window's ``send_entry``); ``conversation`` is what the scrolling keys
    move."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        palette: Palette,
        limit: Callable[[], int],
        on_send: Callable[[], object],
        conversation: MessageList,
    ) -> None:
        super().__init__(master, padding=(14, 10, 14, 4))
        self._palette = palette
        self._limit = limit
        self._on_send = on_send
        self.last_sent = ""  # what Up brings back into an empty compose box
        self.limit_text = tk.StringVar(self, "")
        self.columnconfigure(0, weight=1)
        self.entry = tk.Text(
            self,
            height=3,
            wrap="word",
            undo=True,
            relief="solid",
            borderwidth=1,
            highlightthickness=2,
            highlightcolor=palette.accent,
            highlightbackground=palette.border,
            background=palette.surface,
            foreground=palette.text,
            insertbackground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
            font="SocketChatMessage",
            padx=8,
            pady=6,
        )
        self.entry.grid(row=0, column=0, sticky="ew")
        self.send_button = ttk.Button(self, text="Send", style="Accent.TButton", command=on_send)
        self.send_button.grid(row=0, column=1, sticky="se", padx=(10, 0))
        hint = ttk.Frame(self)
        hint.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        hint.columnconfigure(0, weight=1)
        self.hint_label = ttk.Label(hint, text=HINT, foreground=palette.muted)
        self.hint_label.grid(row=0, column=0, sticky="w")
        self.limit_label = ttk.Label(
            hint,
            textvariable=self.limit_text,
            wraplength=520,
            foreground=palette.muted,
            justify="right",
        )
        self.limit_label.grid(row=0, column=1, sticky="e")
        entry = self.entry
        entry.bind("<Return>", self._on_return)
        entry.bind("<KP_Enter>", self._on_return)
        entry.bind("<Shift-Return>", self._on_shift_return)
        entry.bind("<Shift-KP_Enter>", self._on_shift_return)
        entry.bind("<<Modified>>", self._on_modified)
        entry.bind("<Tab>", self._focus_next)
        entry.bind("<Shift-Tab>", self._focus_prev)
        entry.bind("<ISO_Left_Tab>", self._focus_prev)  # Shift+Tab on X11
        entry.bind("<Control-Tab>", self._insert_tab)
        entry.bind("<Prior>", lambda _e: self._scroll(conversation.scroll_pages, -1))
        entry.bind("<Next>", lambda _e: self._scroll(conversation.scroll_pages, 1))
        entry.bind("<Control-Home>", lambda _e: self._scroll(conversation.scroll_to_top))
        entry.bind("<Control-End>", lambda _e: self._scroll(conversation.scroll_to_end))
        entry.bind("<Up>", self._on_up)

    def text(self) -> str:
        """What is typed, without the surrounding blank space."""
        return self.entry.get("1.0", "end-1c").strip()

    def sent(self, text: str) -> None:
        """``text`` went out: the box empties, and Up brings it back."""
        self.last_sent = text
        self.entry.delete("1.0", "end")
        self.update_limit()

    def set_sendable(self, sendable: bool) -> None:
        """Send works only while there is a room to send to (not after a final failure)."""
        self.send_button.state(["!disabled"] if sendable else ["disabled"])

    def update_limit(self) -> None:
        """The counter for what is typed now."""
        limit = self._limit()
        remaining = limit - len(self.entry.get("1.0", "end-1c").encode("utf-8"))
        if remaining < 0:
            self.show_limit(f"Too long by {-remaining:,} bytes (limit {limit:,})", error=True)
        elif remaining <= _WARN_REMAINING:
            self.show_limit(f"{remaining:,} bytes left", error=False)
        else:
            self.show_limit("", error=False)

    def show_limit(self, text: str, *, error: bool) -> None:
        """Say ``text`` where the counter is: in the warning colour if ``error``."""
        self.limit_text.set(text)
        colour = self._palette.warning if error else self._palette.muted
        self.limit_label.configure(foreground=colour)

    def apply_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.entry.configure(
            highlightcolor=palette.accent,
            highlightbackground=palette.border,
            background=palette.surface,
            foreground=palette.text,
            insertbackground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
        )
        self.hint_label.configure(foreground=palette.muted)
        self.show_limit(self.limit_text.get(), error=False)

    # -- keys -----------------------------------------------------------------------------------

    def _on_return(self, _event: tk.Event) -> str:
        self._on_send()
        return "break"

    def _on_shift_return(self, _event: tk.Event) -> str:
        self.entry.insert("insert", "\n")
        self.entry.see("insert")
        return "break"

    def _on_modified(self, _event: tk.Event) -> None:
        self.entry.edit_modified(False)
        self.update_limit()

    def _focus_next(self, _event: tk.Event) -> str:
        target = self.entry.tk_focusNext()
        if target is not None:
            target.focus_set()
        return "break"

    def _focus_prev(self, _event: tk.Event) -> str:
        target = self.entry.tk_focusPrev()
        if target is not None:
            target.focus_set()
        return "break"

    def _insert_tab(self, _event: tk.Event) -> str:
        self.entry.insert("insert", "\t")
        return "break"

    def _scroll(self, action: Callable[..., None], *args: int) -> str:
        action(*args)
        return "break"

    def _on_up(self, _event: tk.Event) -> str | None:
        """Up in an empty compose box: bring back the last message sent, to edit and send as
        a new one. Elsewhere Up moves the cursor as usual."""
        if self.entry.get("1.0", "end-1c") or not self.last_sent:
            return None
        self.entry.insert("1.0", self.last_sent)
        self.entry.mark_set("insert", "end-1c")
        return "break"
