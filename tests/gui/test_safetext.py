"""Names and bodies made safe to show (gui/safetext.py): plain functions, no display needed.

What the message list does with the pieces on real Tk is in test_hostile_text.py.
"""

from __future__ import annotations

import pytest

from gui.safetext import (
    ELLIPSIS,
    EMPTY_BODY,
    MAX_BLANK_RUN,
    MAX_LINES,
    MAX_MARKERS,
    MAX_MARKS,
    MAX_NAME_CHARS,
    body_pieces,
    display_name,
    marker,
    name_pieces,
)


def shown(pieces) -> str:
    return "".join(text for text, _ in pieces)


def markers(pieces) -> list[str]:
    return [text for text, is_marker in pieces if is_marker]


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bob", "bob"),
        ("Zoë 🦊", "Zoë 🦊"),
        ("carol\nbob  12:34", "carol⟨U+000A⟩bob  12:34"),
        ("carol\u2028bob", "carol⟨U+2028⟩bob"),
        ("carol\u2029bob", "carol⟨U+2029⟩bob"),
        ("carol\r\nbob", "carol⟨U+000D⟩⟨U+000A⟩bob"),
        ("b\u200bob", "b⟨U+200B⟩ob"),
        ("bo\u200db", "bo⟨U+200D⟩b"),
        ("bob\u00ad", "bob⟨U+00AD⟩"),
        ("\u202eecila", "⟨U+202E⟩ecila"),
        ("a\u2066b\u2069", "a⟨U+2066⟩b⟨U+2069⟩"),
        ("a\u200e\u200f\u061c", "a⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩"),
        ("bob\u3164", "bob⟨U+3164⟩"),  # Hangul filler: blank in many fonts
        ("bob\u2800", "bob⟨U+2800⟩"),  # Braille blank
        ("b\u00a0ob", "b⟨U+00A0⟩ob"),
        ("bob\U000e0041", "bob⟨U+E0041⟩"),  # tag character
        ("b\ufe0fob", "b⟨U+FE0F⟩ob"),  # a variation selector on a letter changes nothing visible
        ("ann\u2764\ufe0f", "ann\u2764\ufe0f"),  # but makes ❤ an emoji
        (" bob", "⟨U+0020⟩bob"),
        ("bob ", "bob⟨U+0020⟩"),
        ("bob smith", "bob smith"),
        ("", "⟨no name⟩"),
    ],
)
def test_a_name_is_one_line_with_invisible_characters_shown(name, expected):
    assert display_name(name) == expected
    assert "\n" not in display_name(name)


def test_markers_in_a_name_are_pieces_of_their_own():
    assert name_pieces("b\u200bob") == (("b", False), (marker("\u200b"), True), ("ob", False))
    assert name_pieces("bob") == (("bob", False),)


def test_a_long_name_is_cut_with_an_ellipsis():
    assert display_name("m" * MAX_NAME_CHARS) == "m" * MAX_NAME_CHARS
    long = display_name("m" * 500)
    assert long == "m" * (MAX_NAME_CHARS - 1) + ELLIPSIS
    # Markers count with their full width, and are never cut in half.
    hidden = display_name("\u200b" * 50)
    assert len(hidden) <= MAX_NAME_CHARS and hidden.endswith(ELLIPSIS)
    assert hidden[:-1] == marker("\u200b") * (len(hidden) // len(marker("\u200b")))


def test_combining_marks_in_a_name_are_capped():
    assert display_name("z" + "\u0301" * 50) == "z" + "\u0301" * MAX_MARKS


# -- bodies --------------------------------------------------------------------------------


def test_an_ordinary_body_is_one_piece_unchanged():
    for text in ("hello", "two\nlines", "a\n\n\nb", "hi 👋 ça va? 中文", "  indented code"):
        assert body_pieces(text) == [(text, False)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("brb" + "\n" * 40 + "alice  12:34", "brb\n\n\nalice  12:34"),
        ("a\n\n\n\nb", "a\n\n\nb"),
        ("a" + "\n \t\u00a0\u3000\u200b\u2800\u3164" * 30 + "\nb", "a\n\n\nb"),
        ("\n\n\nhi\n\n\n", "hi"),
        ("   \n\u200b\nhi", "hi"),
        ("a\r\nb\rc\u2028d\u2029e\x85f\x0bg\x0ch", "a\nb\nc\nd\ne\nf\ng\nh"),
        ("a\u2028" * 10 + "b", "a\n" * 10 + "b"),
        ("a" + "\u2028" * 10 + "b", "a\n\n\nb"),
    ],
)
def test_blank_lines_are_collapsed_and_line_breaks_normalised(body, expected):
    assert shown(body_pieces(body)) == expected


def test_bidi_controls_in_a_body_show_as_markers_and_do_nothing():
    pieces = body_pieces("invoice_\u202egpj.exe\u202c and \u2067bob\u2069 \u200e\u200f\u061c")
    assert shown(pieces) == (
        "invoice_⟨U+202E⟩gpj.exe⟨U+202C⟩ and ⟨U+2067⟩bob⟨U+2069⟩ ⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩"
    )
    assert markers(pieces) == [marker(c) for c in "\u202e\u202c\u2067\u2069\u200e\u200f\u061c"], (
        "each marker is a piece of its own, to be styled apart"
    )
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert control not in shown(body_pieces(f"x{control}y"))


def test_other_controls_show_as_markers_but_tabs_and_joiners_stay():
    assert shown(body_pieces("a\x1b[31mb\x07\x7f")) == "a⟨U+001B⟩[31mb⟨U+0007⟩⟨U+007F⟩"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert body_pieces(f"a\tb {family} \u2764\ufe0f") == [(f"a\tb {family} \u2764\ufe0f", False)]


def test_a_flood_of_controls_is_counted_not_shown_one_by_one():
    pieces = body_pieces("\x1b" * 4000)
    assert len(markers(pieces)) == MAX_MARKERS + 1
    assert pieces[-1] == (f" ⟨{4000 - MAX_MARKERS:,} more control characters not shown⟩", True)


def test_long_runs_of_tabs_and_unusual_spaces_are_cut_but_plain_spaces_stay():
    assert shown(body_pieces("a" + "\t" * 3000 + "b")) == "a" + "\t" * MAX_BLANK_RUN + "b"
    cut = shown(body_pieces("a" + "\u00a0 " * 500 + "b"))
    assert len(cut) == MAX_BLANK_RUN + 2
    spaces = "a" + " " * 300 + "b"
    assert shown(body_pieces(spaces)) == spaces  # Tk lets plain spaces hang past the edge


def test_combining_marks_in_a_body_are_capped():
    assert shown(body_pieces("b" + "\u0336" * 500 + "ob")) == "b" + "\u0336" * MAX_MARKS + "ob"
    circles = "a" + "\u20dd" * 50  # enclosing marks, which have no combining class
    assert shown(body_pieces(circles)) == "a" + "\u20dd" * MAX_MARKS
    assert shown(body_pieces("Tiếng Việt")) == "Tiếng Việt"


def test_a_body_with_nothing_visible_says_so():
    for body in ("", "   ", "\n\n\n", "\u200b\u2800\n\u3000"):
        assert body_pieces(body) == [(EMPTY_BODY, True)]


def test_a_body_of_thousands_of_lines_is_cut_with_a_count():
    body = "x\n" * 9_999 + "x"
    pieces = body_pieces(body)
    shown = "".join(text for text, _marker in pieces)
    assert shown.count("\n") == MAX_LINES  # MAX_LINES lines, then the count on its own line
    assert pieces[-1] == ("\n⟨9,940 more lines not shown: Export… the room to read them⟩", True)
    # Blank runs count as the lines they are shown as; a body under the cap is untouched.
    assert body_pieces("a\n" * (MAX_LINES - 1) + "a") == [("a\n" * (MAX_LINES - 1) + "a", False)]
