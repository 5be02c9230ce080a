"""The message list: a read-only ``tk.Text`` with tags for senders, notices and dividers.

Read-only but selectable and copyable (the widget is disabled for typing, yet takes focus on
click so Ctrl+C and the context menu's Copy work). It follows new messages unless the person
has scrolled up; then it drops a "new messages" marker and shows a jump button. It keeps at
most ``max_lines`` lines, cutting whole messages from the top, so a long session stays fast.

Names and bodies come from other people and may be written to look like something else (a
body holding a copy of another member's header, a name with a line break). Headers start at the
left edge, bold, in the sender's colour; every line of a body is indented and sits on a tint of
that colour, so a header copied into a body is visibly inside it. Names and bodies go through
``gui/safetext.py`` before they reach the widget. The colour comes from the sender's identity
key, not the name, so two members whose names look alike still look different; a message from
a member whose key changed and is not accepted yet gets a header of its own with a warning sign
and a warning-coloured bar beside its body.

Links in bodies (``gui/links.py``) are underlined: hovering shows the exact target in a tooltip,
a click opens an http(s) link in the browser and copies any other scheme instead, saying so
(``gui/link_hover.py``). ``@you`` in others' messages is highlighted. Right-click (or the menu
keys) offers Copy link, Copy message and what other parts add (``gui/conversation_menu.py``).
A reply has the quote of what it answers above its text, a click on which jumps there
(``gui/quotes.py``).
On a wide window, bodies wrap at a readable width (:data:`MAX_LINE_CHARS`), and a list that
shows its newest message keeps showing it when the window is resized.

Only the Tk thread calls it. Call the ``add_*`` methods for each event, then :meth:`flush`
once per batch (the pump's ``after_batch``) to scroll and trim.
"""

from __future__ import annotations

import hashlib
import time
import tkinter as tk
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from tkinter import font as tkfont
from tkinter import ttk

from gui.conversation_menu import (
    KEY_SPOT,
    ConversationMenu,
    MenuEntries,
    message_range,
    message_start,
)
from gui.link_hover import LinkHover, link_at, open_in_browser
from gui.links import find_links, find_mentions
from gui.quotes import Originals, Quote, configure_quote_tags, quote_chunks, quoted_id
from gui.safetext import Piece, body_pieces, name_pieces
from gui.theme import PALETTE, Palette
from net.client import ReplyTo

MAX_LINES = 5000
MAX_LINE_CHARS = 90  # bodies wrap at about this many average characters on a wide window
FLASH_MS = 5000  # how long a small notice over the list stays
FOUND_MS = 4000  # how long a message chosen in the search results stays lit
BODY_INDENT = 14  # pixels; every body line, wrapped or not, starts this far right of a header
_TINT = 0.12  # how much of the sender's colour goes into the tint behind their bodies
_GROUP_SECONDS = 300  # consecutive messages from one sender within 5 min share a header
_LOCKED_HISTORY = "lockedhistory"  # the tag of the one line counting locked earlier messages
# ... and of the one counting earlier messages the room does not share with new members
_WITHHELD_HISTORY = "withheldhistory"
#: Why earlier messages stay locked in a room whose new members see only what is sent after.
WITHHELD_TEXT = "messages from before you joined are not shared with new members in this room"
_SEEN_IDS = 4096  # how many message ids are remembered to drop history repeats on reconnect
_NOT_THE_BODY = frozenset({"pendnote", "notsent", "quote"})  # in a body's lines, not its text


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


CHANGED_MARK = "⚠ "  # before the name of a sender whose key changed and is not accepted
CHANGED_NOTE = "  safety code changed — not accepted yet"


def name_colour(name: str, palette: Palette = PALETTE) -> str:
    """A stable colour for ``name`` (the same on every machine and every run). Only for text
    without an identity key; senders are coloured by :func:`key_colour`."""
    return palette.names[zlib.crc32(name.encode("utf-8")) % len(palette.names)]


def key_colour(key: bytes, palette: Palette = PALETTE) -> str:
    """A stable colour for the identity key ``key``: the same on every machine and every run,
    whatever name the key's owner uses (a hash of the key picks one of the name colours)."""
    digest = hashlib.sha256(b"SocketChat name colour|" + bytes(key)).digest()
    return palette.names[int.from_bytes(digest[:4], "big") % len(palette.names)]


def body_spans(pieces: list[Piece], mention_name: str | None) -> list[tuple[str, bool, str | None]]:
    """Split a body's pieces where links and mentions start and end.

    Returns ``(text, is_marker, kind)`` with kind ``"link"``, ``"mention"`` or None. Links and
    mentions are found in the text as shown (markers included, so a link never runs through
    one: see ``gui/links.py``).
    """
    shown = "".join(text for text, _ in pieces)
    spans: list[tuple[int, int, str]] = []
    if ":" in shown:
        spans += [(link.start, link.end, "link") for link in find_links(shown)]
    if mention_name and "@" in shown:
        taken = [(start, end) for start, end, _ in spans]
        for start, end in find_mentions(shown, mention_name):
            if not any(start < t_end and t_start < end for t_start, t_end in taken):
                spans.append((start, end, "mention"))
    if not spans:
        return [(text, is_marker, None) for text, is_marker in pieces]
    spans.sort()
    out: list[tuple[str, bool, str | None]] = []
    offset = 0
    for text, is_marker in pieces:
        end_of_piece = offset + len(text)
        if is_marker:
            out.append((text, True, None))  # spans never cover markers (they are not ASCII)
            offset = end_of_piece
            continue
        cursor = offset
        for start, end, kind in spans:
            if end <= cursor or start >= end_of_piece:
                continue
            if start > cursor:
                out.append((shown[cursor:start], False, None))
            stop = min(end, end_of_piece)
            out.append((shown[max(start, cursor) : stop], False, kind))
            cursor = stop
        if cursor < end_of_piece:
            out.append((shown[cursor:end_of_piece], False, None))
        offset = end_of_piece
    return out


class MessageList(ttk.Frame):
    """The scrolling list of messages and notices in the chat window."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        palette: Palette = PALETTE,
        max_lines: int = MAX_LINES,
        clock: Callable[[], float] = time.time,
        open_url: Callable[[str], None] | None = None,
        on_hover: Callable[[str | None], None] | None = None,
    ) -> None:
        super().__init__(master)
        self.max_lines = max_lines
        self._clock = clock
        self._palette = palette
        self.mention_name: str | None = None  # "@name" of this person is highlighted
        self.text = tk.Text(
            self,
            wrap="word",
            state="disabled",
            relief="flat",
            borderwidth=0,
            # The focus ring: invisible until the list has the keyboard focus (Tab to it).
            highlightthickness=2,
            highlightcolor=palette.accent,
            highlightbackground=palette.surface,
            padx=14,
            pady=10,
            cursor="xterm",
            undo=False,
            background=palette.surface,
            foreground=palette.text,
            font="SocketChatMessage",
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
        self.flash_label = ttk.Label(self, text="", padding=(10, 4), wraplength=520)
        self._flash_after: str | None = None
        self._found_after: str | None = None
        self._pin_after: str | None = None
        self._coloured: set[str] = set()  # colours whose name and tint tags exist
        self._configure_tags(palette)
        #: Entries put first in the context menu for the spot at an index (the not-sent
        #: messages' Retry sending and Copy message), as (label, command).
        self.menu_extras: MenuEntries | None = None
        self.menus = ConversationMenu(self)  # the context menu; parts add to its sources
        #: Messages shown here, for the quotes of replies to them (``gui/quotes.py``).
        self.originals = Originals()
        #: A click (or Enter) on a reply's quote: ``on_quote(id of the message it answers)``.
        self.on_quote: Callable[[bytes], object] | None = None
        self._pinned = True  # showing the newest message: stays so through resizes
        self._holding_pin = False  # a zoom is being laid out: scrolling reports say nothing
        self.text.bind("<Control-a>", self._on_select_all_key)
        self.text.bind("<Return>", self._on_return)
        self.text.bind("<KP_Enter>", self._on_return)
        self.text.tag_bind("quote", "<ButtonRelease-1>", self._on_quote_click)
        self.text.tag_bind("quote", "<Enter>", lambda _e: self.text.configure(cursor="hand2"))
        self.text.tag_bind("quote", "<Leave>", lambda _e: self.text.configure(cursor="xterm"))
        self.text.bind("<Button-1>", lambda _e: self.text.focus_set(), add="+")
        self.text.bind("<Configure>", self._on_configure, add="+")
        self.links = LinkHover(self, open_url=open_url or open_in_browser, on_hover=on_hover)

        self._last_sender: tuple[str, bytes] | None = None  # (name, key) of the last header
        self._last_time = 0.0
        self._seen: deque[bytes] = deque()
        self._seen_set: set[bytes] = set()
        self._history_divider = False
        self._follow: bool | None = None  # decided once per batch, before the first insert
        self._force_follow = False
        self.unseen = 0  # messages added while scrolled up
        self._marker = False
        self.message_count = 0
        self._locked: dict[bytes, str] = {}  # message id -> the tag of its placeholder line
        self._insert_at = "end-1c"

    def _configure_tags(self, p: Palette) -> None:
        t = self.text
        t.tag_configure("header", spacing1=8, lmargin1=0, lmargin2=0)
        t.tag_configure("sender", font="SocketChatBold")
        t.tag_configure("time", foreground=p.muted, font="SocketChatSmall")
        t.tag_configure("body", lmargin1=BODY_INDENT, lmargin2=BODY_INDENT, rmargin=8)
        t.tag_configure("link", foreground=p.link, underline=True)
        t.tag_configure("mention", background=p.mention, font="SocketChatBold")
        t.tag_configure("escape", foreground=p.muted, font="SocketChatSmall")
        t.tag_configure("pending", foreground=p.pending)
        t.tag_configure("pendnote", foreground=p.pending, font="SocketChatItalic")
        t.tag_configure("notsent", foreground=p.warning, font="SocketChatItalic")
        t.tag_configure("found", background=p.mention)
        configure_quote_tags(t, p)
        # The message the keyboard is on (``gui/conversation_menu.py``): a bar in the accent
        # colour beside its body, over the tint's margin.
        t.tag_configure(KEY_SPOT, lmargincolor=p.accent)
        t.tag_configure(
            "locked", foreground=p.muted, font="SocketChatItalic", lmargin1=BODY_INDENT, spacing1=4
        )
        # A sender whose key changed: the sign and the note in the warning colour, and a bar of
        # it in the body's indent (above the tint tags, which are lowered beneath everything).
        t.tag_configure("changedmark", foreground=p.warning, font="SocketChatBold")
        t.tag_configure("changednote", foreground=p.warning, font="SocketChatSmall")
        t.tag_configure("changed", lmargincolor=p.warning)
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

    def sender_colour(self, key: bytes, *, own: bool, palette: Palette | None = None) -> str:
        """The one place a sender's colour is chosen, from their identity ``key`` (never the
        name); their name and their bodies' tint follow it. Your own messages are in the
        accent colour."""
        palette = palette or self._palette
        return palette.accent if own else key_colour(key, palette)

    def _colour_tags(self, key: bytes, own: bool) -> tuple[str, str]:
        """The name tag and the body tint tag for a sender's colour, made on first use. Tags
        are named after the light theme's colour, so a theme switch recolours the same tags."""
        light = self.sender_colour(key, own=own, palette=PALETTE)
        name_tag, tint_tag = f"name{light}", f"tint{light}"
        if light not in self._coloured:
            self._coloured.add(light)
            colour = self.sender_colour(key, own=own)
            tint = self._tint(colour)
            self.text.tag_configure(name_tag, foreground=colour)
            # The right margin (wide windows) stays the list's own colour: the tint ends where
            # the text wraps.
            self.text.tag_configure(
                tint_tag, background=tint, lmargincolor=tint, rmargincolor=self._palette.surface
            )
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
        sender_key: bytes = b"",
        changed: bool = False,
        reply: ReplyTo | None = None,
    ) -> bool:
        """Show a chat message; ``pending`` is a note such as "waiting to send" (own only).

        ``sender_key`` is the identity key that signed it: it picks the colour (the name only
        where no key is known) and which messages share a header. ``changed`` marks a message
        from a member whose key changed and is not accepted yet. A ``reply`` gets the quote
        of what it answers above its text (``gui/quotes.py``).

        Returns False (and shows nothing) for a message id already on screen, which happens
        when history repeats after a reconnect.
        """
        if message_id is not None:
            if message_id in self._seen_set:
                return False
            self._remember(message_id)
        quote = self.originals.quote(reply) if reply is not None else None
        if message_id is not None:
            self.originals.add(message_id, sender, text)
        self._prepare()
        if message_id is not None and (where := self._unlock(message_id)) is not None:
            # It was shown locked: it goes where its placeholder is.
            saved, self._last_sender = self._last_sender, None
            self._insert_at = where
            try:
                self._add_message_at(
                    sender, text, timestamp_ms, own, sender_key, changed, quote=quote
                )
                self._mark_message(message_id, where)
            finally:
                self._insert_at = "end-1c"
                self._last_sender = saved
                self._after_unlock(message_id)
            return True
        self._history_start(from_history)
        if not from_history and self._follow is False:
            self._mark_unseen()
        start = self.text.index(self._insert_at)
        self._add_message_at(
            sender, text, timestamp_ms, own, sender_key, changed, message_id, pending, quote
        )
        if message_id is not None:
            self._mark_message(message_id, start)
        return True

    def _mark_message(self, message_id: bytes, start: str) -> None:
        # A mark where the message starts, so that a search result can show it: marks move
        # with the text and cost little (the trim unsets those it cuts away).
        mark = f"id{message_id.hex()}"
        self.text.mark_set(mark, start)
        self.text.mark_gravity(mark, "left")

    def show_message(self, message_id: bytes) -> bool:
        """Scroll to ``message_id`` and light it up for a moment (a search result was
        chosen); False if it is not in the list (never shown, or cut away as old)."""
        mark = f"id{message_id.hex()}"
        try:
            start = self.text.index(mark)
        except tk.TclError:
            return False
        after = self.text.tag_nextrange("msgstart", f"{start} + 1 char")
        end = after[0] if after else "end-1c"
        self.text.tag_remove("found", "1.0", "end")
        self.text.tag_add("found", start, end)
        self.text.see(end)
        self.text.see(start)
        self._pinned = self.at_end()
        if self._found_after is not None:
            self.after_cancel(self._found_after)
        self._found_after = self.after(FOUND_MS, self._unfind)
        return True

    def _unfind(self) -> None:
        self._found_after = None
        self.text.tag_remove("found", "1.0", "end")

    def _history_start(self, from_history: bool) -> None:
        if from_history and not self._history_divider:
            self._history_divider = True
            self._insert("── earlier messages ──\n", ("divider",))
            self._last_sender = None

    def _add_message_at(
        self,
        sender: str,
        text: str,
        timestamp_ms: int,
        own: bool,
        sender_key: bytes,
        changed: bool,
        message_id: bytes | None = None,
        pending: str | None = None,
        quote: Quote | None = None,
    ) -> None:
        now = timestamp_ms / 1000
        who = (sender, bytes(sender_key))
        name_tag, tint_tag = self._colour_tags(sender_key or sender.encode("utf-8"), own)
        start = self.text.index(self._insert_at)
        # One insert for the whole message: text and tags alternate, as Text.insert takes them.
        chunks: list[str | tuple[str, ...]] = []
        # A marked message always gets its own header: the warning is on every one of them.
        if changed or who != self._last_sender or now - self._last_time > _GROUP_SECONDS:
            if changed:
                chunks += [CHANGED_MARK, ("changedmark", "header")]
            _add_pieces(chunks, name_pieces(sender), ("sender", name_tag, "header"))
            time_text = "  " + format_time(timestamp_ms, now=self._clock())
            chunks += [time_text, ("time", "header")]
            if changed:
                chunks += [CHANGED_NOTE, ("changednote", "header")]
            chunks += ["\n", ("time", "header")]
        body_tags: tuple[str, ...] = ("body", tint_tag)
        if changed:
            body_tags += ("changed",)
        if pending is not None:
            body_tags += ("pending",)
        if quote is not None:
            chunks += quote_chunks(quote, body_tags)
        mention = None if own else self.mention_name
        for piece, is_marker, kind in body_spans(body_pieces(text), mention):
            tags = body_tags
            if is_marker:
                tags = (*body_tags, "escape")
            elif kind is not None:
                tags = (*body_tags, kind)
            chunks += [piece, tags]
        if pending is not None and message_id is not None:
            chunks += [f"  {pending}", ("body", tint_tag, "pendnote", f"note{message_id.hex()}")]
        chunks += ["\n", body_tags]
        self._insert(*chunks)
        self.text.tag_add("msgstart", start)
        if pending is not None and message_id is not None:
            self.text.tag_add(f"msg{message_id.hex()}", start, "end-1c")
        # After a marked message the next one starts a new header, marked or not.
        self._last_sender, self._last_time = (None if changed else who), now
        self.message_count += 1

    # -- a file message's card (the hook for gui/attachments.py, which draws it) -------------

    def embed_in_message(self, message_id: bytes, widget: tk.Misc) -> bool:
        """Show ``widget`` (a child of :attr:`text`: a file's card) as the body of the message
        ``message_id``, in place of its text, on the same tint and indent; call right after
        :meth:`add_message` showed it. False if it is not on screen."""
        try:
            start = self.text.index(f"id{message_id.hex()}")
        except tk.TclError:
            return False
        after = self.text.tag_nextrange("msgstart", f"{start} + 1 char")
        stop = self.text.index(f"{after[0] if after else 'end-1c'} - 1 char")  # its newline
        if "body" in self.text.tag_names(start):  # no header: a body starts the message
            where = start
        else:
            body = self.text.tag_nextrange("body", start, stop)
            where = str(body[0]) if body else stop
        tags = self.text.tag_names(stop)
        self.text.configure(state="normal")
        try:
            self.text.delete(where, stop)
            self.text.window_create(where, window=widget, padx=0, pady=4)
            for tag in tags:  # an embedded window takes tags too: the body's indent and tint
                self.text.tag_add(tag, where)
        finally:
            self.text.configure(state="disabled")
        return True

    # -- messages whose key has not come yet ----------------------------------------------

    def add_locked(
        self, sender: str, message_id: bytes, *, from_history: bool, withheld: bool = False
    ) -> None:
        """A message this device cannot open yet (its key has not come). Earlier messages
        share one placeholder line with a count; a new one gets a line of its own. When it
        arrives through :meth:`add_message` it takes the placeholder's place. ``withheld``
        earlier messages (a room whose new members see only what is sent after they join)
        have a counted line of their own that says their keys will not come."""
        if message_id in self._seen_set or message_id in self._locked:
            return
        self._prepare()
        if from_history:
            self._history_start(True)
            tag = _WITHHELD_HISTORY if withheld else _LOCKED_HISTORY
            self._locked[message_id] = tag
            self._show_locked_count(tag)
        else:
            tag = f"lock{message_id.hex()}"
            self._locked[message_id] = tag
            if self._follow is False:
                self._mark_unseen()
            tags = ("locked", "msgstart", tag)
            chunks: list[str | tuple[str, ...]] = ["A message from ", tags]
            _add_pieces(chunks, name_pieces(sender), tags)
            chunks += [
                " that this device cannot read yet: it appears here when its key arrives.\n",
                tags,
            ]
            self._insert(*chunks)
        self._last_sender = None

    def drop_locked(self, message_id: bytes) -> None:
        """A locked message turned out forged or unreadable: its placeholder goes (the
        conversation says why elsewhere)."""
        if message_id in self._locked:
            self._after_unlock(message_id)

    @property
    def locked_count(self) -> int:
        """Messages shown as placeholders: waiting for their keys, or withheld."""
        return len(self._locked)

    def _show_locked_count(self, tag: str) -> None:
        count = sum(1 for each in self._locked.values() if each == tag)
        ranges = self.text.tag_ranges(tag)
        self.text.configure(state="normal")
        try:
            at = "end-1c"
            if ranges:
                at = str(ranges[0])
                self.text.delete(ranges[0], ranges[1])
            if count:
                what = "1 earlier message" if count == 1 else f"{count} earlier messages"
                why = "readable once a member who was here comes online"
                if tag == _WITHHELD_HISTORY:
                    why = WITHHELD_TEXT
                self.text.insert(at, f"{what}: {why}.\n", ("locked", "msgstart", tag))
        finally:
            self.text.configure(state="disabled")

    def _unlock(self, message_id: bytes) -> str | None:
        tag = self._locked.get(message_id)
        if tag is None:
            return None
        ranges = self.text.tag_ranges(tag)
        return str(ranges[0]) if ranges else "end-1c"

    def _after_unlock(self, message_id: bytes) -> None:
        tag = self._locked.pop(message_id)
        if tag in (_LOCKED_HISTORY, _WITHHELD_HISTORY):
            self._show_locked_count(tag)
            return
        ranges = self.text.tag_ranges(tag)
        if ranges:
            self.text.configure(state="normal")
            self.text.delete(ranges[0], ranges[1])
            self.text.configure(state="disabled")
        self.text.tag_delete(tag)

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

    def set_pending_note(self, message_id: bytes, note: str, *, tag: str = "") -> None:
        """Change the note of a still-pending message (e.g. from "sending…" to "waiting…");
        ``tag`` gives it another look ("notsent": the warning colour, "pendnote": muted)."""
        key = message_id.hex()
        ranges = self.text.tag_ranges(f"note{key}")
        if not ranges:
            return
        tags = self.text.tag_names(ranges[0])
        if tag:
            tags = (*(t for t in tags if t not in ("pendnote", "notsent")), tag)
        self.text.configure(state="normal")
        try:
            self.text.delete(ranges[0], ranges[1])
            self.text.insert(ranges[0], f"  {note}", tags)
        finally:
            self.text.configure(state="disabled")

    def note_end(self, message_id: bytes) -> str | None:
        """Where the pending note of ``message_id`` ends (to put buttons after it), or None."""
        ranges = self.text.tag_ranges(f"note{message_id.hex()}")
        return str(ranges[1]) if ranges else None

    def pending_id_at(self, index: str) -> bytes | None:
        """The id of the pending (or not sent) own message under ``index``, or None."""
        for tag in self.text.tag_names(index):
            if tag.startswith("msg") and len(tag) == 3 + 32:
                try:
                    return bytes.fromhex(tag[3:])
                except ValueError:
                    return None
        return None

    def seen(self, message_id: bytes) -> bool:
        """Whether ``message_id`` is already on screen (or was, before trimming)."""
        return message_id in self._seen_set

    def add_notice(self, text: str, kind: str = "notice", *, key: str = "") -> None:
        """A centred line for presence and connection news; ``kind``: notice, warning, good.
        With ``key``, :meth:`replace_notice` can later say something else in its place (one
        line per connection loss, updated when the connection is back)."""
        self._prepare()
        if self._follow is False:
            self._mark_unseen()
        tags: tuple[str, ...] = (kind, "msgstart")
        if key:
            tag = f"notice{key}"
            self.text.tag_delete(tag)  # a key names one line at a time
            tags = (*tags, tag)
        self._insert(text + "\n", tags)
        self._last_sender = None

    def replace_notice(self, key: str, text: str, kind: str = "notice") -> bool:
        """Say ``text`` instead of the notice added with ``key``, in place; False if it is not
        on screen (never added, or trimmed away)."""
        tag = f"notice{key}"
        ranges = self.text.tag_ranges(tag)
        if not ranges:
            return False
        start = str(ranges[0])
        self.text.configure(state="normal")
        try:
            self.text.delete(start, f"{ranges[1]}-1c")  # the line's text; its newline stays
            self.text.insert(start, text, (kind, "msgstart", tag))
            for old in ("notice", "warning", "good"):
                if old != kind:
                    self.text.tag_remove(old, start, f"{start} lineend+1c")
            self.text.tag_add(kind, start, f"{start} lineend+1c")
        finally:
            self.text.configure(state="disabled")
        return True

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

    def link_at(self, index: str) -> str | None:
        """The link under ``index`` ("@x,y", "3.5"…), exactly as shown, or None."""
        return link_at(self.text, index)

    def activate_link(self, url: str) -> None:
        """A click on a link: open http(s) in the browser, copy anything else and say so."""
        self.links.activate(url)

    @property
    def tooltip_text(self) -> str:
        """What the link tooltip shows now ("" when hidden)."""
        return self.links.tooltip_text

    def message_at(self, index: str) -> str | None:
        """The body of the message under ``index`` as shown (pending notes left out), or None
        for a header-less spot (a notice, a divider)."""
        if "body" not in self.text.tag_names(index) and "header" not in self.text.tag_names(index):
            return None
        found = message_range(self.text, index)
        if found is None:
            return None
        start, stop = found
        parts: list[str] = []
        # The dump tells only the tags that start inside it: a body that runs on from the
        # message before (one header for both) is on already.
        active: set[str] = set(self.text.tag_names(start))
        for key, value, _where in self.text.dump(start, stop, text=True, tag=True):
            if key == "tagon":
                active.add(value)
            elif key == "tagoff":
                active.discard(value)
            elif key == "text" and "body" in active and not active & _NOT_THE_BODY:
                parts.append(value)
        body = "".join(parts).rstrip("\n")
        return body or None

    def copy_text(self, text: str) -> None:
        """Put ``text`` on the clipboard."""
        self.clipboard_clear()
        self.clipboard_append(text)

    def flash(self, text: str) -> None:
        """A small notice over the top of the list that goes away by itself."""
        self.flash_label.configure(text=text)
        self.flash_label.place(relx=0.5, y=8, anchor="n")
        self.flash_label.lift()
        if self._flash_after is not None:
            self.after_cancel(self._flash_after)
        self._flash_after = self.after(FLASH_MS, self._hide_flash)

    def _hide_flash(self) -> None:
        self._flash_after = None
        self.flash_label.place_forget()

    @property
    def palette(self) -> Palette:
        return self._palette

    @property
    def menu(self) -> tk.Menu | None:
        """The context menu while it is open (tests look)."""
        return self.menus.menu

    def build_menu(self, index: str) -> tk.Menu:
        """The context menu for the spot ``index`` (``gui/conversation_menu.py``)."""
        return self.menus.build(index)

    def open_menu(self, index: str, x: int, y: int) -> None:
        self.menus.open(index, x, y)

    # -- which message is where, and replies' quotes ------------------------------------

    def message_id_at(self, index: str) -> bytes | None:
        """The id of the message under ``index`` (None: a notice, a divider, a placeholder,
        or a message shown without an id)."""
        tags = self.text.tag_names(index)
        if "body" not in tags and "header" not in tags:
            return None
        start = message_start(self.text, index)
        for _key, mark, _where in self.text.dump(start, f"{start} + 1 char", mark=True):
            if mark.startswith("id") and len(mark) == 2 + 32:
                return bytes.fromhex(mark[2:])
        return None

    def quoted_at(self, index: str) -> bytes | None:
        """The id of the message the quote under ``index`` answers (None: not a quote)."""
        return quoted_id(self.text.tag_names(index))

    def _on_quote_click(self, event: tk.Event) -> None:
        if self.text.tag_ranges("sel"):
            return  # a drag that selected text is not a click
        answered = self.quoted_at(f"@{event.x},{event.y}")
        if answered is not None and self.on_quote is not None:
            self.on_quote(answered)

    def _on_return(self, _event: tk.Event) -> str | None:
        """Enter in the conversation on a reply's quote (the insert mark there): jump."""
        answered = self.quoted_at("insert")
        if answered is None or self.on_quote is None:
            return None
        self.on_quote(answered)
        return "break"

    # -- look ---------------------------------------------------------------------------

    def apply_palette(self, palette: Palette) -> None:
        """Recolour for a theme switch: the widget, every tag, the name colours."""
        self._palette = palette
        self.links.hide_tooltip()
        self.text.configure(
            background=palette.surface,
            foreground=palette.text,
            selectbackground=palette.selection,
            selectforeground=palette.text,
            inactiveselectbackground=palette.selection,
            insertbackground=palette.text,
            highlightcolor=palette.accent,
            highlightbackground=palette.surface,
        )
        self._configure_tags(palette)
        # A sender's tags are named after their light colour; the same tag gets the dark one.
        for colour in self._coloured:
            index = _colour_index(colour)
            shown = palette.names[index] if index is not None else palette.accent
            tint = self._tint(shown)
            self.text.tag_configure(f"name{colour}", foreground=shown)
            self.text.tag_configure(
                f"tint{colour}", background=tint, lmargincolor=tint, rmargincolor=palette.surface
            )

    def _on_configure(self, event: tk.Event) -> None:
        self.update_wrap_width(event.width)
        if self._pinned or self._holding_pin:
            # A resize keeps the top line where it was; the newest message would slide out of
            # view (and the list would stop following). Show it again once laid out, whatever
            # the relayout reports in between.
            self.after_idle(self.text.see, "end")

    def hold_pin(self) -> None:
        """Call just before the fonts change (zoom): if the newest message is in view, it
        stays in view once the list is laid out again with the new fonts."""
        if not (self._pinned or self.at_end()):
            return
        self._pinned = self._holding_pin = True
        if self._pin_after is None:
            self._pin_after = self.after(0, self._release_pin)

    def _release_pin(self) -> None:
        self._pin_after = None
        self.update_idletasks()  # the relayout with the new fonts
        self.text.see("end")
        self._holding_pin = False
        self._pinned = True

    def update_wrap_width(self, width: int | None = None) -> None:
        """Keep bodies at a readable width: a right margin grows with the window past
        :data:`MAX_LINE_CHARS` average characters. Call after a zoom too."""
        width = self.text.winfo_width() if width is None else width
        font = tkfont.nametofont("SocketChatMessage", self)
        readable = font.measure("abcdefghij") * MAX_LINE_CHARS // 10 + BODY_INDENT + 2 * 14
        margin = max(8, width - readable)
        self.text.tag_configure("body", rmargin=margin)

    @property
    def body_right_margin(self) -> int:
        return int(self.text.tag_cget("body", "rmargin") or 0)

    # -- scrolling from the keyboard ----------------------------------------------------

    def scroll_pages(self, pages: int) -> None:
        """PgUp / PgDn from the compose box."""
        self.text.yview_scroll(pages, "pages")

    def scroll_to_top(self) -> None:
        """Ctrl+Home from the compose box."""
        self.text.yview_moveto(0.0)

    # -- internals ----------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._follow is None:
            self._follow = self.at_end()

    def _insert(self, *chunks: str | tuple[str, ...]) -> None:
        """Insert ``text, tags, text, tags…`` at the end (or where a placeholder was)."""
        self.text.configure(state="normal")
        # Tk's insert takes alternating text and tag arguments; typeshed only models one pair.
        self.text.insert(self._insert_at, *chunks)  # type: ignore[arg-type]
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
        at_end = float(last) >= 0.999
        if self.unseen and at_end:
            self._clear_unseen()
        if not self._holding_pin:
            self._pinned = at_end

    def destroy(self) -> None:
        # Timers left pending would fire on a destroyed widget (a zoom just before closing).
        for pending in (self._pin_after, self._flash_after, self._found_after):
            if pending is not None:
                self.after_cancel(pending)
        self._pin_after = self._flash_after = self._found_after = None
        super().destroy()

    def _trim(self) -> None:
        lines = int(self.text.index("end-1c").split(".")[0])
        excess = lines - self.max_lines
        if excess <= 0:
            return
        # Cut at the start of a message, never in the middle of one.
        cut = self.text.tag_nextrange("msgstart", f"{excess + 1}.0")
        end = cut[0] if cut else f"{excess + 1}.0"
        for _key, mark, _where in self.text.dump("1.0", end, mark=True):
            if mark.startswith("id"):
                self.text.mark_unset(mark)  # its message goes: a search cannot show it here
        self.text.configure(state="normal")
        self.text.delete("1.0", end)
        self.text.configure(state="disabled")


def _colour_index(colour: str) -> int | None:
    """Which of the name colours ``colour`` is (tags are named after the light palette's)."""
    from gui.theme import LIGHT

    try:
        return LIGHT.names.index(colour)
    except ValueError:
        return None


def _add_pieces(
    chunks: list[str | tuple[str, ...]], pieces: Iterable[Piece], tags: tuple[str, ...]
) -> None:
    """Append ``pieces`` to an insert's ``text, tags…`` list; markers also get ``escape``."""
    for text, is_marker in pieces:
        chunks += [text, (*tags, "escape") if is_marker else tags]
