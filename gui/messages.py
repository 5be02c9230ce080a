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

:class:`MessageList` adds messages, placeholders and notices in order (who shares a header, the
history divider, repeats dropped) and is the face the chat window's parts call; the rest is in
modules of its own: how a message looks (``gui/message_look.py``) and each sender's colour
(``gui/sender_colours.py``); following new messages, the marker and the jump button
(``gui/following.py``); placeholders of messages not readable yet (``gui/locked_messages.py``);
our own messages' pending notes (``gui/pending_notes.py``); which message is where, a file's
card in a message and trimming (``gui/message_spots.py``).

Only the Tk thread calls it. Call the ``add_*`` methods for each event, then :meth:`flush`
once per batch (the pump's ``after_batch``) to scroll and trim.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections import deque
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import ttk

from gui.conversation_menu import ConversationMenu, MenuEntries
from gui.following import Following
from gui.link_hover import LinkHover, link_at, open_in_browser
from gui.locked_messages import LockedMessages
from gui.message_look import (
    BODY_INDENT,
    CHANGED_MARK,
    CHANGED_NOTE,
    body_chunks,
    configure_tags,
    format_time,
    header_chunks,
    make_text,
    recolour_text,
)
from gui.message_spots import (
    embed_in_message,
    light_up,
    mark_message,
    message_at,
    message_id_at,
    trim,
)
from gui.pending_notes import mark_delivered, note_end, pending_id_at, set_pending_note
from gui.quotes import Originals, Quote, quote_chunks, quoted_id
from gui.sender_colours import SenderColours, key_colour
from gui.theme import PALETTE, Palette
from net.client import ReplyTo

# The names of this module, and those other modules import from here that moved out.
__all__ = [
    "BODY_INDENT",
    "CHANGED_MARK",
    "CHANGED_NOTE",
    "FLASH_MS",
    "FOUND_MS",
    "MAX_LINES",
    "MAX_LINE_CHARS",
    "MessageList",
    "format_time",
    "key_colour",
]

MAX_LINES = 5000
MAX_LINE_CHARS = 90  # bodies wrap at about this many average characters on a wide window
FLASH_MS = 5000  # how long a small notice over the list stays
FOUND_MS = 4000  # how long a message chosen in the search results stays lit
_GROUP_SECONDS = 300  # consecutive messages from one sender within 5 min share a header
_SEEN_IDS = 4096  # how many message ids are remembered to drop history repeats on reconnect


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
        self.text = make_text(self, palette)
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.text.yview)
        self._following = Following(self)  # showing the newest message, and keeping it shown
        self.text.configure(yscrollcommand=self._following.on_scroll)
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
        self._colours = SenderColours(self)  # each sender's name and tint tags
        configure_tags(self.text, palette)
        #: Entries put first in the context menu for the spot at an index (the not-sent
        #: messages' Retry sending and Copy message), as (label, command).
        self.menu_extras: MenuEntries | None = None
        self.menus = ConversationMenu(self)  # the context menu; parts add to its sources
        #: Messages shown here, for the quotes of replies to them (``gui/quotes.py``).
        self.originals = Originals()
        #: A click (or Enter) on a reply's quote: ``on_quote(id of the message it answers)``.
        self.on_quote: Callable[[bytes], object] | None = None
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
        self.message_count = 0
        self._locked = LockedMessages(self)  # placeholders of messages not readable yet
        self._insert_at = "end-1c"

    def sender_colour(self, key: bytes, *, own: bool, palette: Palette | None = None) -> str:
        """A sender's colour (``gui/sender_colours.py``, the one place it is chosen)."""
        return self._colours.colour(key, own=own, palette=palette)

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
        self._following.prepare()
        if message_id is not None and (where := self._locked.where(message_id)) is not None:
            # It was shown locked: it goes where its placeholder is.
            saved, self._last_sender = self._last_sender, None
            self._insert_at = where
            try:
                self._add_message_at(
                    sender, text, timestamp_ms, own, sender_key, changed, quote=quote
                )
                mark_message(self.text, message_id, where)
            finally:
                self._insert_at = "end-1c"
                self._last_sender = saved
                self._locked.unlocked(message_id)
            return True
        self._history_start(from_history)
        if not from_history:
            self._following.arrived()
        start = self.text.index(self._insert_at)
        self._add_message_at(
            sender, text, timestamp_ms, own, sender_key, changed, message_id, pending, quote
        )
        if message_id is not None:
            mark_message(self.text, message_id, start)
        return True

    def show_message(self, message_id: bytes) -> bool:
        """Scroll to ``message_id`` and light it up for a moment (a search result was
        chosen); False if it is not in the list (never shown, or cut away as old)."""
        if not light_up(self.text, message_id):
            return False
        self._following.moved()
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
        name_tag, tint_tag = self._colours.tags(sender_key or sender.encode("utf-8"), own)
        start = self.text.index(self._insert_at)
        # One insert for the whole message: text and tags alternate, as Text.insert takes them.
        chunks: list[str | tuple[str, ...]] = []
        # A marked message always gets its own header: the warning is on every one of them.
        if changed or who != self._last_sender or now - self._last_time > _GROUP_SECONDS:
            time_text = "  " + format_time(timestamp_ms, now=self._clock())
            chunks += header_chunks(sender, name_tag, time_text, changed=changed)
        body_tags: tuple[str, ...] = ("body", tint_tag)
        if changed:
            body_tags += ("changed",)
        if pending is not None:
            body_tags += ("pending",)
        if quote is not None:
            chunks += quote_chunks(quote, body_tags)
        chunks += body_chunks(text, body_tags, None if own else self.mention_name)
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
        ``message_id``, in place of its text (``gui/message_spots.py``); call right after
        :meth:`add_message` showed it. False if it is not on screen."""
        return embed_in_message(self.text, message_id, widget)

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
        self._following.prepare()
        if from_history:
            self._history_start(True)
            self._locked.add_earlier(message_id, withheld=withheld)
        else:
            self._following.arrived()
            self._insert(*self._locked.placeholder(sender, message_id))
        self._last_sender = None

    def drop_locked(self, message_id: bytes) -> None:
        """A locked message turned out forged or unreadable: its placeholder goes (the
        conversation says why elsewhere)."""
        self._locked.drop(message_id)

    @property
    def locked_count(self) -> int:
        """Messages shown as placeholders: waiting for their keys, or withheld."""
        return len(self._locked)

    # -- our own messages' state (gui/pending_notes.py) ---------------------------------

    def mark_delivered(self, message_id: bytes) -> bool:
        """Turn a pending own message into a delivered one; False if it is not pending here."""
        return mark_delivered(self.text, message_id)

    def set_pending_note(self, message_id: bytes, note: str, *, tag: str = "") -> None:
        """Change the note of a still-pending message (e.g. from "sending…" to "waiting…");
        ``tag`` gives it another look ("notsent": the warning colour, "pendnote": muted)."""
        set_pending_note(self.text, message_id, note, tag=tag)

    def note_end(self, message_id: bytes) -> str | None:
        """Where the pending note of ``message_id`` ends (to put buttons after it), or None."""
        return note_end(self.text, message_id)

    def pending_id_at(self, index: str) -> bytes | None:
        """The id of the pending (or not sent) own message under ``index``, or None."""
        return pending_id_at(self.text, index)

    # -- notices, and what was shown ----------------------------------------------------

    def seen(self, message_id: bytes) -> bool:
        """Whether ``message_id`` is already on screen (or was, before trimming)."""
        return message_id in self._seen_set

    def add_notice(self, text: str, kind: str = "notice", *, key: str = "") -> None:
        """A centred line for presence and connection news; ``kind``: notice, warning, good.
        With ``key``, :meth:`replace_notice` can later say something else in its place (one
        line per connection loss, updated when the connection is back)."""
        self._following.prepare()
        self._following.arrived()
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

    def add_line(self, text: str, tags: tuple[str, ...]) -> None:
        """A line at the end that is no message (the "new messages" marker of
        ``gui/following.py``): the message after it starts with a header of its own."""
        self._insert(text, tags)
        self._last_sender = None

    def start_session(self) -> None:
        """Call on every (re)join: the next history messages get their own divider."""
        self._history_divider = False
        self._last_sender = None

    def follow_next(self) -> None:
        """Scroll to the end after this batch whatever the position (after sending)."""
        self._following.follow_next()

    # -- per batch ----------------------------------------------------------------------

    def flush(self) -> None:
        """End of a batch: scroll to the end if following, trim old lines."""
        trim(self.text, self.max_lines)
        self._following.end_batch()

    def at_end(self) -> bool:
        """Whether the last line is in view (the list is following new messages)."""
        return self._following.at_end()

    def scroll_to_end(self) -> None:
        """The jump button: show the newest message and follow again."""
        self._following.scroll_to_end()

    @property
    def unseen(self) -> int:
        """Messages added while scrolled up (the jump button shows)."""
        return self._following.unseen

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
        return message_at(self.text, index)

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
        return message_id_at(self.text, index)

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
        recolour_text(self.text, palette)
        configure_tags(self.text, palette)
        self._colours.recolour(palette)

    def _on_configure(self, event: tk.Event) -> None:
        self.update_wrap_width(event.width)
        self._following.resized()

    def hold_pin(self) -> None:
        """Call just before the fonts change (zoom): if the newest message is in view, it
        stays in view once the list is laid out again with the new fonts."""
        self._following.hold_pin()

    @property
    def _holding_pin(self) -> bool:
        # A zoom is being laid out (``gui/following.py``): tests wait for its end.
        return self._following.holding_pin

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

    def destroy(self) -> None:
        # Timers left pending would fire on a destroyed widget (a zoom just before closing).
        self._following.cancel()
        for pending in (self._flash_after, self._found_after):
            if pending is not None:
                self.after_cancel(pending)
        self._flash_after = self._found_after = None
        super().destroy()
