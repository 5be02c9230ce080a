"""Another member's text, made safe to show on a terminal and laid out in lines.

Every text from another person is hostile. Printed raw it could drive the terminal (control
characters), reorder or hide what you read (bidi controls, zero-width and other invisible
characters), or pass for someone else's message: text padded to the terminal's edge wraps, and
its next visual line starts at column 0, where "12:34 bob: ..." looks like bob speaking.

Call :func:`clean` on every untrusted piece (it is idempotent, so cleaning a whole line again is
harmless), then :func:`collapse_spaces` on the line, then — only on a terminal — :func:`wrap`
to the terminal's width: every visual line after the first starts with :data:`CONTINUATION`, so
no other member's text ever starts at column 0.
"""

from __future__ import annotations

import re
import types
import unicodedata

_regex: types.ModuleType | None
try:  # optional: knows Default_Ignorable_Code_Point exactly, for its own Unicode version
    import regex as _regex
except ImportError:  # the short list below covers what the categories miss
    _regex = None

CONTINUATION = "      │ "  # starts every visual line after the first one of an event
MIN_SPACE_RUN = 5  # a run of this many spaces or more is shown as "[N spaces]"
_MIN_COLUMNS = 20  # narrower than this the terminal wraps anyway; lay out for this many
_MAX_UNIT = 10  # the widest piece a line break may not cut: an escape such as \U000e0100

# Categories never printed raw: controls, format characters (bidi controls and isolates,
# zero-width characters, the BOM, tags, the soft hyphen), line and paragraph separators,
# surrogates, private use and unassigned code points (whose width nobody can know).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

# Default_Ignorable_Code_Point characters outside those categories (Unicode's PropList.txt
# Other_Default_Ignorable_Code_Point and Variation_Selector), and the braille blank, which
# fonts draw as nothing: each of them can hide text or make two texts look the same.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors (and U+180E, a Cf)
    (0x2800, 0x2800),  # braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors 17-256
)
_INVISIBLE = frozenset(code for first, last in _INVISIBLE_RANGES for code in range(first, last + 1))
_DEFAULT_IGNORABLE = (
    _regex.compile(r"\p{Default_Ignorable_Code_Point}") if _regex is not None else None
)

# Emoji glue, kept only where it joins emoji (see clean): without it "❤️", "🏳️‍🌈" and
# "👩‍💻" would print as escapes in ordinary chat. Anywhere else it is escaped.
_ZWJ = "\u200d"
_PRESENTATION = ("\ufe0e", "\ufe0f")  # text and emoji presentation selectors
_EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)  # skin tones
_KEYCAP_BASES, _KEYCAP = frozenset("0123456789#*"), "\u20e3"  # "1️⃣" is 1, U+FE0F, U+20E3
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # flag halves: terminals draw them 1 or 2 wide
# Made East Asian Wide by Unicode 16, after the unicodedata of Python 3.10-3.13: a terminal
# with newer tables draws them two columns wide.
_WIDE_SINCE_UNICODE_16 = (
    range(0x2630, 0x2638),  # trigrams
    range(0x268A, 0x2690),  # monograms and digrams
    range(0x4DC0, 0x4E00),  # Yijing hexagrams
    range(0x1D300, 0x1D357),  # Tai Xuan Jing symbols
    range(0x1D360, 0x1D377),  # counting rod numerals
)

_SPACE_RUN = re.compile(rf"[^\S\n]{{{MIN_SPACE_RUN},}}")  # after clean(): only Zs is left
_ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|n)")  # what clean() writes


def is_invisible(char: str) -> bool:
    """True for a character :func:`clean` never prints raw (outside emoji glue)."""
    if unicodedata.category(char) in _ESCAPED_CATEGORIES or ord(char) in _INVISIBLE:
        return True
    return _DEFAULT_IGNORABLE is not None and _DEFAULT_IGNORABLE.match(char) is not None


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_pictograph(char: str) -> bool:
    return unicodedata.category(char) == "So"


def clean(text: str) -> str:
    """Make untrusted text safe for one terminal line: escape every control and invisible char.

    A newline becomes ``\\n`` and a tab four spaces; controls, format characters (bidi
    controls and isolates, zero-width characters, the BOM), U+2028/U+2029 and other invisible
    characters become escapes such as ``\\u202e``. One exception, so emoji stay readable: a
    presentation selector right after a pictograph (or in a keycap such as "1️⃣"), and a
    zero-width joiner between two pictographs, are kept; neither can hide or reorder text.
    """
    out: list[str] = []
    emoji = False  # the last character printed raw was a pictograph (or its selector/skin tone)
    bare = False  # ... and it was the pictograph itself, which may take one selector
    for position, char in enumerate(text):
        if char == "\n":
            out.append("\\n")
            emoji = bare = False
            continue
        if char == "\t":
            out.append("    ")
            emoji = bare = False
            continue
        keycap = text[position - 1 : position] in _KEYCAP_BASES and (
            text[position + 1 : position + 2] == _KEYCAP
        )
        if char in _PRESENTATION and (bare or keycap):
            out.append(char)
            bare = False
            continue
        if char == _ZWJ and emoji and _is_pictograph(text[position + 1 : position + 2] or " "):
            out.append(char)
            emoji = bare = False
            continue
        if is_invisible(char):
            out.append(_escape(char))
            emoji = bare = False
            continue
        out.append(char)
        bare = _is_pictograph(char)
        emoji = bare or (emoji and ord(char) in _EMOJI_MODIFIERS)
    return "".join(out)


def collapse_spaces(text: str) -> str:
    """Show a run of :data:`MIN_SPACE_RUN` or more spaces as ``[N spaces]``: padding is visible.

    Any Unicode space counts (no-break, ideographic, em...). Call on cleaned text.
    """
    return _SPACE_RUN.sub(lambda run: f"[{len(run.group())} spaces]", text)


def char_width(char: str, *, ambiguous_wide: bool = False) -> int:
    """Columns a terminal gives ``char``, never less than it really takes.

    Underestimating is what would let text reach the terminal's edge and wrap to column 0, so
    every doubt counts wide: East Asian "ambiguous" characters when the terminal is set up for
    CJK, flag halves, characters made wide by a newer Unicode than Python's, and marks that are
    not combining marks proper.
    """
    if unicodedata.combining(char) and unicodedata.category(char) in ("Mn", "Me"):
        return 0
    if char in _PRESENTATION or char == _ZWJ:
        return 0  # kept by clean() only as emoji glue; the pictograph before it counts wide
    width = unicodedata.east_asian_width(char)
    if width in ("W", "F") or (width == "A" and ambiguous_wide):
        return 2
    code = ord(char)
    if code in _REGIONAL_INDICATORS or any(code in wide for wide in _WIDE_SINCE_UNICODE_16):
        return 2
    return 1


def text_width(text: str, *, ambiguous_wide: bool = False) -> int:
    """Columns ``text`` takes on a terminal, counted as :func:`wrap` counts them."""
    return sum(width for _, width in _clusters(text, ambiguous_wide))


def _clusters(text: str, ambiguous_wide: bool) -> list[tuple[str, int]]:
    """Split ``text`` into (characters, columns) units a line break may not cut.

    A unit is one character and the marks and zero-width characters after it: combining
    marks, a presentation selector, a zero-width joiner. A pictograph with the emoji presentation
    selector counts two columns whatever its East Asian width, as terminals draw it. An escape
    written by clean() is one unit too (at most 10 columns), so it is never cut in two.
    """
    units: list[tuple[str, int]] = []
    position = 0
    while position < len(text):
        escape = _ESCAPE.match(text, position)
        if escape is not None:
            units.append((escape.group(), len(escape.group())))
            position = escape.end()
            continue
        char = text[position]
        position += 1
        width = char_width(char, ambiguous_wide=ambiguous_wide)
        mark = width == 0 or unicodedata.category(char) in ("Mn", "Me")
        # A unit stays within _MAX_UNIT columns, so one always fits on a continuation line.
        if units and mark and units[-1][1] + max(width, 1) <= _MAX_UNIT:
            chars, so_far = units[-1]
            if char == "\ufe0f":
                so_far = max(so_far, 2)
            units[-1] = (chars + char, so_far + width)
        else:  # a mark with nothing before it to sit on gets a cell of its own
            units.append((char, max(width, 1) if not units else width))
    return units


def wrap(line: str, *, columns: int, ambiguous_wide: bool = False) -> list[str]:
    """Split one cleaned line into visual lines that fit a terminal ``columns`` wide.

    Each visual line stays below the last column (so the terminal never wraps by itself), and
    every line after the first starts with :data:`CONTINUATION`. Breaks go after a space when
    one is in the second half of the line, else anywhere between two units. A terminal
    narrower than 21 columns is laid out as if it had 21; it will wrap some lines itself.
    """
    units = _clusters(line, ambiguous_wide)
    first_limit = max(columns - 1, _MIN_COLUMNS)
    rest_limit = first_limit - text_width(CONTINUATION, ambiguous_wide=ambiguous_wide)
    lines: list[str] = []
    start = 0
    while start < len(units) or not lines:
        limit = rest_limit if lines else first_limit
        end, used = start, 0
        after_space, used_at_space = start, 0
        while end < len(units) and used + units[end][1] <= limit:
            used += units[end][1]
            end += 1
            if units[end - 1][0][0].isspace():
                after_space, used_at_space = end, used
        if end < len(units) and used_at_space * 2 >= limit:
            end = after_space
        piece = "".join(chars for chars, _ in units[start:end])
        lines.append(CONTINUATION + piece if lines else piece)
        start = end
    return lines
