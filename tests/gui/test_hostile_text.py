"""Text made to look like someone else's message stays visibly inside its own (real Tk, Xvfb).

Each attack body below contains a copy of a header ("bob  12:34"). These tests read the Text
widget itself: tag ranges, tag options and pixel positions (``bbox``), so they fail if a body
escapes its indent, loses its tint, or gets a header tag.
"""

from __future__ import annotations

import time

import pytest

from gui.chat import ChatWindow
from gui.messages import BODY_INDENT, MessageList, format_time, key_colour
from net.client import PendingMessage
from net.client import events as ce
from tests.gui.conftest import identity_of, member, members_of, text_of

NOW_MS = int(time.time() * 1000)
HHMM = format_time(NOW_MS)
BOLD_BOB = "\U0001d41b\U0001d428\U0001d41b"  # 𝐛𝐨𝐛, mathematical bold: looks like a header name

# name of the attack: (body sent, text of the line holding the fake header, body as shown)
ATTACKS = {
    "newline and fake header": (
        f"ok\n\nbob  {HHMM}\nplease send me the password",
        f"bob  {HHMM}",
        f"ok\n\nbob  {HHMM}\nplease send me the password",
    ),
    "blank lines and fake header": (
        "brb" + "\n" * 40 + f"alice  {HHMM}\nsent it to mallory",
        f"alice  {HHMM}",
        f"brb\n\n\nalice  {HHMM}\nsent it to mallory",
    ),
    "invisible lines and fake header": (
        "brb" + "\n \u00a0\u200b\t\u3000\u2800" * 30 + f"\nalice  {HHMM}\nsent",
        f"alice  {HHMM}",
        f"brb\n\n\nalice  {HHMM}\nsent",
    ),
    "styled name mimicry": (
        f"{BOLD_BOB}  {HHMM}\nthe new password is hunter2",
        f"{BOLD_BOB}  {HHMM}",
        f"{BOLD_BOB}  {HHMM}\nthe new password is hunter2",
    ),
    "bidi override": (
        f"invoice_\u202egpj.exe\u202c\n\u2067bob  {HHMM}\u2069\n\u202eplease",
        f"⟨U+2067⟩bob  {HHMM}⟨U+2069⟩",
        f"invoice_⟨U+202E⟩gpj.exe⟨U+202C⟩\n⟨U+2067⟩bob  {HHMM}⟨U+2069⟩\n⟨U+202E⟩please",
    ),
    "line and paragraph separators": (
        f"ok\u2028\u2028\u2028\u2028bob  {HHMM}\u2029send it\r\nnow",
        f"bob  {HHMM}",
        f"ok\n\n\nbob  {HHMM}\nsend it\nnow",
    ),
}


@pytest.fixture
def messages(root):
    widget = MessageList(root)
    widget.pack(fill="both", expand=True)
    root.update()
    return widget


def ranges(text, tag: str) -> list[tuple[str, str]]:
    found = text.tag_ranges(tag)
    return [(str(found[i]), str(found[i + 1])) for i in range(0, len(found), 2)]


def x_of(text, index: str) -> int:
    text.see(index)
    text.update()
    box = text.bbox(index)
    assert box is not None, f"{index} is not on screen"
    return box[0]


def before(text, a: str, b: str) -> bool:
    return text.compare(a, "<=", b)


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_body_stays_inside_its_message(messages, attack):
    body, fake, expected = ATTACKS[attack]
    text = messages.text
    mallory = identity_of("mallory").signing_public
    messages.add_message("mallory", body, NOW_MS, sender_key=mallory)
    messages.flush()

    # The real header is line 1; the body is everything after it, shown as expected.
    body_start, end = "2.0", text.index("end-1c")
    assert text.get("1.0", "1.end") == f"mallory  {HHMM}"
    assert text.get(body_start, end) == expected + "\n"

    # Every character of the body carries the body tag and the sender's tint; none carries a
    # header tag, and every marker is inside the body.
    assert ranges(text, "body") == [(body_start, end)]
    tint = f"tint{key_colour(mallory)}"
    assert ranges(text, tint) == [(body_start, end)]
    for tag in ("header", "sender", "time"):
        for _first, last in ranges(text, tag):
            assert before(text, last, body_start), f"{tag} reaches into the body"
    for first, last in ranges(text, "escape"):
        assert before(text, body_start, first) and before(text, last, end)

    # The body tag indents every line, the first of a paragraph and the wrapped ones; headers
    # are at the left edge. The tint paints the indent too.
    assert int(text.tag_cget("body", "lmargin1")) == BODY_INDENT
    assert int(text.tag_cget("body", "lmargin2")) == BODY_INDENT
    assert int(text.tag_cget("header", "lmargin1") or 0) == 0
    assert text.tag_cget(tint, "lmargincolor") == text.tag_cget(tint, "background") != ""

    # On screen: the line holding the fake header starts right of the real header.
    header_x = x_of(text, "1.0")
    fake_at = text.search(fake, body_start, stopindex=end)
    assert fake_at, f"{fake!r} not found in the body"
    assert text.compare(fake_at, "==", f"{fake_at} linestart"), "the fake starts a line"
    assert x_of(text, fake_at) >= header_x + BODY_INDENT


def test_wrapped_body_lines_are_indented_too(messages):
    text = messages.text
    messages.add_message("mallory", "please send me the password " * 20, NOW_MS)
    messages.flush()
    second = text.index("2.0 +1 display lines display linestart")
    assert text.compare(second, ">", "2.0"), "the line wraps"
    assert x_of(text, second) == x_of(text, "2.0") >= x_of(text, "1.0") + BODY_INDENT


def test_a_bidi_override_does_not_reach_the_next_header(messages):
    text = messages.text
    messages.add_message("mallory", "\u202e\u2067evil", NOW_MS)
    messages.add_message("bob", "hello", NOW_MS)
    messages.flush()
    assert "\u202e" not in text_of(text) and "\u2067" not in text_of(text)
    bob = text.search(f"bob  {HHMM}", "1.0")
    assert text.compare(bob, "==", f"{bob} linestart")
    assert text.get(bob, f"{bob} lineend") == f"bob  {HHMM}"
    assert "sender" in text.tag_names(bob) and "body" not in text.tag_names(bob)
    assert x_of(text, bob) == x_of(text, "1.0")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (f"carol\u2028bob  {HHMM}", f"carol⟨U+2028⟩bob  {HHMM}"),
        (f"carol\nbob  {HHMM}", f"carol⟨U+000A⟩bob  {HHMM}"),
        ("b\u200bob", "b⟨U+200B⟩ob"),
        ("\u202eecila", "⟨U+202E⟩ecila"),
        ("m" * 300, "m" * 39 + "…"),
    ],
)
def test_a_hostile_name_is_one_header_line(messages, name, shown):
    text = messages.text
    messages.add_message(name, "hi", NOW_MS)
    messages.flush()
    assert text.get("1.0", "1.end") == f"{shown}  {HHMM}"
    assert text.get("2.0", "end-1c") == "hi\n"
    for _first, last in ranges(text, "header"):
        assert before(text, last, "2.0"), "the header is line 1 only"
    for first, _last in ranges(text, "escape"):
        assert "sender" in text.tag_names(first), "markers are styled inside the name"


def test_hostile_names_in_the_member_list_and_notices_stay_on_one_line(root):
    window = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "carol\u2028bob", "b\u200bob"),
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        is_focused=lambda: True,
    )
    window.grid(row=0, column=0, sticky="nsew")
    members = members_of("alice", "carol\u2028bob", "b\u200bob", "eve\nbob")
    window.handle(ce.MemberJoined(member=member("eve\nbob"), members=members))
    window.handle(ce.ForgedMessage(claimed_sender="x\u202ebob", message_id=bytes(16)))
    window.flush()
    assert window.member_list.get(0, "end") == (
        "alice (you)",
        "b⟨U+200B⟩ob",
        "carol⟨U+2028⟩bob",
        "eve⟨U+000A⟩bob",
    )
    content = text_of(window.messages.text)
    assert "eve⟨U+000A⟩bob joined the room." in content
    assert "from x⟨U+202E⟩bob was dropped" in content
    assert "\u2028" not in content and "\u202e" not in content


def test_own_messages_are_indented_and_tinted_in_their_own_colour(messages):
    text = messages.text
    messages.add_message("alice", "mine\nsecond line", NOW_MS, own=True)
    messages.flush()
    accent = messages.sender_colour(identity_of("alice").signing_public, own=True)
    assert ranges(text, "body") == [("2.0", text.index("end-1c"))]
    assert ranges(text, f"tint{accent}") == ranges(text, "body")
    assert f"name{accent}" in text.tag_names("1.0")
    assert x_of(text, "3.0") >= x_of(text, "1.0") + BODY_INDENT


def test_a_ten_thousand_line_message_shows_sixty_lines_and_a_count(messages):
    # A relay or member that ignores the size limit (the client receives frames up to 1 MiB):
    # 10,000 lines must not bury every later message nor stall the Tk thread.
    text = messages.text
    mallory = identity_of("mallory").signing_public
    body = "\n".join(f"line {n}" for n in range(10_000))
    started = time.perf_counter()
    messages.add_message("mallory", body, NOW_MS, sender_key=mallory)
    messages.add_message("bob", "after it", NOW_MS, sender_key=identity_of("bob").signing_public)
    messages.flush()
    text.update()
    assert time.perf_counter() - started < 2.0
    shown = text.get("1.0", "end-1c")
    assert "line 59\n" in shown and "line 60" not in shown
    assert "⟨9,940 more lines not shown: Export… the room to read them⟩" in shown
    assert shown.rstrip().endswith("after it")
    assert int(text.index("end-1c").split(".")[0]) < 80
