"""Room password rules and a strength estimate for typed passwords.

Call :func:`normalize_password` on every password before it reaches a KDF: two people who type
the same password on different keyboards (NFC vs NFD, full-width forms) must get the same key,
and the KDF must get UTF-8 bytes (pycryptodome encodes a ``str`` as Latin-1).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.errors import PasswordError

# Control (Cc), format (Cf, e.g. zero-width and bidi overrides) and unassigned (Cn) characters
# are invisible or unstable across Unicode versions: a password containing them could not be
# typed again reliably on another machine. Lone surrogates (Cs) cannot even be encoded.
_FORBIDDEN_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cn": "an unassigned character",
    "Cs": "a broken character (a lone surrogate)",
}


def normalize_password(password: str) -> bytes:
    """Return the canonical UTF-8 bytes of ``password`` (NFKC), or raise :class:`PasswordError`."""
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    normalized = unicodedata.normalize("NFKC", password)
    if not normalized:
        raise PasswordError("The room password is empty.")
    for position, char in enumerate(normalized, start=1):
        what = _FORBIDDEN_CATEGORIES.get(unicodedata.category(char))
        if what is not None:
            raise PasswordError(
                f"The room password contains {what} (character {position}); "
                "please use only visible characters."
            )
    return normalized.encode("utf-8")


@dataclass(frozen=True)
class Strength:
    """How hard a password is to guess: ``score`` 0 (very weak) to 4 (strong)."""

    score: int
    bits: float
    label: str
    hint: str


_ZXCVBN_MAX = 72
_LABELS = ("very weak", "weak", "fair", "good", "strong")


def estimate_strength(password: str, *, user_inputs: Sequence[str] = ()) -> Strength:
    """Estimate how hard ``password`` is to guess, for the hint shown while typing.

    Uses zxcvbn (dictionary, pattern and keyboard-walk aware). ``user_inputs`` are words the
    attacker would try first, such as the username or host name.
    """
    import math

    from zxcvbn import zxcvbn  # imported lazily: loading its dictionaries takes ~0.2 s

    if not password:
        return Strength(score=0, bits=0.0, label=_LABELS[0], hint="Type a password.")
    # zxcvbn refuses more than 72 characters (its cost grows fast with length); the prefix
    # already decides the score, and more characters only add guesses.
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=list(user_inputs))
    score = int(result["score"])
    bits = float(result["guesses_log10"]) * math.log2(10)
    feedback = result.get("feedback") or {}
    hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or ())
    if not hint:
        hint = "Good." if score >= 3 else "Add more words or characters."
    return Strength(score=score, bits=bits, label=_LABELS[score], hint=hint)
