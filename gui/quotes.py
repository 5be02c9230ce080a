"""Replies in the conversation: the quote above a reply's text, and what a quote says.

A reply (``ReplyContent``) names the message it answers and carries the replier's claim of it:
the sender's name and an excerpt. Both are another person's words, and may not match what
was said: where this conversation holds the original (:class:`Originals`, filled as messages
are shown), the quote shows this device's own copy, its real sender and text; otherwise it
shows the claim, marked "as quoted". Either way a quote is one short line
(:func:`one_line`): line breaks and runs of white space become one space, escaped characters
show as markers (``gui/safetext.py``), and it is cut to :data:`QUOTE_CHARS` characters, so a
quote of 10,000 lines or of escape characters takes one line.

The message list (``gui/messages.py``) draws a quote above the reply's text, dimmed and
indented behind a bar (:func:`quote_chunks`); a click on it (or Enter on it, or the
conversation's menu) jumps to the original if the list holds it, else the status line says
:data:`NOT_HERE`. :func:`reply_to` is what the conversation's "Reply" hands to the compose
box's reply bar (``gui/reply_bar.py``), and then to ``ChatClient.send(..., reply_to=)``.

Pure functions and a small store: call them on the Tk thread or anywhere.
"""

from __future__ import annotations

import re
import tkinter as tk
from collections import OrderedDict
from dataclasses import dataclass

from gui.safetext import ELLIPSIS, Piece, body_pieces, name_pieces
from gui.theme import Palette
from net.client import ReplyTo

QUOTE_CHARS = 90  # a quote's excerpt is cut to this many characters (markers included)
BAR = "▍ "  # before a quote: reads as a left border in the dimmed colour
AS_QUOTED = " (as quoted)"  # after the claimed sender when this view lacks the original
NOT_HERE = "The original message is not in this conversation's history."
_ORIGINALS = 4096  # how many originals a conversation remembers for its quotes
_SCAN_CHARS = 4 * QUOTE_CHARS  # enough of a body to fill a quote, even after blank lines
_SPACES = re.compile(r"(\s+)")
_EXCERPT_CHARS = 300  # of the answered text handed to ``send``, which cuts it to 300 bytes


@dataclass(frozen=True, slots=True)
class Original:
    """A message as this conversation shows it: who sent it and its text."""

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Quote:
    """What a reply's quote shows. ``own_copy``: ``sender`` and ``text`` are this device's
    copy of the original; otherwise they are the replier's claim."""

    to_message_id: bytes
    sender: str
    text: str
    own_copy: bool


class Originals:
    """The messages a conversation showed, by id (the newest few thousand): a quote shows
    this device's copy of what it answers when the id is here."""

    def __init__(self, limit: int = _ORIGINALS) -> None:
        self._limit = limit
        self._by_id: OrderedDict[bytes, Original] = OrderedDict()

    def add(self, message_id: bytes, sender: str, text: str) -> None:
        self._by_id[message_id] = Original(sender, text)
        if len(self._by_id) > self._limit:
            self._by_id.popitem(last=False)

    def get(self, message_id: bytes) -> Original | None:
        return self._by_id.get(message_id)

    def quote(self, reply: ReplyTo) -> Quote:
        """How the quote of ``reply`` reads here: our copy of the original if we hold it,
        else the replier's claim."""
        original = self._by_id.get(reply.message_id)
        if original is not None:
            return Quote(reply.message_id, original.sender, original.text, own_copy=True)
        return Quote(reply.message_id, reply.sender, reply.excerpt, own_copy=False)


def one_line(text: str, limit: int = QUOTE_CHARS) -> list[Piece]:
    """``text`` as one short line of pieces: line breaks and white space runs become one
    space, escaped characters markers (as in a body), at most ``limit`` characters, then
    "…"."""
    # Only the start can show: a body of 10,000 lines costs no more than a short one. Leading
    # white space goes first, so that a body starting with blank lines still fills the quote.
    whole = text.lstrip()
    head = whole[:_SCAN_CHARS]
    if len(whole) > len(head):  # more follows: an ellipsis ends the line whatever comes
        limit -= len(ELLIPSIS)
    out: list[Piece] = []
    used = 0
    space = False
    reserve = 0 if len(whole) > len(head) else len(ELLIPSIS)  # room for "…" when cut here
    for piece, is_marker in body_pieces(head):
        tokens = [(" ".join(piece.split()), True)] if is_marker else _words(piece)
        for token, marker in tokens:
            if not marker and token.isspace():
                space = bool(out)
                continue
            gap = " " if space else ""
            if used + len(gap) + len(token) > limit:
                room = limit - used - reserve
                cut = "" if marker else (gap + token)[:room].rstrip()
                if cut:
                    out.append((cut, False))
                out.append((ELLIPSIS, False))
                return _joined(out)
            if gap:
                out.append((gap, False))
            out.append((token, marker))
            used += len(gap) + len(token)
            space = False
    if len(whole) > len(head):
        out.append((ELLIPSIS, False))
    return _joined(out)


def _words(text: str) -> list[Piece]:
    """``text`` split into words and runs of white space (a run is one token)."""
    return [(token, False) for token in _SPACES.split(text) if token]


def one_line_text(text: str, limit: int = QUOTE_CHARS) -> str:
    """:func:`one_line` as plain text (a label: the reply bar)."""
    return "".join(piece for piece, _ in one_line(text, limit))


def _joined(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for text, is_marker in pieces:
        if out and not is_marker and not out[-1][1]:
            out[-1] = (out[-1][0] + text, False)
        else:
            out.append((text, is_marker))
    return out


def reply_to(message_id: bytes, sender: str, text: str) -> ReplyTo:
    """What "Reply" on a message hands to the reply bar and then to ``send``: its id, its
    sender's name and the start of its text (``send`` cuts it to the protocol's excerpt)."""
    return ReplyTo(message_id=message_id, sender=sender, excerpt=text[:_EXCERPT_CHARS])


def quote_tag(message_id: bytes) -> str:
    """The tag of a quote that answers ``message_id`` (a click on it jumps there)."""
    return f"quote{message_id.hex()}"


def quoted_id(tags: tuple[str, ...] | list[str]) -> bytes | None:
    """The id a quote answers, from the tags at a spot of the list (None: not a quote)."""
    for tag in tags:
        if tag.startswith("quote") and len(tag) == 5 + 32:
            try:
                return bytes.fromhex(tag[5:])
            except ValueError:
                return None
    return None


def quote_chunks(quote: Quote, tags: tuple[str, ...]) -> list[str | tuple[str, ...]]:
    """The quote's line as ``text, tags…`` for the message list's one insert: the bar, the
    sender (and "(as quoted)" for a claim), the excerpt; ``tags`` are the body's."""
    line = (*tags, "quote", quote_tag(quote.to_message_id))
    chunks: list[str | tuple[str, ...]] = [BAR, (*line, "quotebar")]
    for text, is_marker in name_pieces(quote.sender):
        chunks += [text, (*line, "quotesender", "escape") if is_marker else (*line, "quotesender")]
    if not quote.own_copy:
        chunks += [AS_QUOTED, line]
    chunks += ["  ", line]
    for text, is_marker in one_line(quote.text):
        chunks += [text, (*line, "escape") if is_marker else line]
    chunks += ["\n", line]
    return chunks


def configure_quote_tags(text: tk.Text, palette: Palette) -> None:
    """The look of quotes in the message list ``text`` (again after a theme switch): dimmed,
    behind a bar, a little apart from the reply's text."""
    text.tag_configure("quote", foreground=palette.muted, font="SocketChatItalic", spacing3=2)
    text.tag_configure("quotebar", foreground=palette.divider, font="SocketChatBold")
    text.tag_configure("quotesender", font="SocketChatBold")
