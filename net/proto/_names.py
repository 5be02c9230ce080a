"""Username rules, shared by the relay (which enforces them) and clients (which pre-check).

A name is what other members see next to every message, so it must be visible and stable:
NFC-normalised, 1–32 characters, no control, format, private-use, unassigned or separator
characters except the ordinary space, and no space at either end. Uniqueness in a room
ignores case: compare :func:`username_key` values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

MAX_USERNAME_CHARS = 32

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


def validate_username(name: str) -> str:
    """Return the NFC form of ``name`` or raise ``ValueError`` saying what is wrong with it.

    Call before connecting (client) and on every JOIN (relay), then use the returned value.
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
    for position, char in enumerate(normalized, start=1):
        if char == " ":
            continue
        what = _CATEGORY_WORDS.get(unicodedata.category(char))
        if what is not None:
            raise ValueError(
                f"The name contains {what} (character {position}); "
                "please use only visible characters."
            )
    return normalized


def username_key(name: str) -> str:
    """The key under which a room keeps names unique: NFC, then case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def confusable_with(name: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` that ``name`` could be mistaken for, or None.

    Placeholder until the UTS #39 skeleton lands: equal ignoring case.
    """
    key = username_key(name)
    for other in others:
        if username_key(other) == key:
            return other
    return None
