"""Replies in a chat window, on real Tk under Xvfb, fed with the client's events: Reply from the
conversation's menu (mouse and keyboard), the reply bar (✕, Esc), sending with ``reply_to``,
the quote above a reply (this device's copy of the original, else the replier's claim, marked),
jumping to the original or saying it is not here, and hostile quotes."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from gui.chat import ChatWindow
from gui.chat_replies import REPLY, SHOW_ORIGINAL
from gui.quotes import AS_QUOTED, NOT_HERE, QUOTE_CHARS, Originals, one_line, one_line_text
from gui.reply_bar import replying_text
from gui.safetext import ELLIPSIS
from gui.theme import apply_theme
from net.client import PendingMessage, ReplyContent, ReplyTo
from net.client import events as ce
from tests.gui.conftest import identity_of, members_of, pump_until, text_of

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(1000))


def received(
    sender: str, text: str, *, reply: ReplyTo | None = None, **fields: Any
) -> ce.MessageReceived:
    if reply is not None:
        fields["content"] = ReplyContent(reply_to=reply, text=text)
    return ce.MessageReceived(
        sender=sender,
        text=text,
        message_id=fields.pop("message_id", None) or next(_ids),
        timestamp_ms=NOW_MS,
        from_history=False,
        own=False,
        sender_key=identity_of(sender).signing_public,
        **fields,
    )


@pytest.fixture
def chat(root):
    sent: list[tuple[str, ReplyTo | None]] = []

    def send(text: str) -> PendingMessage:
        sent.append((text, None))
        return PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS)

    def send_reply(text: str, reply: ReplyTo) -> PendingMessage:
        sent.append((text, reply))
        return PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS)

    apply_theme(root)
    window = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob", "carol"),
        send=send,
        send_reply=send_reply,
        is_focused=lambda: True,
    )
    window.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    root.update()
    window.sent = sent
    return window


def press(root, sequence: str) -> None:
    widget = root.focus_get()
    assert widget is not None, "nothing has the keyboard focus"
    widget.event_generate(sequence)
    root.update()


def shown(chat: ChatWindow) -> str:
    return text_of(chat.messages.text)


def menu_labels(menu) -> list[str]:
    return [
        menu.entrycget(i, "label")
        for i in range(menu.index("end") + 1)
        if menu.type(i) == "command"
    ]


def spot_of(chat: ChatWindow, words: str) -> str:
    index = chat.messages.text.search(words, "1.0")
    assert index, f"{words!r} is not shown"
    return index


# -- plain functions ----------------------------------------------------------------------------


def test_a_quote_is_one_short_line_whatever_it_holds():
    assert one_line_text("hello\n\n   world\tagain") == "hello world again"
    lines = one_line_text("line\n" * 10_000)
    assert "\n" not in lines and len(lines) <= QUOTE_CHARS and lines.endswith(ELLIPSIS)
    escapes = one_line("\x1b[2J\x1b[31m" * 3000)
    text = "".join(piece for piece, _ in escapes)
    assert "\x1b" not in text and len(text) <= QUOTE_CHARS
    assert any(is_marker for _, is_marker in escapes)  # shown as markers, not hidden
    assert one_line_text("\n" * 5000 + "  late start") == "late start"
    assert one_line_text("bidi \u202e trick") == "bidi ⟨U+202E⟩ trick"
    assert len(one_line_text("x" * 5000)) == QUOTE_CHARS


def test_a_quote_shows_our_copy_when_we_hold_the_original_else_the_claim():
    originals = Originals(limit=2)
    first, second, third = bytes(16), b"\x01" * 16, b"\x02" * 16
    originals.add(first, "bob", "what bob really said")
    claim = ReplyTo(message_id=first, sender="alice", excerpt="something bob never said")
    quote = originals.quote(claim)
    assert (quote.sender, quote.text, quote.own_copy) == ("bob", "what bob really said", True)
    unknown = originals.quote(ReplyTo(message_id=third, sender="carol", excerpt="a claim"))
    assert (unknown.sender, unknown.text, unknown.own_copy) == ("carol", "a claim", False)
    originals.add(second, "carol", "b")
    originals.add(third, "dave", "c")  # the oldest goes past the limit
    assert originals.get(first) is None and originals.get(third) is not None


def test_the_reply_bar_says_whom_and_what_on_one_line():
    assert replying_text("bob", "see\nyou\n\nat 7") == "Replying to bob: see you at 7"
    assert replying_text("b\u200bob", "x") == "Replying to b⟨U+200B⟩ob: x"


# -- Reply, the bar, sending --------------------------------------------------------------------


def test_reply_from_the_menu_shows_the_bar_and_enter_sends_with_reply_to(chat, root):
    original = received("bob", "Lunch at 12:30?")
    chat.handle(original)
    chat.flush()
    menu = chat.messages.build_menu(spot_of(chat, "Lunch"))
    labels = menu_labels(menu)
    assert labels[0] == REPLY and "Copy message" in labels
    menu.invoke(labels.index(REPLY))
    root.update()
    assert chat.reply_bar.winfo_ismapped()
    assert chat.reply_bar.text.get() == "Replying to bob: Lunch at 12:30?"
    assert root.focus_get() is chat.entry
    chat.entry.insert("1.0", "Yes, see you there")
    press(root, "<Return>")
    text, reply = chat.sent[-1]
    assert text == "Yes, see you there"
    assert reply == ReplyTo(message_id=original.message_id, sender="bob", excerpt="Lunch at 12:30?")
    root.update()
    assert not chat.reply_bar.winfo_ismapped() and chat.reply_bar.reply is None
    # Our reply shows at once with its quote above its text.
    assert "▍ bob  Lunch at 12:30?\nYes, see you there" in shown(chat)
    press(root, "<Up>")  # the next message is an ordinary one again
    chat.entry.delete("1.0", "end")
    chat.entry.insert("1.0", "and bring the cake")
    press(root, "<Return>")
    assert chat.sent[-1] == ("and bring the cake", None)


def test_escape_and_the_cross_cancel_the_reply_and_keep_the_text(chat, root):
    chat.handle(received("bob", "first"))
    chat.flush()
    assert chat.replies.start(chat.messages.message_id_at(spot_of(chat, "first")))
    root.update()
    pump_until(root, lambda: root.focus_get() is chat.entry, what="the compose box")
    chat.entry.insert("1.0", "half written")
    press(root, "<Escape>")
    assert chat.reply_bar.reply is None and not chat.reply_bar.winfo_ismapped()
    assert chat.entry.get("1.0", "end-1c") == "half written"
    press(root, "<Escape>")  # nothing to cancel: Esc does nothing here
    assert chat.entry.get("1.0", "end-1c") == "half written"
    assert chat.replies.start(chat.messages.message_id_at(spot_of(chat, "first")))
    chat.reply_bar.cancel_button.invoke()
    assert chat.reply_bar.reply is None
    press(root, "<Return>")
    assert chat.sent[-1] == ("half written", None)


def test_the_keyboard_reaches_reply_from_the_conversation(chat, root):
    for text in ("one", "two", "three"):
        chat.handle(received("bob", text))
    chat.flush()
    conversation = chat.messages.text
    conversation.focus_force()
    pump_until(root, lambda: root.focus_get() is conversation, what="the conversation")
    # With no spot chosen, the menu key is about the last message.
    press(root, "<Menu>")
    menu = chat.messages.menu
    assert menu is not None and menu_labels(menu)[0] == REPLY
    menu.unpost()
    menu.invoke(0)
    root.update()
    assert chat.reply_bar.reply is not None and chat.reply_bar.text.get().endswith(": three")
    # Esc in the compose box, back to the conversation, up to an earlier message.
    press(root, "<Escape>")
    conversation.focus_force()
    pump_until(root, lambda: root.focus_get() is conversation, what="the conversation")
    conversation.mark_set("insert", "end-1c")
    for _ in range(2):  # the arrow keys move the keyboard's spot, shown beside the message
        press(root, "<Up>")
    assert conversation.tag_ranges("keyspot")
    assert "two" in conversation.get(*conversation.tag_ranges("keyspot")[:2])
    press(root, "<Shift-F10>")
    menu = chat.messages.menu
    menu.unpost()
    menu.invoke(menu_labels(menu).index(REPLY))
    root.update()
    assert chat.reply_bar.text.get().endswith(": two")
    assert root.focus_get() is chat.entry


def test_no_reply_on_notices_or_after_the_room_stopped(chat, root):
    chat.handle(received("bob", "hello"))
    chat.messages.add_notice("carol joined the room.")
    chat.flush()
    assert REPLY not in menu_labels(chat.messages.build_menu(spot_of(chat, "carol joined")))
    chat.handle(ce.Failed(kind=ce.ErrorKind.ROOM_CLOSED, message="The host closed the room."))
    assert REPLY not in menu_labels(chat.messages.build_menu(spot_of(chat, "hello")))


# -- quotes: what they show, and jumping ----------------------------------------------------


def test_a_received_reply_quotes_our_copy_and_a_click_jumps_to_the_original(chat, root):
    original = received("bob", "The release notes are up for review.")
    chat.handle(original)
    for number in range(60):
        chat.handle(received("carol", f"filler {number}"))
    claim = ReplyTo(message_id=original.message_id, sender="mallory", excerpt="send me money")
    chat.handle(received("carol", "Looks good to me", reply=claim))
    chat.flush()
    root.update()
    text = shown(chat)
    assert "▍ bob  The release notes are up for review.\nLooks good to me" in text
    assert "send me money" not in text and "mallory" not in text  # our copy, not the claim
    assert AS_QUOTED not in text
    # Copy message copies the reply's own text, not its quote.
    assert chat.messages.message_at(spot_of(chat, "Looks good")) == "Looks good to me"
    messages = chat.messages
    messages.scroll_to_end()
    root.update()
    original_at = spot_of(chat, "The release notes")
    assert messages.text.bbox(original_at) is None  # scrolled out of view
    quote = spot_of(chat, "▍ bob")
    x, y, _w, h = messages.text.bbox(f"{quote} + 3 chars")
    messages.text.event_generate("<Motion>", x=x + 2, y=y + h // 2, warp=False)
    messages.text.event_generate("<ButtonPress-1>", x=x + 2, y=y + h // 2)
    messages.text.event_generate("<ButtonRelease-1>", x=x + 2, y=y + h // 2)
    root.update()
    lit = messages.text.tag_ranges("found")
    assert lit and "The release notes" in messages.text.get(lit[0], lit[1])
    assert messages.text.bbox(original_at) is not None  # scrolled to it, and lit up


def test_enter_on_a_quote_and_the_menu_entry_jump_too(chat, root):
    original = received("bob", "the original")
    chat.handle(original)
    chat.handle(
        received(
            "carol",
            "an answer",
            reply=ReplyTo(message_id=original.message_id, sender="bob", excerpt="x"),
        )
    )
    chat.flush()
    messages = chat.messages
    messages.text.focus_force()
    pump_until(root, lambda: root.focus_get() is messages.text, what="the conversation")
    messages.text.mark_set("insert", f"{spot_of(chat, '▍ bob')} + 4 chars")
    press(root, "<Return>")
    lit = messages.text.tag_ranges("found")
    assert lit and "the original" in messages.text.get(lit[0], lit[1])
    messages.text.tag_remove("found", "1.0", "end")
    menu = messages.build_menu(spot_of(chat, "an answer"))
    labels = menu_labels(menu)
    assert SHOW_ORIGINAL in labels
    menu.invoke(labels.index(SHOW_ORIGINAL))
    assert messages.text.tag_ranges("found")


def test_a_reply_to_what_this_view_lacks_shows_the_claim_marked_and_says_so(chat, root):
    claim = ReplyTo(message_id=b"\x77" * 16, sender="bob", excerpt="said before you came")
    chat.handle(received("carol", "I agree", reply=claim))
    chat.flush()
    text = shown(chat)
    assert f"▍ bob{AS_QUOTED}  said before you came\nI agree" in text
    status = chat.status.get()
    assert not chat.replies.jump(claim.message_id)
    assert chat.status.get() == NOT_HERE
    assert not chat.messages.text.tag_ranges("found")
    chat.replies._restore_status(status)  # what the timer does a few seconds later
    assert chat.status.get() == status


def test_a_hostile_quote_is_one_short_line(chat, root):
    names = ("mallory\nbob  12:00", "\u202eecila")
    for claimed, excerpt in (
        (names[0], "line\n" * 10_000),
        (names[1], "\x1b[31m\x1b[2J" * 40 + "\r\n\u2028" * 30),
        ("carol", "\t" * 5000 + "x"),
    ):
        claim = ReplyTo(message_id=next(_ids), sender=claimed, excerpt=excerpt)
        chat.handle(received("mallory", "look", reply=claim))
    chat.flush()
    text = chat.messages.text
    ranges = text.tag_ranges("quote")
    assert len(ranges) == 6
    for start, end in zip(ranges[::2], ranges[1::2], strict=True):
        line = text.get(start, end)
        assert line.count("\n") == 1 and line.endswith("\n")  # one line each
        assert "\x1b" not in line and "\u202e" not in line and "\t" * 20 not in line
        assert len(line) < QUOTE_CHARS + 70
    assert "mallory⟨U+000A⟩bob  12:00" in shown(chat)
    assert "⟨U+202E⟩ecila" in shown(chat)


def test_the_quote_follows_the_theme(chat, root):
    from gui.theme import DARK

    chat.handle(
        received("carol", "x", reply=ReplyTo(message_id=next(_ids), sender="b", excerpt="y"))
    )
    chat.apply_palette(DARK)
    assert chat.messages.text.tag_cget("quote", "foreground") == DARK.muted
    assert str(chat.reply_bar.label.cget("foreground")) == DARK.muted
