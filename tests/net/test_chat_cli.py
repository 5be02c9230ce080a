"""The terminal client's text handling (the process-level tests live in tests/e2e)."""

import io
import threading

import pytest

from net.client import events as ce
from net.client.cli import TerminalChat, _Printer, clean


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


class _FakeClient:
    """Stands in for ChatClient: ``start`` reports ``events`` from another thread."""

    def __init__(self, *, on_event, events, **_):
        self._on_event = on_event
        self._events = events
        self.members = ()

    def start(self):
        threading.Thread(
            target=lambda: [self._on_event(e) for e in self._events], daemon=True
        ).start()

    def send(self, text):
        return b"\0" * 16

    def pending(self):
        return ()

    def close(self):
        pass


def _chat(events):
    out = io.StringIO()
    chat = TerminalChat(
        host="127.0.0.1",
        port=7777,
        username="alice",
        password="pw",
        printer=_Printer(out),
        client_factory=lambda **kw: _FakeClient(events=events, **kw),
    )
    return chat, out


def test_relay_supplied_text_is_escaped_too(capsys):
    chat, out = _chat(
        [
            ce.Disconnected(reason="lost \x1b]0;PWNED\x07", retry_in=1.0),
            ce.Failed(kind=ce.ErrorKind.NETWORK, message="refused \x1b[2J fake"),
        ]
    )
    assert chat.run(io.StringIO("")) == 1
    assert "\x1b" not in out.getvalue() and "\\x1b]0;PWNED" in out.getvalue()
    err = capsys.readouterr().err
    assert "\x1b" not in err and "refused \\x1b[2J fake" in err


def test_input_ending_before_the_room_is_reached_is_still_a_failure():
    chat, out = _chat(
        [ce.Connecting(attempt=1), ce.Failed(kind=ce.ErrorKind.REFUSED, message="refused")]
    )
    assert chat.run(io.StringIO("")) == 1
    assert "left the room" not in out.getvalue()


@pytest.mark.parametrize("timestamp_ms", [0, 2**63, 2**64 - 1])
def test_any_claimed_timestamp_prints(timestamp_ms):
    chat, out = _chat([])
    chat._on_event(
        ce.MessageReceived(
            sender="bob",
            text="hi",
            message_id=b"\1" * 16,
            timestamp_ms=timestamp_ms,
            from_history=False,
            own=False,
        )
    )
    assert out.getvalue().endswith("bob: hi\n")
