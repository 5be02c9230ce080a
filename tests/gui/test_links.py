"""Links and mentions found in message bodies (gui/links.py): plain functions, no display."""

from __future__ import annotations

import time

import pytest

from gui.links import MAX_LINK_CHARS, find_links, find_mentions, mentions, opens_in_browser
from gui.safetext import body_pieces


def urls(text: str) -> list[str]:
    return [link.url for link in find_links(text)]


def shown(text: str) -> str:
    """The body as the message list shows it (markers in place of escaped characters)."""
    return "".join(piece for piece, _ in body_pieces(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://example.org", ["https://example.org"]),
        ("https://example.org/a?b=1&c=2#top", ["https://example.org/a?b=1&c=2#top"]),
        (
            "two: http://a.example and https://b.example/x.",
            ["http://a.example", "https://b.example/x"],
        ),
        ("end of sentence https://example.org.", ["https://example.org"]),
        ("really? https://example.org/?!", ["https://example.org/"]),
        ("quoted 'https://example.org/x'", ["https://example.org/x"]),
        ('"https://example.org/q"', ["https://example.org/q"]),
        ("(see https://example.org/page)", ["https://example.org/page"]),
        (
            "(see https://en.wikipedia.org/wiki/Foo_(bar))",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
        ),
        ("https://en.wikipedia.org/wiki/Foo_(bar).", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("[https://example.org/a]", ["https://example.org/a"]),
        ("<https://example.org/angle>", ["https://example.org/angle"]),
        ("HTTPS://EXAMPLE.ORG", ["HTTPS://EXAMPLE.ORG"]),
        ("ftp://files.example/x", ["ftp://files.example/x"]),
        ("javascript:alert(1)", ["javascript:alert(1)"]),
        ("data:text/html,<script>", ["data:text/html"]),
        ("file:///etc/passwd", ["file:///etc/passwd"]),
        ("steam://run/440", ["steam://run/440"]),
        ("http://[::1]:8080/x", ["http://[::1]:8080/x"]),
    ],
)
def test_links_are_found_with_sentence_punctuation_left_out(text, expected):
    assert urls(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no links here",
        "time 12:34 and ratio 3:4",
        "note:this is not a link",
        "https://",
        "https:// example.org",
        "caf\u00e9https://example.org",  # glued to a word
        "e-mail bob@example.org",
        "www.example.org",  # no scheme: not guessed (a click opens exactly what is shown)
    ],
)
def test_not_links(text):
    assert urls(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "https://exa\u200bmple.org",  # zero-width space
        "https://example.org/\u202egpj.exe",  # right-to-left override
        "https://ex\u2066ample.org\u2069",  # isolates
        "https://\u0430pple.com",  # Cyrillic а that looks Latin
        "https://example.org/caf\u00e9",  # any non-ASCII character
        "https://exa\u00admple.org",  # soft hyphen
        "\u202ehttps://example.org",  # bidi control right before it
    ],
)
def test_urls_with_invisible_bidi_or_look_alike_characters_are_never_links(text):
    assert urls(text) == []
    # As the list shows them too: the markers stop detection the same way.
    assert urls(shown(text)) == []


def test_no_part_of_a_poisoned_url_becomes_a_link():
    # Cutting at the zero-width space would link "https://exa", a target nobody sees.
    assert urls("https://exa\u200bmple.org/https://evil.example") == []
    assert urls("https://exa\u200bmple.org and https://fine.example") == ["https://fine.example"]


def test_very_long_urls_are_not_links_and_detection_stays_linear():
    long = "https://example.org/" + "a" * MAX_LINK_CHARS
    assert urls(long) == []
    assert urls("https://example.org/" + "a" * 100) == ["https://example.org/" + "a" * 100]
    started = time.perf_counter()
    for text in (
        "https:" * 20_000,
        "a:" * 50_000,
        "(" * 50_000 + "https://x.example" + ")" * 50_000,
        "https://x.example/" + ")" * 100_000,
        "a" * 100_000 + ":",
    ):
        find_links(text)
    assert time.perf_counter() - started < 2.0


def test_only_http_and_https_open_in_the_browser():
    assert opens_in_browser("https://example.org")
    assert opens_in_browser("HTTP://example.org/x")
    for url in (
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "ftp://example.org",
        "steam://run/440",
        "http:example.org",
        "https://",
    ):
        assert not opens_in_browser(url), url


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("hi @alice", [(3, 9)]),
        ("@Alice, look", [(0, 6)]),
        ("@ALICE!", [(0, 6)]),
        ("@alicebob", []),
        ("bob@alice.example", []),
        ("@@alice", []),
        ("@bob", []),
        ("alice", []),
        ("@alice @alice", [(0, 6), (7, 13)]),
    ],
)
def test_mentions_are_whole_word_case_insensitive_and_own_name_only(text, spans):
    assert find_mentions(text, "alice") == spans


def test_mentions_of_names_with_spaces_and_symbols():
    assert mentions("thanks @Mary Ann!", "mary ann")
    assert not mentions("thanks @Mary Annabel", "mary ann")
    assert mentions("ping @c++ now", "c++")
    assert not mentions("ping @c now", "c++")
    assert not mentions("anything", "")
