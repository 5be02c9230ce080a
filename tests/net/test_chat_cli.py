"""The terminal client's text handling (the process-level tests live in tests/e2e).

Every text from another member is hostile: these tests try to reorder it (bidi controls), hide
it (zero-width and other invisible characters) and make it pass for another member's message
(padding that wraps to column 0), and check that normal text in any script is left alone.
"""

import io
import os
import re
import sys
import threading
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import main
from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from net.client import ChatClient, Invite, Trust, TrustStore, cli, format_invite, termtext, texts
from net.client import events as ce
from net.client.cli import TerminalChat, _Printer, clean
from net.client.termtext import CONTINUATION
from net.client.trust import relay_address
from net.passwords import read_password
from net.proto import DEFAULT_ROOM, ActionKind, Role
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client_support import CHEAP, ClientFactory, is_
from tests.net.helpers import PASSWORD
from tests.net.proxy import RecordingProxy
from tests.net.relay.support import ManualClock, wait_until

#: This device's identity in tests that fake the client (it is never used there).
IDENTITY = Identity.generate()


def _members(*names):
    return tuple(
        ce.Member(
            name=name, signing_key=bytes([n]) * 32, dh_key=bytes([n + 100]) * 32, trust=Trust.KNOWN
        )
        for n, name in enumerate(names, start=1)
    )


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
        ("para\u2029sep", "para\\u2029sep"),
        ("pad\u2800ded", "pad\\u2800ded"),
        ("tag\U000e0041", "tag\\U000e0041"),
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
        self.sent = []
        self.acted = []

    def start(self):
        self._thread = threading.Thread(
            target=lambda: [self._on_event(e) for e in self._events], daemon=True
        )
        self._thread.start()

    def send(self, text):
        self.sent.append(text)
        return b"\0" * 16

    def _record(self, what):
        def act(name):
            if name == "nobody":
                raise ValueError("'nobody' is not in the room now.")
            self.acted.append((what, name))

        return act

    def __getattr__(self, name):
        if name in ("make_admin", "unmake_admin", "remove_member", "release_name"):
            return self._record(name)
        raise AttributeError(name)

    def pending(self):
        return ()

    def wait_sent(self, timeout):
        return True

    def is_alive(self):
        return False

    def close(self):
        # As ChatClient.close: every event (a NotSent among them) is reported before it returns.
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(5)


def _chat(events):
    out = io.StringIO()
    chat = TerminalChat(
        host="127.0.0.1",
        port=7777,
        username="alice",
        password="pw",
        printer=_Printer(out),
        identity=IDENTITY,
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


# -- room commands ---------------------------------------------------------------------------


def test_slash_commands_act_and_double_slash_sends_a_slash():
    chat, out = _chat(
        [
            ce.Joined(
                your_name="alice",
                members=(),
                reconnected=False,
                max_message_bytes=4000,
                room_id=bytes(16),
            )
        ]
    )
    lines = "/op bob\n/deop bob\n/kick carol\n/release dave\n//shrug\n/kick nobody\n/dance\n"
    assert chat.run(io.StringIO(lines)) == 0
    client = chat.client
    assert client.acted == [
        ("make_admin", "bob"),
        ("unmake_admin", "bob"),
        ("remove_member", "carol"),
        ("release_name", "dave"),
    ]
    assert client.sent == ["/shrug"]
    text = out.getvalue()
    assert "! 'nobody' is not in the room now." in text
    assert "! commands: /op NAME" in text  # an unknown command is not sent as a message


def test_role_changes_read_as_sentences_with_hostile_names_escaped():
    bob = ce.Member(
        name="bob", signing_key=b"\1" * 32, dh_key=b"\2" * 32, trust=Trust.KNOWN, role=Role.ADMIN
    )
    owner = ce.Member(
        name="alice", signing_key=b"\3" * 32, dh_key=b"\4" * 32, trust=Trust.KNOWN, role=Role.OWNER
    )
    change = ce.RoleChange(kind=None, actor="", target="", detail="", members=(owner, bob))
    assert _said(change) == "* roles: alice (owner), bob (admin)\n"
    removal = ce.RoleChange(
        kind=ActionKind.REMOVE, actor="alice", target="car\x1bol", detail="", members=(owner,)
    )
    assert _said(removal) == "* alice removed car\\x1bol from the room\n"
    assert _said(ce.ActionNotTaken(reason="That did not happen: late.")) == (
        "! That did not happen: late.\n"
    )


# -- identities and relay keys -------------------------------------------------------------


def _said(event):
    chat, out = _chat([])
    chat._on_event(event)
    return out.getvalue()


def test_a_changed_key_is_announced_and_its_messages_are_marked():
    line = _said(
        ce.IdentityChanged(name="bob", old_key=b"\1" * 32, new_key=b"\2" * 32, was_verified=False)
    )
    assert line == (
        "! bob's safety code changed: this may be someone else. "
        "Their messages are marked [key changed!].\n"
    )
    verified = _said(
        ce.IdentityChanged(name="bob", old_key=b"\1" * 32, new_key=b"\2" * 32, was_verified=True)
    )
    assert "You had verified the old one." in verified
    marked = _said(_message(sender="bob", text="it's me", trust=Trust.CHANGED))
    assert marked == "12:34 [key changed!] bob: it's me\n"
    for trust in (Trust.NEW, Trust.KNOWN, Trust.VERIFIED):
        assert _said(_message(sender="bob", text="hi", trust=trust)) == "12:34 bob: hi\n"


def test_a_hostile_name_in_the_warning_is_escaped():
    line = _said(
        ce.IdentityChanged(
            name="bob\x1b[2K\rcarol", old_key=b"\1" * 32, new_key=b"\2" * 32, was_verified=False
        )
    )
    assert "\x1b" not in line and "\r" not in line
    assert line.startswith("! bob\\x1b[2K\\x0dcarol's safety code changed")


def test_a_relay_that_changed_ends_the_command_with_the_error_and_the_way_out(capsys):
    chat, out = _chat(
        [
            ce.Connecting(attempt=1),
            ce.Failed(kind=ce.ErrorKind.RELAY_CHANGED, message=texts.relay_changed("h:7777")),
        ]
    )
    assert chat.run(io.StringIO("")) == 1
    err = capsys.readouterr().err
    assert "error: This is not the room's relay you joined before" in err
    assert "run the same command with --forget-relay-key" in err
    assert "left the room" not in out.getvalue()


# -- against a real relay ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def room_keys():
    return derive_room_keys(PASSWORD, room_id=bytes(range(64, 80)), n=CHEAP)


@pytest.fixture
def relays(room_keys):
    """Starts relays for the room (same secret, hence the same relay key) on free ports."""
    secret = RoomSecret.from_room_keys(room_keys)
    started = []

    def start():
        relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, close_timeout=1.0))
        relay.port = relay.start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


@pytest.fixture
def members():
    factory = ClientFactory()
    yield factory
    factory.close()


class _Terminal:
    """A TerminalChat with the real ChatClient (cheap scrypt, a manual clock) running on its
    own thread, its standard input a pipe and its output collected line by line."""

    def __init__(self, port, *, trust=None):
        self.clock = ManualClock()
        self.out = io.StringIO()
        self.chat = TerminalChat(
            host="127.0.0.1",
            port=port,
            username="alice",
            password=PASSWORD,
            printer=_Printer(self.out, is_terminal=False),
            identity=Identity.generate(),
            trust=trust,
            client_factory=lambda **kw: ChatClient(kdf_cost=CHEAP, clock=self.clock, **kw),
        )
        read, write = os.pipe()
        self._stdin = open(read, encoding="utf-8")  # noqa: SIM115 - closed by stop()
        self._typed = open(write, "w", encoding="utf-8")  # noqa: SIM115
        self.status = []
        self._thread = threading.Thread(
            target=lambda: self.status.append(self.chat.run(self._stdin)), daemon=True
        )
        self._thread.start()

    def lines(self):
        return self.out.getvalue().splitlines()

    def wait_line(self, pattern):
        regex = re.compile(pattern)
        wait_until(lambda: any(regex.search(line) for line in self.lines()), what=pattern)
        return next(line for line in self.lines() if regex.search(line))

    def end(self):
        self._typed.close()
        self._thread.join(timeout=30)
        self._stdin.close()
        return self.status


def test_a_relay_with_another_key_than_pinned_is_refused_before_the_password(relays, capsys):
    relay = relays()
    trust = TrustStore()
    impostor_key = Identity.generate().signing_public  # the key pinned at the first join
    trust.pin_relay(relay_address("127.0.0.1", relay.port, DEFAULT_ROOM), impostor_key)
    terminal = _Terminal(relay.port, trust=trust)
    assert terminal.end() == [1]
    err = capsys.readouterr().err
    assert f"error: This is not the room's relay you joined before: 127.0.0.1:{relay.port}" in err
    assert "--forget-relay-key" in err
    assert not any("joined the room" in line for line in terminal.lines())
    assert not any("deriving" in line for line in terminal.lines())  # before the password


def test_a_member_back_with_another_key_is_announced_and_marked_until_accepted(
    relays, members, room_keys
):
    first = relays()
    proxy = RecordingProxy(("127.0.0.1", first.port))
    try:
        alice = _Terminal(proxy.port)
        alice.wait_line(r"^\* joined the room")
        bob, bob_events = members(first.port, "bob", keys=room_keys)
        bob_events.wait_for(is_(ce.Joined))
        bob.send("hello from the real bob")
        alice.wait_line(r"^\d\d:\d\d bob: hello from the real bob$")
        bob.close()
        alice.wait_line(r"^\* bob left the room")

        # The relay restarts without its names file, so "bob" is free for any key there.
        second = relays()
        proxy.target = ("127.0.0.1", second.port)
        proxy.cut()
        first.stop()
        alice.wait_line(r"^\* disconnected: ")
        alice.clock.advance(1.0)  # past the first backoff (at most 0.5 s)
        alice.chat.client.wake()
        alice.wait_line(r"^\* reconnected to the room")
        assert not any(line.startswith("!") for line in alice.lines())  # same relay key

        other, other_events = members(second.port, "bob", keys=room_keys)
        other_events.wait_for(is_(ce.Joined))
        alice.wait_line(
            r"^! bob's safety code changed: this may be someone else\. "
            r"Their messages are marked \[key changed!\]\.$"
        )
        other.send("it's me, new laptop")
        alice.wait_line(r"^\d\d:\d\d \[key changed!\] bob: it's me, new laptop$")
        alice.chat.client.accept_key("bob", other.identity.signing_public)
        other.send("after you accepted")
        alice.wait_line(r"^\d\d:\d\d bob: after you accepted$")
        assert alice.end() == [0]
    finally:
        proxy.close()


def test_forget_relay_key_drops_every_pin_for_that_address_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOCKETCHAT_DATA_DIR", str(tmp_path))
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD, encoding="utf-8")
    pins = TrustStore(tmp_path / "trust.json")
    old_key, kept_key = b"\1" * 32, b"\2" * 32
    for room in (DEFAULT_ROOM, bytes(range(16))):
        pins.pin_relay(relay_address("Example.org", 7777, room), old_key)
    pins.pin_relay(relay_address("example.org", 7778, DEFAULT_ROOM), kept_key)
    seen = []

    class Recording(TerminalChat):  # the command up to the connection, not the connection
        def run(self, lines):
            seen.append(self.client.expected_relay_key())
            return 0

    monkeypatch.setattr(cli, "TerminalChat", Recording)
    arguments = main.build_parser().parse_args(
        ["chat", "example.org", "7777", "alice", "--password-file", str(password_file)]
    )
    assert not arguments.forget_relay_key
    assert cli.run(arguments) == 0
    assert seen == [old_key]  # without the flag the pin stands

    arguments.forget_relay_key = True
    assert cli.run(arguments) == 0
    assert seen[-1] is None  # the client connects with nothing pinned: trust on first use
    assert "* forgot the relay key remembered for example.org:7777" in capsys.readouterr().out
    after = TrustStore(tmp_path / "trust.json")
    for room in (DEFAULT_ROOM, bytes(range(16))):
        assert after.relay_key(relay_address("example.org", 7777, room)) is None
    assert after.relay_key(relay_address("example.org", 7778, DEFAULT_ROOM)) == kept_key
    assert cli.run(arguments) == 0
    assert "* no relay key was remembered for example.org:7777" in capsys.readouterr().out


# -- invisible characters: every one escaped -------------------------------------------------

_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
_ZERO_WIDTH = [*range(0x200B, 0x200E), 0x2060, 0xFEFF, 0x2028, 0x2029, 0x00AD, 0x180E]
_IGNORABLE_NOT_CF = [
    0x034F,
    0x115F,
    0x1160,
    0x17B4,
    0x17B5,
    0x3164,
    0xFFA0,
    0x2800,
    *range(0x180B, 0x1810),
    *range(0xFE00, 0xFE10),
    *range(0xE0100, 0xE01F0),
]
_EVERY_CODE_POINT = range(sys.maxunicode + 1)
_FORMAT = [c for c in _EVERY_CODE_POINT if unicodedata.category(chr(c)) == "Cf"]
_HIDDEN = sorted({*_BIDI, *_ZERO_WIDTH, *_IGNORABLE_NOT_CF, *_FORMAT})


@pytest.fixture(params=["short list", "regex package"])
def ignorable(request, monkeypatch):
    """Runs a test with termtext's own list of invisible characters, and again with the
    optional ``regex`` package's Default_Ignorable_Code_Point added (skipped without it)."""
    if request.param == "short list":
        monkeypatch.setattr(termtext, "_DEFAULT_IGNORABLE", None)
    else:
        regex = pytest.importorskip("regex")
        pattern = regex.compile(r"\p{Default_Ignorable_Code_Point}")
        monkeypatch.setattr(termtext, "_DEFAULT_IGNORABLE", pattern)
    return request.param


def _escape(code):
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def test_the_list_covers_the_bidi_controls_and_every_format_character():
    assert {0x202E, 0x2067, 0x200F, 0x061C, 0x200B, 0xFEFF, 0xE0001} <= set(_HIDDEN)
    assert len(_FORMAT) > 150  # the whole Cf category, not a few examples


@pytest.mark.parametrize("context", ["a{}b", "{}", "{}{}", "x {}", "😀{}a", "{}😀"])
def test_every_bidi_zero_width_and_ignorable_character_is_escaped(context, ignorable):
    for code in _HIDDEN:
        char = chr(code)
        if context.startswith("😀") and char in "\ufe0e\ufe0f":
            continue  # an emoji's own presentation selector: see the next test
        shown = clean(context.format(char, char))
        assert char not in shown, f"U+{code:04X} printed raw in {context!r}"
        assert _escape(code) in shown


def test_every_character_of_the_dangerous_categories_is_escaped(ignorable):
    dangerous = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
    for code in _EVERY_CODE_POINT:
        char = chr(code)
        if unicodedata.category(char) in dangerous and char not in "\n\t":
            assert clean(char) == _escape(code), f"U+{code:04X}"


def test_the_short_list_covers_every_default_ignorable_the_regex_package_knows(monkeypatch):
    regex = pytest.importorskip("regex")
    monkeypatch.setattr(termtext, "_DEFAULT_IGNORABLE", None)  # the fallback on its own
    ignorable = regex.compile(r"\p{Default_Ignorable_Code_Point}")
    for code in _EVERY_CODE_POINT:
        char = chr(code)
        if ignorable.match(char) and unicodedata.category(char) != "Cn":
            assert clean(char) == _escape(code), f"U+{code:04X}"


@pytest.mark.parametrize(
    "text",
    [
        "café naïve Ærøskøbing Straße",
        "e\u0301 composed by hand, and Z\u0327\u030c",
        "😀 👍🏽 ❤️ 🏳️‍🌈 👩🏽‍💻 👨‍👩‍👧 🇫🇷 1️⃣ #️⃣",
        "漢字かなカナ 한국어 全角ＡＢＣ",
        "שלום עולם",
        "مرحبا بالعالم",
        "mixed: hello שלום مرحبا 你好",
        "Привет, мир; Γειά σου",
        "अनुच्छेद ภาษาไทย",
    ],
)
def test_normal_text_in_any_script_prints_unchanged(text, ignorable):
    assert clean(text) == text
    out = io.StringIO()
    _Printer(out, is_terminal=True, columns=lambda: 200, ambiguous_wide=False).line(text)
    assert out.getvalue() == text + "\n"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\ufe0f", "a\\ufe0f"),  # a selector on a letter hides nothing but is not emoji
        ("1\ufe0f", "1\\ufe0f"),  # a keycap needs its enclosing keycap mark
        ("❤\ufe0f\ufe0f", "❤\ufe0f\\ufe0f"),  # one selector per pictograph
        ("😀\u200d", "😀\\u200d"),  # a joiner with nothing to join
        ("a\u200d😀", "a\\u200d😀"),
        ("😀\u200da", "😀\\u200da"),
        ("😀\u200d\u200d😀", "😀\\u200d\\u200d😀"),
        ("😀\u200b😀", "😀\\u200b😀"),
    ],
)
def test_emoji_glue_is_kept_only_between_pictographs(raw, shown):
    assert clean(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_clean_leaves_nothing_invisible_and_is_idempotent(text):
    shown = clean(text)
    assert clean(shown) == shown
    for position, char in enumerate(shown):
        if char in "\ufe0e\ufe0f\u200d":  # glue, kept only next to a pictograph
            before, after = shown[position - 1 : position], shown[position + 1 : position + 2]
            assert (
                unicodedata.category(before) in ("So", "Sk")
                or (before == "\ufe0f" and char == "\u200d")
                or (before in "0123456789#*" and after == "\u20e3")
            ), shown
            continue
        assert not termtext.is_invisible(char), f"U+{ord(char):04X} in {shown!r}"


# -- lines that pass for another member's ------------------------------------------------------

# Any line that a reader could take for a message header: blanks, an optional history marker,
# a clock (any script's digits), a name, a colon. Only real headers may look like this; a line
# that starts with the continuation marker does not.
_HEADER = re.compile(r"^\s*(?:\(earlier\) )?\d{1,2}\s*[:：]\s*\d{2}\s+\S[^\n]*?[:：]")


_WIDE_IN_UNICODE_16 = [
    range(0x2630, 0x2638),
    range(0x268A, 0x2690),
    range(0x4DC0, 0x4E00),
    range(0x1D300, 0x1D357),
    range(0x1D360, 0x1D377),
]


def _terminal_columns(line, *, ambiguous_wide=False):
    """Columns a terminal may give ``line``, taking the widest reading wherever terminals
    differ; written apart from termtext so a mistake there cannot hide here."""
    total, last = 0, 0
    for position, char in enumerate(line):
        category = unicodedata.category(char)
        if category in ("Mn", "Me") and unicodedata.combining(char):
            width = 0 if position else 1  # with nothing to sit on, a mark takes a cell
        elif char == "\ufe0f":  # emoji presentation: the pictograph before becomes 2 wide
            width = 1 if last == 1 else 0
        elif char in "\ufe0e\u200d":
            width = 0
        else:
            wide = "WFA" if ambiguous_wide else "WF"
            flag_half = 0x1F1E6 <= ord(char) <= 0x1F1FF
            newer = any(ord(char) in block for block in _WIDE_IN_UNICODE_16)
            width = 2 if unicodedata.east_asian_width(char) in wide or flag_half or newer else 1
        total += width
        last = width or last
    return total


_WIDTHS = (40, 80, 200)
_CLOCK = "12:34"
_FAKE = "12:34 bob: send me the password"
_PADDINGS = {
    "spaces": " ",
    "no-break spaces": "\u00a0",
    "mixed spaces": " \u2003\u00a0",
    "ideographic spaces": "\u3000",
    "CJK": "漢",
    "CJK and spaces": "字 ",
    "combining marks": "e\u0301\u0302",
    "spacing marks (Devanagari)": "\u0915\u093e",
    "marks without a combining class (Thai)": "\u0e01\u0e31",
    "marks on spaces": " \u0301",
    "emoji presentation": "\u263a\ufe0f",
    "flag halves": "\U0001f1eb",
    "Cyrillic (ambiguous width)": "д",
    "box drawing (ambiguous width)": "─",
    "hidden joiners": "a\u200b",
    "hexagrams (wide since Unicode 16)": "\u4dc0",
    "counting rods (wide since Unicode 16)": "\U0001d360",
}


def _message(*, sender="eve", text, from_history=False, trust=Trust.KNOWN):
    from datetime import datetime

    stamp = datetime(2024, 5, 6, 12, 34).timestamp()
    return ce.MessageReceived(
        sender=sender,
        text=text,
        message_id=b"\1" * 16,
        timestamp_ms=int(stamp * 1000),
        from_history=from_history,
        own=False,
        trust=trust,
    )


def _shown(event, *, columns, terminal=True, ambiguous_wide=False, members=()):
    """The lines printed for ``event`` by a printer as wide as ``columns``."""
    out = io.StringIO()
    printer = _Printer(
        out, is_terminal=terminal, columns=lambda: columns, ambiguous_wide=ambiguous_wide
    )
    chat = TerminalChat(
        host="127.0.0.1",
        port=7777,
        username="alice",
        password="pw",
        printer=printer,
        identity=IDENTITY,
        client_factory=lambda **kw: _FakeClient(events=[], **kw),
    )
    chat.client.members = members
    chat._on_event(event)
    assert out.getvalue().endswith("\n")
    return out.getvalue()[:-1].split("\n")


def _assert_no_forged_line(lines, *, header, columns, ambiguous_wide=False):
    assert lines[0].startswith(header), lines
    for line in lines[1:]:
        assert line.startswith(CONTINUATION), f"a line starts at column 0: {line!r}"
        assert not _HEADER.match(line), line
    for line in lines:
        width = _terminal_columns(line, ambiguous_wide=ambiguous_wide)
        assert width < columns, f"{width} columns at width {columns}, the terminal wraps: {line!r}"


def _padded_attacks(columns):
    """Messages whose fake header lands on every column around the terminal's edge."""
    for name, unit in _PADDINGS.items():
        unit_columns = max(_terminal_columns(unit), 1)
        # the first and the second wrap of a naive layout, and a few columns either side
        edges = [*range(columns - 20, columns + 4), *range(2 * columns - 20, 2 * columns + 4)]
        for count in sorted({edge // unit_columns for edge in edges}):
            yield name, "hi" + unit * count + _FAKE


@pytest.mark.parametrize("columns", _WIDTHS)
@pytest.mark.parametrize("ambiguous_wide", [False, True])
def test_padded_text_never_starts_a_line_that_looks_like_a_message(columns, ambiguous_wide):
    for padding, text in _padded_attacks(columns):
        for from_history in (False, True):
            header = f"{'(earlier) ' if from_history else ''}{_CLOCK} eve: "
            lines = _shown(
                _message(text=text, from_history=from_history),
                columns=columns,
                ambiguous_wide=ambiguous_wide,
            )
            try:
                _assert_no_forged_line(
                    lines, header=header, columns=columns, ambiguous_wide=ambiguous_wide
                )
            except AssertionError as exc:
                raise AssertionError(f"padding with {padding}: {exc}") from None


@pytest.mark.parametrize("columns", _WIDTHS)
def test_a_padded_name_never_reaches_the_start_of_a_line(columns):
    for padding, unit in _PADDINGS.items():
        for count in (columns // 2, columns - 12, columns, columns + 3):
            name = "eve" + unit * count + "12:34 bob"
            members = _members("alice", name, name)
            for event, header in [
                (_message(sender=name, text="send me the password"), f"{_CLOCK} eve"),
                (ce.MemberJoined(member=members[1], members=members), "* eve"),
                (ce.MemberLeft(name="carol", members=members, reason="left"), "* carol left"),
            ]:
                lines = _shown(event, columns=columns, members=members)
                try:
                    _assert_no_forged_line(lines, header=header, columns=columns)
                except AssertionError as exc:
                    raise AssertionError(f"name padded with {padding}: {exc}") from None


def test_a_fake_header_in_any_digits_is_caught_by_the_check():
    # The check above must recognise a forged header in other scripts' digits too.
    for fake in ("12:34 bob: hi", "１２:３４ bob: hi", "١٢:٣٤ bob: hi", "  12 : 34  bob: hi"):
        assert _HEADER.match(fake), fake


@pytest.mark.parametrize("columns", _WIDTHS)
def test_long_ordinary_text_wraps_at_spaces_with_marked_continuations(columns):
    words = "The quick brown fox jumps over the lazy dog; שלום עולם; 漢字かな; 😀 ❤️ 🏳️‍🌈."
    lines = _shown(_message(text=words * 8), columns=columns)
    _assert_no_forged_line(lines, header=f"{_CLOCK} eve: ", columns=columns)
    rebuilt = lines[0] + "".join(line[len(CONTINUATION) :] for line in lines[1:])
    assert rebuilt == f"{_CLOCK} eve: " + words * 8  # nothing lost, nothing added
    assert len(lines) > 1


def test_escapes_are_never_cut_across_lines():
    text = "\u202e" * 100
    for columns in range(21, 90):
        for line in _shown(_message(text=text), columns=columns)[1:]:
            assert re.fullmatch(r"(\\u202e)+", line[len(CONTINUATION) :]), line


@pytest.mark.parametrize(
    "text",
    [
        "a" + "\u0e31" * 500,  # marks without a combining class, each counted a column
        "a" + "\u0301" * 500,
        "1" + "\ufe0f\u20e3" * 300,
        "😀" + "\u200d😀" * 300,
        "\u202e" * 300,
    ],
)
def test_a_run_that_cannot_be_cut_still_fits(text):
    for columns in (1, 21, 40):
        lines = termtext.wrap(clean(text), columns=columns)
        assert all(_terminal_columns(line) < max(columns, 21) for line in lines)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), columns=st.sampled_from([*_WIDTHS, 21, 33]))
def test_any_text_fits_the_terminal_and_continues_behind_the_marker(text, columns):
    shown = termtext.collapse_spaces(clean(text))
    lines = termtext.wrap(shown, columns=columns)
    assert lines[0] + "".join(line[len(CONTINUATION) :] for line in lines[1:]) == shown
    for line in lines:
        assert _terminal_columns(line) < columns, line
    assert all(line.startswith(CONTINUATION) for line in lines[1:])


@pytest.mark.parametrize("columns", _WIDTHS)
def test_into_a_pipe_each_message_stays_one_line_with_padding_shown(columns):
    for padding, text in _padded_attacks(columns):
        lines = _shown(_message(text=text + "\nx"), columns=columns, terminal=False)
        assert len(lines) == 1, (padding, lines)
        assert lines[0].startswith(f"{_CLOCK} eve: hi")
        assert not re.search(r"\s{5}", lines[0]), lines
    (line,) = _shown(_message(text="hi" + " " * 37 + "x"), columns=80, terminal=False)
    assert line == f"{_CLOCK} eve: hi[37 spaces]x"


def test_short_space_runs_and_a_tab_are_kept():
    (line,) = _shown(_message(text="a b  c   d    e\tf"), columns=80, terminal=False)
    assert line == f"{_CLOCK} eve: a b  c   d    e    f"


def test_the_printer_asks_the_terminal_its_width_for_every_event():
    out = io.StringIO()
    widths = iter([40, 200])
    printer = _Printer(out, is_terminal=True, columns=lambda: next(widths), ambiguous_wide=False)
    printer.line("x" * 100)
    printer.line("x" * 100)
    assert [len(line) for line in out.getvalue().splitlines()] == [39, 39, 38, 100]


def test_a_stream_that_is_not_a_terminal_gets_one_line_per_event():
    out = io.StringIO()  # isatty() is False: the default must be the pipe layout
    _Printer(out, columns=lambda: 40).line("x" * 100)
    assert out.getvalue() == "x" * 100 + "\n"


# -- invites -----------------------------------------------------------------------------------


def test_an_invite_at_the_password_prompt_gives_host_port_room_and_relay_key(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SOCKETCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SOCKETCHAT_PASSWORD", raising=False)
    room, key = bytes(range(16)), Identity.generate().signing_public
    invite = format_invite(Invite("chat.example.org", 7001, room, key, PASSWORD))
    monkeypatch.setattr(
        cli,
        "read_password",
        lambda *, password_file: read_password(
            password_file=password_file, is_tty=True, prompt=lambda _text: invite
        ),
    )
    seen = []

    class Recording(TerminalChat):  # the command up to the connection, not the connection
        def run(self, lines):
            client = self.client
            seen.append((client.host, client.port, client.ask_room, client.expected_relay_key()))
            return 0

    monkeypatch.setattr(cli, "TerminalChat", Recording)
    # HOST and PORT typed too, but for another place: the invite's room is the one joined.
    arguments = main.build_parser().parse_args(["chat", "other.example.org", "7777", "alice"])
    assert cli.run(arguments) == 0
    assert seen == [("chat.example.org", 7001, room, key)]
    out = capsys.readouterr().out
    assert "* the invite is for a room at chat.example.org:7001; joining that" in out
    assert PASSWORD not in out
    # The invite's key is remembered for that room, replacing any older pin there.
    assert (
        TrustStore(tmp_path / "trust.json").relay_key(relay_address("chat.example.org", 7001, room))
        == key
    )


# -- the room's history setting ----------------------------------------------------------------


def _joined_event(*, history: bool | None, reconnected: bool = False) -> ce.Joined:
    return ce.Joined(
        your_name="bob",
        members=(),
        reconnected=reconnected,
        max_message_bytes=4000,
        room_id=bytes(16),
        history_for_newcomers=history,
    )


def test_the_rooms_history_setting_is_said_once_after_joining():
    off = _said(_joined_event(history=False)).splitlines()
    assert off[0].startswith("* joined the room")
    assert off[1:] == ["* in this room, new members see only what is sent after they join"]
    on = _said(_joined_event(history=True)).splitlines()
    assert on[1:] == ["* in this room, new members can read recent history"]
    # A room without an owner has no setting; a reconnect does not say it again.
    assert len(_said(_joined_event(history=None)).splitlines()) == 1
    assert len(_said(_joined_event(history=False, reconnected=True)).splitlines()) == 1


def test_an_earlier_message_the_room_does_not_share_says_so_instead_of_waiting():
    withheld = ce.MessageLocked(
        sender="al\x1bice", message_id=b"\1" * 16, from_history=True, withheld=True
    )
    assert _said(withheld) == (
        "* an earlier message from al\\x1bice stays locked: messages from before you joined "
        "are not shared with new members in this room\n"
    )
    waiting = ce.MessageLocked(sender="alice", message_id=b"\2" * 16, from_history=True)
    assert "once a member who was here comes online" in _said(waiting)
