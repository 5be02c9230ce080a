"""Names and message bodies from other members, made safe to show in the message list.

Every name and every body comes from another person and may be written to deceive: a body
with newlines and a copy of a header ("bob  12:34") reads as a message from bob; forty empty
lines push that fake far below the real sender's name; a name with a line separator or a
zero-width space passes for someone else's. The message list (``gui/messages.py``) inserts a
name only through :func:`name_pieces` and a body only through :func:`body_pieces`; the chat
window's member list and notices use :func:`display_name`. The list then keeps every body
indented and tinted in its sender's colour, so what a body contains stays visibly inside it.

What Tk 8.6.13 on X11 (DejaVu fonts) does with the characters involved, seen on screen:

- it runs no bidi algorithm: RLO, LRO, RLE, PDF, LRM and RLM draw as nothing and reorder
  nothing; the isolates (U+2066–U+2069) and ALM (U+061C) draw as boxes. Wrapping names and
  bodies in an isolate would therefore add two boxes to every message here and protect
  nothing, while macOS and Windows, whose native text drawing may apply them, would still
  hide them. So bidi controls are not applied and not hidden: each shows as a small marker
  such as ``⟨U+202E⟩``, in names and in bodies alike.
- U+2028 and U+2029 are not line breaks (they draw as nothing); CR, VT, FF, NEL and the other
  C0/C1 controls draw as boxes. In a body they are line breaks (CR LF is one) or markers.
- combining marks are drawn over their base without stacking; platforms that shape text stack
  them above and below the line ("Zalgo" text), so a run of them is cut to a few per base,
  which is all that real writing uses.

Call these on the Tk thread or anywhere: they are pure functions of their argument.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A piece of text to insert and whether it is a marker the list styles apart (muted, small).
Piece = tuple[str, bool]

MAX_NAME_CHARS = 40  # a name is cut with "…" past this many characters (markers included)
MAX_BLANK_LINES = 2  # a longer run of blank lines inside a body becomes this many
MAX_BLANK_RUN = 16  # a longer run of tabs or unusual spaces on one line is cut to this
MAX_MARKS = 4  # combining marks kept after one base character
MAX_MARKERS = 64  # markers shown in one body; further escaped characters are only counted
MAX_LINES = 60  # lines shown of one body; the rest is counted (the export holds it all)

ELLIPSIS = "…"
EMPTY_BODY = "⟨empty message⟩"
EMPTY_NAME = "⟨no name⟩"

_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Unicode's Default_Ignorable_Code_Point outside the C* categories (those are all escaped in
# names anyway): the Hangul fillers, the combining grapheme joiner, Khmer inherent vowels,
# Mongolian variation selectors and the variation selectors. Plus U+2800, a blank that is a
# symbol. Any of them makes a name look like another.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
_EMOJI_VARIATIONS = "\ufe0e\ufe0f"  # kept after a symbol (❤️), a marker anywhere else
_MARK_CATEGORIES = ("Mn", "Me")  # non-spacing and enclosing marks: drawn over their base

# Line breaks a body may use; each becomes "\n" (CR LF is one break).
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# A line that shows nothing: white space and invisible characters only.
_INVISIBLE_CLASS = (
    "\\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_BLANK_LINE = re.compile(f"[{_INVISIBLE_CLASS}]*")
_BLANK_RUN = re.compile(f"[{_INVISIBLE_CLASS}]{{{MAX_BLANK_RUN + 1},}}")
# Plain ASCII bodies without these need no work (most messages): anything outside printable
# ASCII and newline, a blank line at either end or only blanks, more than MAX_BLANK_LINES
# blank lines in a row.
_ASCII_NEEDS_WORK = re.compile(
    r"[^\x20-\x7e\n]|\A *\n|\n *\Z|\A *\Z|" + r"\n *" * (MAX_BLANK_LINES + 1) + r"\n"
)


def marker(char: str) -> str:
    """How an escaped character shows: ``⟨U+200B⟩``."""
    return f"⟨U+{ord(char):04X}⟩"


def _ignorable(code: int) -> bool:
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _hidden_in_name(char: str, previous: str) -> bool:
    """Whether ``char`` would be invisible, or not what it seems, in a name."""
    category = unicodedata.category(char)
    if category[0] == "C" or category in ("Zl", "Zp"):
        return True  # controls (a newline too), format characters, unassigned, private use
    if category == "Zs":
        return char != " "
    if char in _EMOJI_VARIATIONS:
        return not previous or unicodedata.category(previous) != "So"
    return _ignorable(ord(char))


@lru_cache(maxsize=2048)
def name_pieces(name: str) -> tuple[Piece, ...]:
    """A sender name as pieces for one header line: never a line break, at most
    ``MAX_NAME_CHARS`` characters (then cut with "…"), every character that is invisible or
    makes the name look like another shown as a marker.

    Cached: a room has few names and each header asks again.
    """
    if not name:
        return ((EMPTY_NAME, True),)
    units: list[Piece] = []
    previous = ""
    marks = 0
    for position, char in enumerate(name):
        if unicodedata.category(char) in _MARK_CATEGORIES and char not in _EMOJI_VARIATIONS:
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        edge_space = char == " " and position in (0, len(name) - 1)
        if edge_space or _hidden_in_name(char, previous):
            units.append((marker(char), True))
        else:
            units.append((char, False))
        previous = char
    if sum(len(unit) for unit, _ in units) > MAX_NAME_CHARS:
        kept, used = [], 0
        for unit in units:
            used += len(unit[0])
            if used > MAX_NAME_CHARS - len(ELLIPSIS):
                break
            kept.append(unit)
        units = [*kept, (ELLIPSIS, True)]
    pieces = _Pieces()
    for text, is_marker in units:
        pieces.add(text, is_marker)
    return tuple(pieces.done())


def display_name(name: str) -> str:
    """A name as one plain line (member list, notices): :func:`name_pieces` joined."""
    return "".join(piece for piece, _ in name_pieces(name))


def body_pieces(text: str) -> list[Piece]:
    """A message body as pieces to insert: line breaks normalised to ``"\\n"``, blank lines at
    either end dropped, runs of more than ``MAX_BLANK_LINES`` blank lines cut to that many,
    at most ``MAX_LINES`` lines (then a count of the lines left out),
    bidi and other control characters shown as markers, long invisible runs and piles of
    combining marks cut. Everything else in the body is kept, in order.
    """
    if text.isascii() and not _ASCII_NEEDS_WORK.search(text) and text.count("\n") < MAX_LINES:
        return [(text, False)]
    lines = _LINE_BREAKS.sub("\n", text).split("\n")
    blank = [_BLANK_LINE.fullmatch(line) is not None for line in lines]
    if all(blank):
        return [(EMPTY_BODY, True)]
    first = blank.index(False)
    end = len(lines) - blank[::-1].index(False)
    pieces = _Pieces()
    run = shown = 0
    for number in range(first, end):
        if shown == MAX_LINES:
            # Thousands of lines would fill screens and bury every later message; a reader
            # who wants them exports the room.
            hidden = sum(1 for line in range(number, end) if not blank[line])
            pieces.add(f"\n⟨{hidden:,} more lines not shown: Export… the room to read them⟩", True)
            break
        shown += 1
        if blank[number]:
            run += 1
            if run <= MAX_BLANK_LINES:
                pieces.add("\n", False)
            continue
        run = 0
        if number > first:
            pieces.add("\n", False)
        _add_line(pieces, _BLANK_RUN.sub(_cut_blank_run, lines[number]))
    if pieces.untold:
        # Eight characters of marker per escaped character would let a few kilobytes of
        # controls fill screens and cost the Tk thread dearly; past the cap, a count.
        pieces.add(f" ⟨{pieces.untold:,} more control characters not shown⟩", True)
    return pieces.done()


def _cut_blank_run(match: re.Match[str]) -> str:
    # Ordinary spaces hang past the right edge when Tk wraps; tabs, no-break and other spaces
    # each take room, and a few thousand of them make screens of empty lines.
    run = match.group()
    return run if run.count(" ") == len(run) else run[:MAX_BLANK_RUN]


def _add_line(pieces: _Pieces, line: str) -> None:
    if line.isascii() and line.isprintable():
        pieces.add(line, False)
        return
    marks = 0
    for char in line:
        category = unicodedata.category(char)
        if category in _MARK_CATEGORIES:
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        if char in _BIDI_CONTROLS or (category == "Cc" and char != "\t"):
            if pieces.markers < MAX_MARKERS:
                pieces.add(marker(char), True)
            else:
                pieces.untold += 1
        else:
            pieces.add(char, False)


class _Pieces:
    """Collects text and markers; neighbouring text is joined into one piece."""

    def __init__(self) -> None:
        self._pieces: list[Piece] = []
        self._text: list[str] = []
        self.markers = 0
        self.untold = 0  # markers not added (see MAX_MARKERS)

    def add(self, text: str, is_marker: bool) -> None:
        if not is_marker:
            self._text.append(text)
            return
        self._flush()
        self._pieces.append((text, True))
        self.markers += 1

    def done(self) -> list[Piece]:
        self._flush()
        return self._pieces

    def _flush(self) -> None:
        if self._text:
            self._pieces.append(("".join(self._text), False))
            self._text = []
