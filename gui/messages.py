"""The message list: a read-only ``tk.Text`` with tags for senders, notices and dividers.

Read-only but selectable and copyable (the widget is disabled for typing, yet takes focus on
click so Ctrl+C and the context menu's Copy work). It follows new messages unless the person
has scrolled up; then it drops a "new messages" marker and shows a jump button. It keeps at
most ``max_lines`` lines, cutting whole messages from the top, so a long session stays fast.

Names and bodies come from other people and may be written to look like something else (a
body holding a copy of another member's header, a name with a line break). Headers start at the
left edge, bold, in the sender's colour; every line of a body is indented and sits on a tint of
that colour, so a header copied into a body is visibly inside it. Names and bodies go through
``gui/safetext.py`` before they reach the widget.

Only the Tk thread calls it. Call the ``add_*`` methods for each event, then :meth:`flush`
once per batch (the pump's ``after_batch``) to scroll and trim.
"""

from __future__ import annotations

import time
import tkinter as tk
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from tkinter import ttk

from gui.safetext import Piece, body_pieces, name_pieces
from gui.theme import NAME_COLOURS, PALETTE, Palette

MAX_LINES = 5000
BODY_INDENT = 14  # pixels; every body line, wrapped or not, starts this far right of a header
_TINT = 0.12  # how much of the sender's colour goes into the tint behind their bodies
_GROUP_SECONDS = 300  # consecutive messages from one sender within 5 min share a header
_SEEN_IDS = 4096  # how many message ids are remembered to drop history repeats on reconnect


def format_time(timestamp_ms: int, *, now: float | None = None) -> str:
    """Local time of a message: ``14:02`` today, ``3 Mar 14:02`` on another day.

    The timestamp is the sender's claim, anything up to 2^64 - 1 ms; one the platform cannot
    convert shows as ``--:--`` instead of failing.
    """
    try:
        moment = time.localtime(timestamp_ms / 1000)
    except (OverflowError, OSError, ValueError):
        return "--:--"
    today = time.localtime(time.time() if now is None else now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    return f"{moment.tm_mday} " + time.strftime("%b %H:%M", moment)


def name_colour(name: str) -> str:
    """A stable colour for ``name`` (the same on every machine and every run)."""
    return NAME_COLOURS[zlib.crc32(name.encode("utf-8")) % len(NAME_COLOURS)]


class MessageList(ttk.Frame):
    """The scrolling list of messages and notices in the chat window."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        palette: Palette = PALETTE,
        max_lines: int = MAX_LINES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(master)
        self.max_lines = max_lines
        self._clock = clock
        self._palette = palette
        self.text = tk.Text(
            self,
            wrap="word",
            state="disabled",
            relief="flat",
            borderwidth=0,
            highlightthickness=0,
            padx=14,
            pady=10,
            cursor="xterm",
            undo=False,
            background=palette.surface,
            foreground=palette.text,
            font="TkDefaultFont",
            selectbackground=palette.selection,
            selectforeground=palette.text,
            inactiveselectbackground=palette.selection,
            spacing1=1,
            spacing3=1,
            exportselection=True,
            takefocus=True,
        )
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=self._on_scroll)
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self.jump_button = ttk.Button(
            self, text="↓ New messages", command=self.scroll_to_end, style="Accent.TButton"
        )
        self._coloured: set[str] = set()  # colours whose name and tint tags exist
        self._configure_tags(palette)
        self._menu = tk.Menu(self, tearoff=False)
        self._menu.add_command(label="Copy", command=self.copy_selection)
        self._menu.add_command(label="Select all", command=self.select_all)
        self.text.bind("<Button-3>", self._show_menu)
        self.text.bind("<Control-a>", self._on_select_all_key)
        self.text.bind("<Button-1>", lambda _e: self.text.focus_set(), add="+")

        self._last_sender: str | None = None
        self._last_time = 0.0
        self._seen: deque[bytes] = deque()
        self._seen_set: set[bytes] = set()
        self._history_divider = False
        self._follow: bool | None = None  # decided once per batch, before the first insert
        self._force_follow = False
        self.unseen = 0  # messages added while scrolled up
        self._marker = False
        self.message_count = 0

    def _configure_tags(self, p: Palette) -> None:
        t = self.text
        t.tag_configure("header", spacing1=8, lmargin1=0, lmargin2=0)
        t.tag_configure("sender", font="SocketChatBold")
        t.tag_configure("time", foreground=p.muted, font="SocketChatSmall")
        t.tag_configure("body", lmargin1=BODY_INDENT, lmargin2=BODY_INDENT, rmargin=8)
        t.tag_configure("escape", foreground=p.muted, font="SocketChatSmall")
        t.tag_configure("pending", foreground=p.pending)
        t.tag_configure("pendnote", foreground=p.pending, font="SocketChatItalic")
        t.tag_configure(
            "notice",
            foreground=p.notice,
            font="SocketChatItalic",
            justify="center",
            spacing1=6,
            spacing3=4,
        )
        t.tag_configure(
            "warning",
            foreground=p.warning,
            font="SocketChatItalic",
            justify="center",
            spacing1=6,
            spacing3=4,
        )
        t.tag_configure(
            "good",
            foreground=p.good,
            font="SocketChatItalic",
            justify="center",
            spacing1=6,
            spacing3=4,
        )
        t.tag_configure(
            "divider",
            foreground=p.divider,
            font="SocketChatSmall",
            justify="center",
            spacing1=10,
            spacing3=6,
        )
        t.tag_configure(
            "newmarker",
            foreground=p.warning,
            font="SocketChatSmall",
            justify="center",
            spacing1=10,
            spacing3=6,
        )
        t.tag_raise("sel")

    def sender_colour(self, sender: str, *, own: bool) -> str:
        """The one place a sender's colour is chosen; their name and their bodies' tint follow
        it. (To be keyed on the sender's identity key rather than the name.)"""
        return self._palette.accent if own else name_colour(sender)

    def _colour_tags(self, colour: str) -> tuple[str, str]:
        """The name tag and the body tint tag for ``colour``, made on first use."""
        name_tag, tint_tag = f"name{colour}", f"tint{colour}"
        if colour not in self._coloured:
            self._coloured.add(colour)
            tint = self._tint(colour)
            self.text.tag_configure(name_tag, foreground=colour)
            self.text.tag_configure(tint_tag, background=tint, lmargincolor=tint, rmargincolor=tint)
            # Lowest priority: selection, markers and the pending grey are drawn over them.
            self.text.tag_lower(tint_tag)
            self.text.tag_lower(name_tag)
        return name_tag, tint_tag

    def _tint(self, colour: str) -> str:
        red, green, blue = (value / 257 for value in self.winfo_rgb(colour))
        back = [value / 257 for value in self.winfo_rgb(self._palette.surface)]
        mixed = (
            round(base + (value - base) * _TINT)
            for value, base in zip((red, green, blue), back, strict=True)
        )
        return "#{:02x}{:02x}{:02x}".format(*mixed)

    # -- adding -------------------------------------------------------------------------

    def add_message(
        self,
        sender: str,
        text: str,
        timestamp_ms: int,
        *,
        own: bool = False,
        from_history: bool = False,
        message_id: bytes | None = None,
        pending: str | None = None,
    ) -> bool:
        """Show a chat message; ``pending`` is a note such as "waiting to send" (own only).

        Returns False (and shows nothing) for a message id already on screen, which happens
        when history repeats after a reconnect.
        """
        if message_id is not None:
            if message_id in self._seen_set:
                return False
            self._remember(message_id)
        self._prepare()
        if from_history and not self._history_divider:
            self._history_divider = True
            self._insert("── earlier messages ──\n", ("divider",))
            self._last_sender = None
        if not from_history and self._follow is False:
            self._mark_unseen()
        now = timestamp_ms / 1000
        name_tag, tint_tag = self._colour_tags(self.sender_colour(sender, own=own))
        start = self.text.index("end-1c")
        # One insert for the whole message: text and tags alternate, as Text.insert takes them.
        chunks: list[str | tuple[str, ...]] = []
        if sender != self._last_sender or now - self._last_time > _GROUP_SECONDS:
            _add_pieces(chunks, name_pieces(sender), ("sender", name_tag, "header"))
            time_text = "  " + format_time(timestamp_ms, now=self._clock()) + "\n"
            chunks += [time_text, ("time", "header")]
        body_tags: tuple[str, ...] = ("body", tint_tag)
        if pending is not None:
            body_tags += ("pending",)
        _add_pieces(chunks, body_pieces(text), body_tags)
        if pending is not None and message_id is not None:
            chunks += [f"  {pending}", ("body", tint_tag, "pendnote", f"note{message_id.hex()}")]
        chunks += ["\n", body_tags]
        self._insert(*chunks)
        self.text.tag_add("msgstart", start)
        if pending is not None and message_id is not None:
            self.text.tag_add(f"msg{message_id.hex()}", start, "end-1c")
        self._last_sender, self._last_time = sender, now
        self.message_count += 1
        return True

    def mark_delivered(self, message_id: bytes) -> bool:
        """Turn a pending own message into a delivered one; False if it is not pending here."""
        key = message_id.hex()
        ranges = self.text.tag_ranges(f"msg{key}")
        if not ranges:
            return False
        self.text.configure(state="normal")
        try:
            self.text.tag_remove("pending", ranges[0], ranges[-1])
            note = self.text.tag_ranges(f"note{key}")
            if note:
                self.text.delete(note[0], note[1])
            self.text.tag_delete(f"msg{key}", f"note{key}")
        finally:
            self.text.configure(state="disabled")
        return True

    def set_pending_note(self, message_id: bytes, note: str) -> None:
        """Change the note of a still-pending message (e.g. from "sending…" to "waiting…")."""
        key = message_id.hex()
        ranges = self.text.tag_ranges(f"note{key}")
        if not ranges:
            return
        tags = self.text.tag_names(ranges[0])
        self.text.configure(state="normal")
        try:
            self.text.delete(ranges[0], ranges[1])
            self.text.insert(ranges[0], f"  {note}", tags)
        finally:
            self.text.configure(state="disabled")

    def seen(self, message_id: bytes) -> bool:
        """Whether ``message_id`` is already on screen (or was, before trimming)."""
        return message_id in self._seen_set

    def add_notice(self, text: str, kind: str = "notice") -> None:
        """A centred line for presence and connection news; ``kind``: notice, warning, good."""
        self._prepare()
        if self._follow is False:
            self._mark_unseen()
        self._insert(text + "\n", (kind, "msgstart"))
        self._last_sender = None

    def start_session(self) -> None:
        """Call on every (re)join: the next history messages get their own divider."""
        self._history_divider = False
        self._last_sender = None

    def follow_next(self) -> None:
        """Scroll to the end after this batch whatever the position (after sending)."""
        self._force_follow = True

    # -- per batch ----------------------------------------------------------------------

    def flush(self) -> None:
        """End of a batch: scroll to the end if following, trim old lines."""
        self._trim()
        if self._follow or self._force_follow:
            self.text.see("end")
            self._clear_unseen()
        self._follow = None
        self._force_follow = False

    def at_end(self) -> bool:
        """Whether the last line is in view (the list is following new messages)."""
        if self.text.winfo_height() <= 1:
            return True  # not laid out yet (just built): nothing can have been scrolled
        return self.text.yview()[1] >= 0.999

    def scroll_to_end(self) -> None:
        """The jump button: show the newest message and follow again."""
        self.text.see("end")
        self._clear_unseen()

    # -- copying ------------------------------------------------------------------------

    def copy_selection(self) -> None:
        """Put the selected text on the clipboard (also Ctrl+C, through Tk's Text bindings)."""
        self.text.event_generate("<<Copy>>")

    def select_all(self) -> None:
        self.text.tag_add("sel", "1.0", "end-1c")

    def _on_select_all_key(self, _event: tk.Event) -> str:
        self.select_all()
        return "break"  # the Text class binding would move the cursor to the line start

    def _show_menu(self, event: tk.Event) -> None:
        self.text.focus_set()
        try:
            self._menu.tk_popup(event.x_root, event.y_root)
        finally:
            self._menu.grab_release()

    # -- internals ----------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._follow is None:
            self._follow = self.at_end()

    def _insert(self, *chunks: str | tuple[str, ...]) -> None:
        """Insert ``text, tags, text, tags…`` at the end."""
        self.text.configure(state="normal")
        # Tk's insert takes alternating text and tag arguments; typeshed only models one pair.
        self.text.insert("end-1c", *chunks)  # type: ignore[arg-type]
        self.text.configure(state="disabled")

    def _remember(self, message_id: bytes) -> None:
        self._seen.append(message_id)
        self._seen_set.add(message_id)
        if len(self._seen) > _SEEN_IDS:
            self._seen_set.discard(self._seen.popleft())

    def _mark_unseen(self) -> None:
        if not self._marker:
            for old in self._marker_ranges():
                self.text.configure(state="normal")
                self.text.delete(*old)
                self.text.configure(state="disabled")
            self._insert("── new messages ──\n", ("newmarker", "msgstart"))
            self._marker = True
            self._last_sender = None
        self.unseen += 1
        self.jump_button.place(relx=0.5, rely=1.0, y=-12, anchor="s")

    def _marker_ranges(self) -> list[tuple[str, str]]:
        ranges = self.text.tag_ranges("newmarker")
        return [(str(ranges[i]), str(ranges[i + 1])) for i in range(0, len(ranges), 2)]

    def _clear_unseen(self) -> None:
        # The marker line stays where it was (it still shows where new messages began) until
        # the next time new messages arrive while scrolled up.
        self._marker = False
        self.unseen = 0
        self.jump_button.place_forget()

    def _on_scroll(self, first: float | str, last: float | str) -> None:
        # Tk passes the fractions as strings; typeshed says floats. Both work here.
        self.scrollbar.set(first, last)
        if self.unseen and float(last) >= 0.999:
            self._clear_unseen()

    def _trim(self) -> None:
        lines = int(self.text.index("end-1c").split(".")[0])
        excess = lines - self.max_lines
        if excess <= 0:
            return
        # Cut at the start of a message, never in the middle of one.
        cut = self.text.tag_nextrange("msgstart", f"{excess + 1}.0")
        end = cut[0] if cut else f"{excess + 1}.0"
        self.text.configure(state="normal")
        self.text.delete("1.0", end)
        self.text.configure(state="disabled")


def _add_pieces(
    chunks: list[str | tuple[str, ...]], pieces: Iterable[Piece], tags: tuple[str, ...]
) -> None:
    """Append ``pieces`` to an insert's ``text, tags…`` list; markers also get ``escape``."""
    for text, is_marker in pieces:
        chunks += [text, (*tags, "escape") if is_marker else tags]
