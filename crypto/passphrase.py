"""Generated room passphrases: words drawn uniformly from the EFF large word list.

When hosting, offer :func:`generate_passphrase` instead of a typed password: the relay keeps a
verifier that a malicious relay could attack offline at scrypt cost, and 80+ bits of entropy
make that hopeless.
"""

from __future__ import annotations

import functools
import math
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

MIN_BITS = 80
_MIN_WORDS_IN_LIST = 1024


def _assets_dir() -> Path:
    # Frozen (PyInstaller) builds unpack data next to the code under sys._MEIPASS.
    base = getattr(sys, "_MEIPASS", None)
    if base is not None:
        return Path(base) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


WORDLIST_PATH = _assets_dir() / "wordlist.txt"


def passphrase_bits(words: int, wordlist_size: int) -> float:
    """Entropy in bits of ``words`` words drawn uniformly from ``wordlist_size`` words."""
    if words < 0 or wordlist_size < 1:
        raise ValueError("words must be >= 0 and the word list non-empty")
    return words * math.log2(wordlist_size)


def load_wordlist(path: Path | None = None) -> tuple[str, ...]:
    """Read a word list (one word a line). The default list is read once and cached."""
    if path is None:
        return _default_wordlist()
    return _read_wordlist(Path(path))


@functools.lru_cache(maxsize=1)
def _default_wordlist() -> tuple[str, ...]:
    return _read_wordlist(WORDLIST_PATH)


def _read_wordlist(path: Path) -> tuple[str, ...]:
    words = tuple(
        dict.fromkeys(
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        )
    )
    if len(words) < _MIN_WORDS_IN_LIST:
        raise ValueError(f"word list {path} has {len(words)} words; need {_MIN_WORDS_IN_LIST}+")
    return words


def generate_passphrase(
    *,
    words: int = 7,
    wordlist: Sequence[str] | None = None,
    choice: Callable[[Sequence[str]], str] = secrets.choice,
) -> str:
    """Return ``words`` random words joined by ``-`` (7 EFF words carry 90.5 bits).

    Raises ValueError if the result would carry fewer than :data:`MIN_BITS` bits.
    """
    pool = load_wordlist() if wordlist is None else tuple(dict.fromkeys(wordlist))
    if not pool or passphrase_bits(words, len(pool)) < MIN_BITS:
        raise ValueError(f"a passphrase needs at least {MIN_BITS} bits of entropy")
    return "-".join(choice(pool) for _ in range(words))
