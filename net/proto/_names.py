"""Username rules, shared by the relay (which enforces them) and clients (which pre-check).

A name is what other members see next to every message, so it must be visible, stable and
unmistakable (docs/PROTOCOL.md, section 6):

* :func:`validate_username` refuses what cannot be seen or is drawn misleadingly: it returns
  the NFC form of a name of 1–32 characters with no control, format, private-use, unassigned,
  separator, default-ignorable or text-direction character, no character that shows as blank,
  no space at either end or twice in a row, no combining mark without a letter to sit on or
  more than two on one letter, and letters from one writing system (UTS #39 "moderately
  restrictive": one script, or Latin with one other script that is not Cyrillic, Greek or
  Cherokee; Han, Hiragana, Katakana, Hangul and Bopomofo combine as Japanese, Korean and
  Chinese write them).
* :func:`username_key` is what a room keeps unique: the case-folded NFC form.
* :func:`name_skeleton` is how a name looks, ignoring case (a UTS #39 skeleton, case-folded),
  and :func:`confusable_with` finds the existing name a new one would be mistaken for: for
  the relay to refuse such a JOIN after :func:`validate_username`, and for a client to flag
  such a member (neither is wired in yet).

The look-alike data comes from maintained packages (see :mod:`net.proto._names_data`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from net.proto._names_data import (
    is_bidi_control,
    is_default_ignorable,
    scripts_of,
    skeleton,
)

MAX_USERNAME_CHARS = 32
MAX_MARKS_PER_LETTER = 2
# name_skeleton's folding rounds: every string of the data settles after at most two changes
# (measured; tests/net/test_names.py checks that each result is a fixed point).
_MAX_ROUNDS = 8

# Plain-words names for the rejected Unicode categories (C* and Z*), for error messages.
_CATEGORY_WORDS = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
    "Zs": "an unusual space",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}

# Characters that are drawn as empty space yet are neither separators, format characters nor
# default-ignorable, so no property catches them. (The Hangul fillers U+115F, U+1160, U+3164
# and U+FFA0 look empty too, but they are default-ignorable and refused as such.)
BLANK_CHARACTERS = frozenset(
    {
        "\u2800",  # BRAILLE PATTERN BLANK: a braille cell with no dots
        "\ufffc",  # OBJECT REPLACEMENT CHARACTER: a placeholder, drawn empty or as a box
        "\U00016fe4",  # KHITAN SMALL SCRIPT FILLER: a mark with no ink
        "\U0001d159",  # MUSICAL SYMBOL NULL NOTEHEAD: an invisible notehead
    }
)

# UTS #39 "moderately restrictive": Latin goes with any one other script except these, whose
# letters copy Latin ones (Cyrillic а, Greek ο, Cherokee Ꭺ).
_LATIN = "Latn"
_NOT_WITH_LATIN = frozenset({"Cyrl", "Grek", "Cher"})

_MARK_CATEGORIES = ("Mn", "Me")  # non-spacing and enclosing marks: drawn on the letter before


def _describe(char: str) -> str:
    """A character by code point and name, so that a message never carries it raw."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def _invisible_problem(char: str) -> str | None:
    """What is wrong with one character of a name, in plain words, or None."""
    if is_bidi_control(char):
        return "an invisible text-direction control"
    category = _CATEGORY_WORDS.get(unicodedata.category(char))
    if category is not None:
        return category
    if is_default_ignorable(char):
        return "an invisible character"
    if char in BLANK_CHARACTERS:
        return "a character that shows as blank"
    return None


def _check_characters(name: str) -> None:
    for position, char in enumerate(name, start=1):
        if char == " ":
            if name[position - 2] == " ":  # never the first: no name starts with a space
                raise ValueError(
                    f"The name has two spaces in a row (characters {position - 1} and "
                    f"{position}); please use single spaces."
                )
            continue
        what = _invisible_problem(char)
        if what is not None:
            raise ValueError(
                f"The name contains {what} ({_describe(char)}, character {position}); "
                "please use only visible characters."
            )


def _check_marks(name: str) -> None:
    # Counted in NFD, so that "ễ" is a letter with two marks however it was typed.
    marks = 0
    after_letter = False
    for position, char in enumerate(name, start=1):
        for part in unicodedata.normalize("NFD", char):
            if unicodedata.category(part) not in _MARK_CATEGORIES:
                marks, after_letter = 0, part != " "
                continue
            if not after_letter:
                raise ValueError(
                    f"The name has an accent or mark with no letter under it ({_describe(part)}, "
                    f"character {position}); please put marks only on letters."
                )
            marks += 1
            if marks > MAX_MARKS_PER_LETTER:
                raise ValueError(
                    f"The name has more than {MAX_MARKS_PER_LETTER} accents or marks stacked on "
                    f"one letter (character {position}); please use at most "
                    f"{MAX_MARKS_PER_LETTER}."
                )


def _scripts_go_together(script_sets: list[frozenset[str]]) -> bool:
    """UTS #39 moderately restrictive, over each letter's augmented Script_Extensions."""
    if not script_sets or frozenset.intersection(*script_sets):
        return True  # one script (Japanese, Korean and Chinese count as one each)
    not_latin = [scripts for scripts in script_sets if _LATIN not in scripts]
    return bool(frozenset.intersection(*not_latin) - _NOT_WITH_LATIN)


def _check_scripts(name: str) -> None:
    script_sets: list[frozenset[str]] = []
    for position, char in enumerate(name, start=1):
        scripts = scripts_of(char)
        if not scripts:
            continue  # Common or Inherited: digits, punctuation, emoji, shared marks
        script_sets.append(scripts)
        if not _scripts_go_together(script_sets):
            raise ValueError(
                f"The name mixes writing systems: character {position} ({_describe(char)}) "
                "is from a different alphabet than the letters before it; please write the "
                "name in one alphabet."
            )


def validate_username(name: str) -> str:
    """Return the NFC form of ``name`` or raise ``ValueError`` saying what is wrong with it.

    Call before connecting (client) and on every JOIN (relay), then use the returned value;
    compare it with the room's names with :func:`confusable_with`.
    """
    if not isinstance(name, str):
        raise TypeError("username must be a str")
    normalized = unicodedata.normalize("NFC", name)
    if not normalized:
        raise ValueError("Please enter a name.")
    if len(normalized) > MAX_USERNAME_CHARS:
        raise ValueError(f"A name can be at most {MAX_USERNAME_CHARS} characters long.")
    if normalized[0] == " " or normalized[-1] == " ":
        raise ValueError("A name cannot start or end with a space.")
    _check_characters(normalized)
    _check_marks(normalized)
    _check_scripts(normalized)
    return normalized


def username_key(name: str) -> str:
    """The key under which a room keeps names unique: NFC, then case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


@lru_cache(maxsize=1024)
def name_skeleton(name: str) -> str:
    """How ``name`` looks, ignoring case: equal skeletons mean names that can be mistaken.

    The UTS #39 skeleton (:func:`net.proto._names_data.skeleton`), then folded for the
    comparison: case-folded, put in NFKD and skeletonised again, until it stops changing, so
    name_skeleton(name_skeleton(x)) == name_skeleton(x). Every fold comes after the skeleton,
    so names with one skeleton always keep one: capital I still looks like l and 0 like O.
    Case folding makes "ВОВ" (Cyrillic capitals) look like "bob", as the room treats "BOB" and
    "bob" as one name; NFKD adds what confusables.txt leaves out because the compatibility
    decomposition already tells it (of the full-width letters only U+FF4F ｏ is in it).
    """
    current = skeleton(name)
    for _ in range(_MAX_ROUNDS):
        folded = skeleton(unicodedata.normalize("NFKD", current.casefold()))
        if folded == current:
            break
        current = folded
    return current


def confusable_with(name: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` that ``name`` could be mistaken for, or None.

    Two names clash when they have the same :func:`username_key` or look alike
    (:func:`name_skeleton`). A relay should refuse a JOIN whose name clashes with a member's.
    """
    key = username_key(name)
    looks = name_skeleton(name)
    for other in others:
        if username_key(other) == key or name_skeleton(other) == looks:
            return other
    return None
