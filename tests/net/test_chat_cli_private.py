"""The terminal client's private messages and replies: ``/msg``, and how they are printed.

Names and texts are hostile: a member may call itself "alice → you" to pass its room messages
for private ones, and a quote may hold 10,000 lines. The first tests drive TerminalChat with a
stand-in client (tests/net/test_chat_cli.py's), the last ones a real relay on 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import re
from datetime import datetime

from net.client import events as ce
from net.client.cli import TerminalChat, _Printer
from net.client.errors import ClientStopped
from net.client.trust import Trust
from net.proto import ContentType, PendingMessage
from tests.net.client_support import is_
from tests.net.test_chat_cli import (  # noqa: F401 - fixtures
    IDENTITY,
    _FakeClient,
    _Terminal,
    members,
    relays,
    room_keys,
)

STAMP = int(datetime(2024, 5, 6, 12, 34).timestamp() * 1000)
BOB, CAROL, BOB_SMITH = b"\2" * 32, b"\3" * 32, b"\4" * 32
LONG = "\n".join(f"line {n}" for n in range(10_000))


class _PrivateClient(_FakeClient):
    """The stand-in, knowing members by name and recording private sends."""

    def __init__(self, *, peers=None, stopped=False, **kwargs):
        super().__init__(**kwargs)
        self.peers = peers or {"bob": BOB, "carol": CAROL}
        self.private = []
        self.stopped = stopped

    def peer_named(self, name):
        return self.peers.get(name.casefold())

    def send_private(self, peer, text):
        if self.stopped:
            raise ClientStopped("The room is gone.", kind=None)
        if not text.strip():
            raise ValueError("Type a message first.")
        self.private.append((peer, text))
        return PendingMessage(text=text, message_id=b"\0" * 16, timestamp_ms=1)

    def content_of(self, message):
        name = next(n for n, k in self.peers.items() if k == message.body[:32])
        return ce.SentContent(
            content=ce.TextContent(text=message.text), private_with=BOB, private_name=name
        )


def _chat(events=(), **client_options):
    out = io.StringIO()
    chat = TerminalChat(
        host="127.0.0.1",
        port=7777,
        username="alice",
        password="pw",
        printer=_Printer(out, is_terminal=False),
        identity=IDENTITY,
        client_factory=lambda **kw: _PrivateClient(events=list(events), **client_options, **kw),
    )
    return chat, out


def _joined():
    return ce.Joined(
        your_name="alice", members=(), reconnected=False, max_message_bytes=4000, room_id=b"r" * 16
    )


def _typed(lines, **client_options):
    chat, out = _chat([_joined()], **client_options)
    status = chat.run(io.StringIO(lines))
    return chat, out.getvalue().splitlines(), status


def test_msg_sends_to_the_member_named_and_nobody_else():
    chat, lines, status = _typed("/msg bob meet me at five\n/msg CAROL  hi there \n")
    assert status == 0
    assert chat.client.private == [(BOB, "meet me at five"), (CAROL, "hi there")]
    assert chat.client.sent == []  # nothing went to the room
    assert not any(line.startswith("!") for line in lines)


def test_msg_to_a_name_nobody_has_says_so_in_one_line_and_sends_nothing():
    chat, lines, _status = _typed("/msg zed\x1b[2J are you there\n/msg bob\n/msg\n")
    assert chat.client.private == [] and chat.client.sent == []
    said = [line for line in lines if line.startswith("!")]
    assert said == [
        "! nobody called 'zed\\x1b[2J' is in the room (or remembered from it); nothing was sent",
        "! usage: /msg NAME TEXT (a private message to NAME only)",
        "! usage: /msg NAME TEXT (a private message to NAME only)",
    ]


def test_a_name_with_spaces_is_found_and_two_possible_names_ask_for_quotes():
    peers = {"bob": BOB, "bob smith": BOB_SMITH, "carol": CAROL}
    chat, lines, _status = _typed(
        '/msg bob smith hello\n/msg "bob smith" hello\n/msg carol smith is here\n', peers=peers
    )
    assert [line for line in lines if line.startswith("!")] == [
        '! /msg could mean "bob" and "bob smith": put the name in double quotes; nothing was sent'
    ]
    assert chat.client.private == [(BOB_SMITH, "hello"), (CAROL, "smith is here")]


def test_msg_to_a_member_whose_key_changed_unaccepted_sends_nothing():
    chat, out = _chat([_joined()])
    chat.client.members = (
        ce.Member(name="bob", signing_key=BOB, dh_key=b"\5" * 32, trust=Trust.CHANGED),
        ce.Member(name="carol", signing_key=CAROL, dh_key=b"\6" * 32, trust=Trust.VERIFIED),
    )
    assert chat.run(io.StringIO("/msg bob the plan\n/msg carol the plan\n")) == 0
    assert chat.client.private == [(CAROL, "the plan")]
    assert (
        "! bob's safety code changed and the new one was not accepted: a private message could "
        "reach someone else; nothing was sent"
    ) in out.getvalue().splitlines()


def test_a_private_message_the_client_cannot_take_is_printed_to_be_sent_again_privately():
    _, lines, status = _typed("/msg bob smith the secret\n", stopped=True, peers={"bob smith": BOB})
    assert status == 3
    assert '! unsent: /msg "bob smith" the secret' in lines


def test_unsent_private_messages_handed_back_keep_their_command():
    box = BOB + b"box"  # the stand-in reads the recipient from here
    waiting = PendingMessage(
        text="still private",
        message_id=b"\1" * 16,
        timestamp_ms=1,
        content_type=ContentType.PRIVATE.value,
        body=box,
    )
    public = PendingMessage(text="for the room", message_id=b"\2" * 16, timestamp_ms=1)
    chat, out = _chat(
        [_joined(), ce.NotSent(messages=(public, waiting), reason="gone", kept=False)]
    )
    assert chat.run(io.StringIO("")) == 3
    said = out.getvalue().splitlines()
    assert "! unsent: for the room" in said
    assert "! unsent: /msg bob still private" in said


# -- how they are printed ---------------------------------------------------------------------


def _said(*events):
    chat, out = _chat()
    for event in events:
        chat._on_event(event)
    return out.getvalue().splitlines()


def _message(**fields):
    values = {
        "sender": "bob",
        "text": "hi",
        "message_id": os.urandom(16),
        "timestamp_ms": STAMP,
        "from_history": False,
        "own": False,
    }
    values.update(fields)
    return ce.MessageReceived(**values)


def test_private_messages_start_with_a_mark_no_name_can_give():
    assert _said(_message(text="psst", private_with=BOB, private_name="bob")) == [
        "[private] 12:34 bob → you: psst"
    ]
    assert _said(
        _message(sender="alice", own=True, text="sure", private_with=BOB, private_name="b\x1bob")
    ) == ["[private] 12:34 you → b\\x1bob: sure"]
    assert _said(_message(text="old", from_history=True, private_with=BOB, private_name="bob")) == [
        "[private] (earlier) 12:34 bob → you: old"
    ]
    # A member who calls itself "alice → you" speaks in the room, and it shows.
    spoof = _said(_message(sender="[private] alice → you", text="send me the password"))
    assert spoof == ["12:34 [private] alice → you: send me the password"]
    assert not spoof[0].startswith("[private]")


def test_a_reply_is_printed_under_its_quote_from_this_devices_copy_when_it_has_one():
    original = _message(sender="carol", text="the meeting moved\nto Tuesday")
    claim = ce.ReplyTo(message_id=original.message_id, sender="mallory", excerpt="lies")
    answer = _message(text="ok", content=ce.ReplyContent(reply_to=claim, text="ok"))
    assert _said(original, answer)[1:] == [
        "> carol: the meeting moved to Tuesday",
        "12:34 bob: ok",
    ]
    # Not held here: what the replier claims, as it claims it (escaped).
    unknown = ce.ReplyTo(message_id=os.urandom(16), sender="eve\u202e", excerpt="I \x1b said")
    lines = _said(_message(text="no", content=ce.ReplyContent(reply_to=unknown, text="no")))
    assert lines == ["> eve\\u202e: I \\x1b said", "12:34 bob: no"]


def test_a_quote_of_ten_thousand_lines_is_one_short_line():
    long_quote = ce.ReplyTo(message_id=os.urandom(16), sender="bob", excerpt=LONG)
    lines = _said(
        _message(text="tl;dr", content=ce.ReplyContent(reply_to=long_quote, text="tl;dr"))
    )
    assert len(lines) == 2
    assert lines[0].startswith("> bob: line 0 line 1 line 2")
    assert lines[0].endswith("…") and len(lines[0]) <= len("> bob: ") + 60
    assert lines[1] == "12:34 bob: tl;dr"


def test_a_type_this_version_cannot_show_says_so():
    content = ce.UnknownContent(content_type="application/x-poll\n12:35 eve: hi")
    assert _said(_message(text="", content=content)) == [
        "12:34 bob: [a message this version cannot show (application/x-poll\\n12:35 eve: hi)]"
    ]


def test_help_names_msg():
    _, lines, _status = _typed("/help\n")
    assert any("/msg NAME TEXT" in line for line in lines)


# -- against a real relay ----------------------------------------------------------------------


def _type(terminal, line):
    terminal._typed.write(line + "\n")
    terminal._typed.flush()


def test_msg_and_replies_through_a_real_relay(relays, members, room_keys):  # noqa: F811
    relay = relays()
    alice = _Terminal(relay.port)
    alice.wait_line(r"^\* joined the room")
    bob, bob_events = members(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(is_(ce.Joined))
    carol, carol_events = members(relay.port, "carol", keys=room_keys)
    carol_events.wait_for(is_(ce.Joined))
    alice.wait_line(r"^\* carol joined")

    _type(alice, "/msg bob only for bob")
    got = bob_events.wait_for(is_(ce.MessageReceived, text="only for bob"))
    assert got.private_with == alice.chat.client.identity.signing_public
    alice.wait_line(r"^\[private\] \d\d:\d\d you → bob: only for bob$")
    _type(alice, "/msg nobody hello?")
    alice.wait_line(r"^! nobody called 'nobody' is in the room")

    bob.send_private(alice.chat.client.identity.signing_public, "and back, privately")
    alice.wait_line(r"^\[private\] \d\d:\d\d bob → you: and back, privately$")
    quote = ce.ReplyTo(message_id=got.message_id, sender="alice", excerpt="not what was said")
    bob.send("agreed", reply_to=quote)
    alice.wait_line(r"^\d\d:\d\d bob: agreed$")
    lines = alice.lines()
    at = lines.index(next(line for line in lines if re.match(r"^\d\d:\d\d bob: agreed$", line)))
    assert lines[at - 1] == "> alice: only for bob"  # alice's own copy, not bob's claim

    carol.send("sync")
    for events in (bob_events, carol_events):
        events.wait_for(is_(ce.MessageReceived, text="sync"))
    assert "only for bob" not in carol_events.texts()
    assert "and back, privately" not in carol_events.texts()
    assert alice.end() == [0]
