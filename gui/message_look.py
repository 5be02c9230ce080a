"""How the conversation looks: the time in a message's header, the sign of a changed key, a
body's links and mentions, the list's ``tk.Text`` and the look of its tags.

Plain functions: :func:`format_time` and :func:`body_spans` touch no widget (call them
anywhere); :func:`header_chunks` and :func:`body_chunks` (with :func:`add_pieces`) build the
``text, tags…`` list of a message's one insert; :func:`make_text` makes the list's
``tk.Text``, and :func:`recolour_text` and :func:`configure_tags` give it and its tags their
look (again after a theme switch). The senders' own colours and tints are
``gui/sender_colours.py``'s. The message list (``gui/messages.py``) calls these on the Tk
thread.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Iterable

from gui.conversation_menu import KEY_SPOT
from gui.links import find_links, find_mentions
from gui.quotes import configure_quote_tags
from gui.safetext import Piece, body_pieces, name_pieces
from gui.theme import Palette

BODY_INDENT = 14  # pixels; every body line, wrapped or not, starts this far right of a header


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


def add_pieces(
    chunks: list[str | tuple[str, ...]], pieces: Iterable[Piece], tags: tuple[str, ...]
) -> None:
    """Append ``pieces`` to an insert's ``text, tags…`` list; markers also get ``escape``."""
    for text, is_marker in pieces:
        chunks += [text, (*tags, "escape") if is_marker else tags]


def header_chunks(
    sender: str, name_tag: str, time_text: str, *, changed: bool
) -> list[str | tuple[str, ...]]:
    """A message's header as ``text, tags…`` for the list's one insert: the name in the
    sender's ``name_tag``, the time, and for a sender whose key changed and is not accepted
    yet the sign before the name and the note after the time."""
    chunks: list[str | tuple[str, ...]] = []
    if changed:
        chunks += [CHANGED_MARK, ("changedmark", "header")]
    add_pieces(chunks, name_pieces(sender), ("sender", name_tag, "header"))
    chunks += [time_text, ("time", "header")]
    if changed:
        chunks += [CHANGED_NOTE, ("changednote", "header")]
    chunks += ["\n", ("time", "header")]
    return chunks


def body_chunks(
    text: str, body_tags: tuple[str, ...], mention: str | None
) -> list[str | tuple[str, ...]]:
    """A body's text as ``text, tags…``, made safe by ``gui/safetext.py``: ``body_tags`` on
    all of it, ``escape`` on markers, ``link`` on links and ``mention`` on ``@mention`` (the
    name to highlight; None: none)."""
    chunks: list[str | tuple[str, ...]] = []
    for piece, is_marker, kind in body_spans(body_pieces(text), mention):
        tags = body_tags
        if is_marker:
            tags = (*body_tags, "escape")
        elif kind is not None:
            tags = (*body_tags, kind)
        chunks += [piece, tags]
    return chunks


def make_text(master: tk.Misc, palette: Palette) -> tk.Text:
    """The message list's ``tk.Text``: read-only (disabled for typing) but selectable, and
    taking focus."""
    return tk.Text(
        master,
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


def recolour_text(text: tk.Text, palette: Palette) -> None:
    """The message list's ``text`` in ``palette`` (a theme switch), its tags aside."""
    text.configure(
        background=palette.surface,
        foreground=palette.text,
        selectbackground=palette.selection,
        selectforeground=palette.text,
        inactiveselectbackground=palette.selection,
        insertbackground=palette.text,
        highlightcolor=palette.accent,
        highlightbackground=palette.surface,
    )


def configure_tags(t: tk.Text, p: Palette) -> None:
    """The look of the message list's tags in ``t`` (again after a theme switch); a sender's
    name and tint tags are made by ``gui/sender_colours.py``."""
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
