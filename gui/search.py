"""Ctrl+F: search what this device kept, in the current room or in all rooms.

:class:`SearchPanel` lies over the top right of the conversation, like a browser's find bar:
a box to type in, **All rooms** (off: the current room only), and the matches, newest first,
each with its room (in all rooms), sender, time and the start of its text, so a match reads
with its context. Typing searches after a short pause (or at once on Enter); Down moves into
the matches; Enter or a double-click on one jumps there (the app switches to its room and the
conversation lights the message up, or says it is older than what the conversation holds);
Esc closes the panel and gives the keyboard back to the compose box.

What is searched is the local history (``net.client.archive``: case-insensitive, so "STRASSE"
finds "straße"); the app hands the panel a ``search(query, all_rooms)`` function. Texts and
names in the matches are other people's and go through ``safetext``. Only the Tk thread calls
this.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from gui.messages import format_time
from gui.safetext import body_pieces, display_name
from gui.theme import PALETTE, Palette
from net.client import StoredMessage

SNIPPET_CHARS = 70
DEBOUNCE_MS = 250
MAX_SHOWN = 200


@dataclass(frozen=True)
class Hit:
    """A match: the room it is in (``token`` in the room list, ``label`` as it reads there)
    and the message."""

    token: int
    label: str
    message: StoredMessage


def hit_line(hit: Hit, *, with_room: bool) -> str:
    """How a match reads in the list: ``Work · bob · 14:02 — the start of the text…``."""
    body = " ".join("".join(piece for piece, _ in body_pieces(hit.message.text)).split())
    if len(body) > SNIPPET_CHARS:
        body = body[: SNIPPET_CHARS - 1].rstrip() + "…"
    who = display_name(hit.message.sender)
    when = format_time(hit.message.timestamp_ms)
    room = f"{display_name(hit.label)} · " if with_room else ""
    return f"{room}{who} · {when} — {body}"


class SearchPanel(ttk.Frame):
    """Place it over the conversation with :meth:`show`; it calls ``search`` to find and
    ``on_choose(hit)`` when the person picks a match, ``on_close()`` when it closes."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        search: Callable[[str, bool], Sequence[Hit]],
        on_choose: Callable[[Hit], None],
        on_close: Callable[[], None],
        palette: Palette = PALETTE,
        unavailable: str = "",
    ) -> None:
        super().__init__(master, padding=(10, 8, 10, 8), relief="solid", borderwidth=1)
        self._search = search
        self._on_choose = on_choose
        self._on_close = on_close
        self._after: str | None = None
        self.hits: list[Hit] = []
        self.query = tk.StringVar(self)
        self.all_rooms = tk.BooleanVar(self, False)
        self.status = tk.StringVar(self, unavailable)
        self.columnconfigure(0, weight=1)
        top = ttk.Frame(self)
        top.grid(row=0, column=0, sticky="ew")
        top.columnconfigure(1, weight=1)
        ttk.Label(top, text="Search").grid(row=0, column=0, padx=(0, 8))
        self.entry = ttk.Entry(top, textvariable=self.query, width=30)
        self.entry.grid(row=0, column=1, sticky="ew")
        self.all_button = ttk.Checkbutton(
            top, text="All rooms", variable=self.all_rooms, command=self.run
        )
        self.all_button.grid(row=0, column=2, padx=(8, 0))
        self.close_button = ttk.Button(top, text="Close", command=self.close)
        self.close_button.grid(row=0, column=3, padx=(8, 0))
        self.status_label = ttk.Label(self, textvariable=self.status, foreground=palette.muted)
        self.status_label.grid(row=1, column=0, sticky="w", pady=(6, 2))
        self.results = tk.Listbox(
            self,
            height=8,
            width=64,
            activestyle="none",
            exportselection=False,
            relief="flat",
            highlightthickness=1,
            highlightcolor=palette.accent,
            highlightbackground=palette.border,
            background=palette.surface,
            foreground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
        )
        self.results.grid(row=2, column=0, sticky="ew")
        self.query.trace_add("write", lambda *_: self._soon())
        self.entry.bind("<Return>", lambda _e: self._run_and_choose())
        self.entry.bind("<KP_Enter>", lambda _e: self._run_and_choose())
        self.entry.bind("<Down>", self._into_results)
        self.results.bind("<Return>", lambda _e: self.choose())
        self.results.bind("<KP_Enter>", lambda _e: self.choose())
        self.results.bind("<Double-Button-1>", lambda _e: self.choose())
        for widget in (self, self.entry, self.results, self.all_button, self.close_button):
            widget.bind("<Escape>", lambda _e: self.close())
        self._unavailable = bool(unavailable)
        if self._unavailable:
            self.entry.state(["disabled"])
            self.all_button.state(["disabled"])

    def show(self) -> None:
        """Over the top right of the conversation; the keyboard goes to the search box."""
        self.place(relx=1.0, x=-20, y=8, anchor="ne")
        self.lift()
        self.entry.focus_set()
        self.entry.select_range(0, "end")

    def _soon(self) -> None:
        if self._after is not None:
            self.after_cancel(self._after)
        self._after = self.after(DEBOUNCE_MS, self.run)

    def run(self) -> None:
        """Search now for what is typed."""
        if self._after is not None:
            self.after_cancel(self._after)
            self._after = None
        if self._unavailable:
            return
        query = self.query.get().strip()
        self.results.delete(0, "end")
        self.hits = []
        if not query:
            self.status.set("")
            return
        everywhere = self.all_rooms.get()
        self.hits = list(self._search(query, everywhere))[:MAX_SHOWN]
        for hit in self.hits:
            self.results.insert("end", hit_line(hit, with_room=everywhere))
        where = "in all rooms" if everywhere else "in this room"
        count = len(self.hits)
        if count == 0:
            self.status.set(f"Nothing found {where}.")
        else:
            many = "+" if count == MAX_SHOWN else ""
            self.status.set(
                f"{count}{many} found {where}, newest first. ↓ and Enter to jump to one."
            )
        if self.hits:
            self.results.selection_set(0)

    def _run_and_choose(self) -> str:
        if self._after is not None or not self.hits:
            self.run()
        else:
            self.choose()
        return "break"

    def _into_results(self, _event: tk.Event) -> str:
        if self.hits:
            self.results.focus_set()
            if not self.results.curselection():
                self.results.selection_set(0)
            self.results.activate(self.results.curselection()[0])
        return "break"

    def choose(self) -> None:
        """Jump to the selected match (the first if none is selected)."""
        if not self.hits:
            return
        chosen = self.results.curselection()
        self._on_choose(self.hits[chosen[0] if chosen else 0])

    def close(self) -> None:
        if self._after is not None:
            self.after_cancel(self._after)
            self._after = None
        self.place_forget()
        self._on_close()
