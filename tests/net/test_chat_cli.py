"""The terminal client's text handling (the process-level tests live in tests/e2e)."""

import pytest

from net.chat_cli import clean


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("hello", "hello"),
        ("two\nlines", "two\\nlines"),
        ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
        ("tab\there", "tab    here"),
        ("c1\x9bcontrol", "c1\\x9bcontrol"),
        ("line\u2028sep", "line\\u2028sep"),
        ("emoji 😀 and ünïcode", "emoji 😀 and ünïcode"),
    ],
)
def test_clean_escapes_terminal_controls(raw, shown):
    assert clean(raw) == shown
    assert "\x1b" not in clean(raw) and "\n" not in clean(raw)
