"""Links and mentions in message bodies: where they are, and what a click may do with them.

Pure functions of the text, no Tk: the message list (``gui/messages.py``) calls
:func:`find_links` and :func:`find_mentions` on a body as it is shown (after
``gui/safetext.py``, so escaped characters already appear as ``⟨U+…⟩`` markers), tags what they
find, and asks :func:`opens_in_browser` on a click.

Every body is written by someone else, so detection is strict rather than generous:

- A link starts with a scheme: ``scheme://`` for any scheme, or one of the few schemes written
  without slashes that are worth warning about (``javascript:``, ``data:``, ``mailto:``…). It
  must start the text, follow white space, or follow an opening bracket or quote.
- It runs over printable ASCII characters that URLs allow (RFC 3986: letters, digits and
  ``-._~:/?#[]@!$&'()*+,;=%``) and ends at white space or another ASCII character. If it runs
  into any other character (a zero-width space, a bidi control shown as a marker, a Cyrillic
  letter that looks Latin, an accented letter), it is **not** a link at all: cutting it there
  would make a target that differs from what the reader sees, and taking it whole would let
  invisible or look-alike characters into the target.
- Trailing ``.,;:!?'`` and unmatched closing brackets belong to the sentence, not the link:
  ``(see https://example.org/a_(b).)`` links ``https://example.org/a_(b)``.
- Longer than :data:`MAX_LINK_CHARS`: not a link (no real address is that long, and it would
  fill the tooltip).

Only ``http`` and ``https`` links open in the browser, with exactly the text shown; a click on
any other scheme copies it instead (the chat window says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINK_CHARS = 2048
# Characters a URL may hold (RFC 3986 unreserved, reserved and "%"); anything else ends it.
_URL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%"
)
# Schemes without "//" that are recognised anyway, so a click on them is caught and explained
# rather than the text looking harmless.
_BARE_SCHEMES = frozenset(
    ("javascript", "vbscript", "data", "file", "mailto", "tel", "sms", "magnet", "about")
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}:")
# What may stand right before a link: nothing, white space, an opening bracket or a quote.
_BEFORE = frozenset("([{<\"'`")
_TRAILING = ".,;:!?'\"*"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_WEB_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Link:
    """A link found at ``text[start:end]``; ``url`` is exactly that text."""

    start: int
    end: int
    url: str

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0].lower()


def opens_in_browser(url: str) -> bool:
    """Whether a click opens ``url`` in the browser (http and https with a host), rather than
    copying it."""
    scheme, _, rest = url.partition(":")
    return scheme.lower() in _WEB_SCHEMES and rest.startswith("//") and len(rest) > 2


def find_links(text: str) -> list[Link]:
    """The links in ``text``, in order, never overlapping. Linear in the length of ``text``."""
    links: list[Link] = []
    position = 0
    length = len(text)
    while True:
        colon = text.find(":", position)
        if colon < 0:
            return links
        start = _scheme_start(text, colon, position)
        if start is None:
            position = colon + 1
            continue
        end = colon + 1
        while end < length and text[end] in _URL_CHARS:
            end += 1
        if end < length and not text[end].isspace() and not text[end].isascii():
            # Runs into an invisible, look-alike or escaped character: never a link. Skip the
            # rest of this word so no part of it becomes one either.
            while end < length and not text[end].isspace():
                end += 1
            position = end
            continue
        link = _trim(text, start, end, colon)
        if link is not None:
            links.append(link)
        position = max(end, colon + 1)


def _scheme_start(text: str, colon: int, floor: int) -> int | None:
    """Where the scheme ending at ``text[colon]`` starts, if it is a link's scheme."""
    start = colon
    while start > floor and (
        (text[start - 1].isascii() and text[start - 1].isalnum()) or text[start - 1] in "+.-"
    ):
        start -= 1
    while start < colon and not text[start].isalpha():
        start += 1  # "2+https:" → "https:"
    if start == colon or not _SCHEME.fullmatch(text, start, colon + 1):
        return None
    if start > 0 and not (text[start - 1].isspace() or text[start - 1] in _BEFORE):
        return None
    scheme = text[start:colon].lower()
    slashes = text.startswith("//", colon + 1)
    if not slashes and scheme not in _BARE_SCHEMES:
        return None
    return start


def _trim(text: str, start: int, end: int, colon: int) -> Link | None:
    """Drop trailing punctuation and unmatched closing brackets from ``text[start:end]``."""
    if end - start > MAX_LINK_CHARS + 64:
        return None  # absurdly long: no need to look closer
    candidate = text[start:end]
    # Bracket balance, counted once and kept up to date while trimming (linear).
    balance = {
        close: candidate.count(close) - candidate.count(open_) for close, open_ in _PAIRS.items()
    }
    while end > colon + 1:
        last = text[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _PAIRS and balance[last] > 0:
            balance[last] -= 1
            end -= 1
        else:
            break
    url = text[start:end]
    rest = url[len(url.split(":", 1)[0]) + 1 :]
    if not rest.strip("/") or len(url) > MAX_LINK_CHARS:
        return None  # "https://" alone, or absurdly long
    return Link(start, end, url)


def find_mentions(text: str, name: str) -> list[tuple[int, int]]:
    """Where ``text`` mentions ``name`` as ``@name``: whole word, any case, that name only.

    ``@alice`` mentions alice; ``@alicebob``, ``x@alice`` (an e-mail address) and ``@bob`` do
    not. Returns ``(start, end)`` spans, the ``@`` included.
    """
    if not name:
        return []
    pattern = re.compile(r"(?<![\w@])@" + re.escape(name) + r"(?![\w])", re.IGNORECASE)
    return [match.span() for match in pattern.finditer(text)]


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` mentions ``name`` (see :func:`find_mentions`)."""
    return bool(find_mentions(text, name))
