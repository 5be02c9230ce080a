"""The message list and the chat window on real Tk widgets (Xvfb), fed with real event objects.

The client is replaced by a recording ``send`` function: these tests are about what the
window shows. The end-to-end tests in test_app_e2e.py use the real relay and client.
"""

from __future__ import annotations

import itertools
import time

import pytest

from gui.chat import ChatWindow
from gui.chat_text import SENDING, WAITING, message_size_problem
from gui.messages import MessageList, format_time, key_colour
from net.client import PendingMessage, Trust
from net.client import events as ce
from net.client.events import ErrorKind
from tests.gui.conftest import identity_of, joined, member, members_of, text_of

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(1))


def received(
    sender: str,
    text: str,
    *,
    own: bool = False,
    history: bool = False,
    message_id: bytes | None = None,
    trust: Trust = Trust.KNOWN,
) -> ce.MessageReceived:
    return ce.MessageReceived(
        sender=sender,
        text=text,
        message_id=message_id or next(_ids),
        timestamp_ms=NOW_MS,
        from_history=history,
        own=own,
        sender_key=identity_of(sender).signing_public,
        trust=trust,
    )


class Sender:
    """Stands in for ChatClient.send: records texts, returns them as PendingMessages."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str]] = []

    def __call__(self, text: str) -> PendingMessage:
        message_id = next(_ids)
        self.sent.append((message_id, text))
        return PendingMessage(text=text, message_id=message_id, timestamp_ms=NOW_MS)


@pytest.fixture
def chat(root):
    sender = Sender()
    focused = {"value": True}
    clock = {"now": 100.0}
    window = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=sender,
        max_message_bytes=100,
        is_focused=lambda: focused["value"],
        clock=lambda: clock["now"],
    )
    window.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    root.update()
    window.sender, window.focused, window.clock = sender, focused, clock
    return window


def feed(window: ChatWindow, *events) -> None:
    for event in events:
        window.handle(event)
    window.flush()
    window.update()


# -- message list ------------------------------------------------------------------------


def test_messages_show_sender_time_and_text_with_unicode(root):
    messages = MessageList(root)
    messages.pack(fill="both", expand=True)
    bob = identity_of("bob").signing_public
    messages.add_message("bob", "hi 👋 ça va? 中文", NOW_MS, sender_key=bob)
    messages.add_message("bob", "second line\nthird line", NOW_MS, sender_key=bob)
    messages.flush()
    content = text_of(messages.text)
    assert content.startswith(f"bob  {format_time(NOW_MS)}\nhi 👋 ça va? 中文\n")
    assert content.count("bob") == 1, "consecutive messages from one sender share a header"
    assert "second line\nthird line" in content
    assert f"name{key_colour(bob)}" in messages.text.tag_names("1.0")


def test_list_is_read_only_but_selectable_and_copyable(root):
    messages = MessageList(root)
    messages.pack(fill="both", expand=True)
    messages.add_message("bob", "copy me 🙂", NOW_MS)
    root.update()
    assert str(messages.text.cget("state")) == "disabled"
    messages.text.insert("end", "typed")  # ignored while disabled
    assert "typed" not in text_of(messages.text)
    start = messages.text.search("copy me", "1.0")
    messages.text.tag_add("sel", start, f"{start}+9c")
    messages.copy_selection()
    assert root.clipboard_get() == "copy me 🙂"
    messages.select_all()
    assert messages.text.tag_ranges("sel")


def test_history_divider_and_duplicates_after_reconnect(root):
    messages = MessageList(root)
    messages.pack(fill="both", expand=True)
    old = next(_ids)
    messages.start_session()
    assert messages.add_message("bob", "from before", NOW_MS, from_history=True, message_id=old)
    messages.add_notice("You joined the room as alice.", "good")
    messages.start_session()
    assert not messages.add_message("bob", "from before", NOW_MS, from_history=True, message_id=old)
    content = text_of(messages.text)
    assert content.count("── earlier messages ──") == 1
    assert content.count("from before") == 1


def test_pending_then_delivered(root):
    messages = MessageList(root)
    messages.pack(fill="both", expand=True)
    message_id = next(_ids)
    messages.add_message(
        "alice", "on its way", NOW_MS, own=True, message_id=message_id, pending=SENDING
    )
    assert SENDING in text_of(messages.text)
    messages.set_pending_note(message_id, WAITING)
    assert WAITING in text_of(messages.text) and SENDING not in text_of(messages.text)
    assert messages.mark_delivered(message_id)
    assert WAITING not in text_of(messages.text)
    assert "on its way" in text_of(messages.text)
    assert not messages.text.tag_ranges("pending")
    assert not messages.mark_delivered(message_id)


def test_bounded_lines_cut_whole_messages(root):
    messages = MessageList(root, max_lines=50)
    messages.pack(fill="both", expand=True)
    for number in range(200):
        messages.add_message(f"user{number % 3}", f"line a {number}\nline b {number}", NOW_MS)
        messages.flush()
    lines = int(messages.text.index("end-1c").split(".")[0])
    assert lines <= 50
    first = messages.text.get("1.0", "1.end")
    assert first.startswith("user"), f"the list starts mid-message: {first!r}"
    assert "line b 199" in text_of(messages.text)


def test_follows_new_messages_unless_scrolled_up(root):
    messages = MessageList(root)
    messages.pack(fill="both", expand=True)
    root.update()
    for number in range(80):
        messages.add_message("bob", f"message {number}", NOW_MS)
    messages.flush()
    root.update()
    assert messages.at_end()

    messages.text.yview_moveto(0.0)
    root.update()
    assert not messages.at_end()
    messages.add_message("carol", "while you read", NOW_MS)
    messages.flush()
    root.update()
    assert not messages.at_end(), "scrolled-up reading position is kept"
    assert "── new messages ──" in text_of(messages.text)
    assert messages.unseen == 1
    assert messages.jump_button.winfo_ismapped()

    messages.scroll_to_end()
    root.update()
    assert messages.at_end()
    assert messages.unseen == 0
    assert not messages.jump_button.winfo_ismapped()


# -- chat window -------------------------------------------------------------------------


def test_enter_sends_and_shift_enter_adds_a_line(chat):
    chat.entry.focus_force()
    chat.entry.insert("1.0", "first")
    chat.entry.event_generate("<Shift-Return>")
    chat.entry.insert("end", "second 🎉")
    chat.entry.event_generate("<Return>")
    chat.update()
    assert chat.sender.sent[0][1] == "first\nsecond 🎉"
    assert text_of(chat.entry) == ""
    content = text_of(chat.messages.text)
    assert "first\nsecond 🎉" in content and SENDING in content

    message_id = chat.sender.sent[0][0]
    feed(chat, received("alice", "first\nsecond 🎉", own=True, message_id=message_id))
    content = text_of(chat.messages.text)
    assert SENDING not in content
    assert content.count("second 🎉") == 1, "the relay's echo marks delivery, not a copy"


def test_message_length_limit_is_clear(chat):
    assert message_size_problem("   ", 100) == "Type a message first."
    assert "too long by 1 bytes" in message_size_problem("x" * 101, 100)
    chat.entry.insert("1.0", "é" * 60)  # 120 bytes
    chat.update()
    assert "Too long by 20 bytes" in chat.limit_text.get()
    assert not chat.send_entry()
    assert chat.sender.sent == []
    assert "too long" in chat.limit_text.get()
    chat.entry.delete("1.0", "end")
    chat.entry.insert("1.0", "x" * 90)
    chat.update()
    assert chat.limit_text.get() == "10 bytes left"


def test_presence_members_and_notices(chat):
    assert chat.member_title.get() == "Members (2)"
    assert chat.member_list.get(0, "end") == ("alice (you)", "bob")
    feed(
        chat,
        ce.MemberJoined(member=member("carol"), members=members_of("alice", "bob", "carol")),
        ce.MemberLeft(name="bob", members=members_of("alice", "carol"), reason="left"),
        ce.MemberLeft(name="carol", members=members_of("alice"), reason="connection lost"),
        ce.AloneInRoom(),
        ce.RateLimited(text="slow down"),
        ce.ForgedMessage(
            claimed_sender="bob", message_id=next(_ids), why="signature does not verify"
        ),
    )
    content = text_of(chat.messages.text)
    for words in (
        "carol joined the room.",
        "bob left the room.",
        "You are alone in the room",
        "slow down",
        "claiming to come from bob was dropped: it failed verification (signature does not verify)",
    ):
        assert words in content
    assert chat.member_title.get() == "Members (1)"
    warning = chat.messages.text.tag_ranges("warning")
    assert warning, "rate limiting and forgeries are styled as warnings"


def test_disconnect_countdown_pending_and_reconnect(chat):
    before = text_of(chat.messages.text).count("\n")
    feed(chat, ce.Disconnected(reason="connection lost", retry_in=4.0))
    assert not chat.connected
    assert chat.connection.shown and chat.banner_texts == ["Reconnecting in 4 s…"]
    assert list(chat.connection.buttons) == []  # no Retry now without a client to ask
    assert chat.status.get() == "Not connected"
    assert chat.encryption.get() == "○ Not connected"
    assert "Connection lost at" in text_of(chat.messages.text)

    chat.clock["now"] += 2.2
    chat.connection.tick()
    assert chat.banner_texts == ["Reconnecting in 2 s…"]

    chat.entry.insert("1.0", "typed while offline")
    assert chat.send_entry()
    assert WAITING in text_of(chat.messages.text)

    feed(chat, ce.Connecting(attempt=2))
    assert chat.banner_texts == ["Connecting…"]
    feed(chat, ce.Disconnected(reason="connection refused", retry_in=8.0))
    feed(chat, ce.Connecting(attempt=3))
    feed(chat, ce.Queued(position=7))  # a relay just restarted: everyone is back at once
    assert chat.banner_texts == ["Reconnecting: number 7 in line…"]
    feed(
        chat,
        joined("alice", "bob", reconnected=True, max_message_bytes=100),
    )
    assert chat.connected and not chat.connection.shown and chat.banner_texts == []
    assert chat.status.get() == "Connected as alice"
    content = text_of(chat.messages.text)
    # One line for the whole loss, however many attempts: updated once it is back.
    assert content.count("Connection lost") == 1
    assert "Connection lost at" in content and ": connection lost. Back at" in content
    assert "attempt" not in content and "Reconnecting" not in content
    assert content.count("\n") == before + 3  # that line, and the header and body typed
    assert SENDING in content and WAITING not in content
    message_id = chat.sender.sent[-1][0]
    feed(chat, received("alice", "typed while offline", own=True, message_id=message_id))
    assert SENDING not in text_of(chat.messages.text)


def test_a_message_the_room_refuses_is_marked_not_sent(chat):
    chat.entry.insert("1.0", "a long story")
    assert chat.send_entry()
    message_id = chat.sender.sent[-1][0]
    feed(
        chat,
        ce.MessageNotSent(
            message_id=message_id, reason="this room accepts messages of at most 100 bytes"
        ),
    )
    content = text_of(chat.messages.text)
    assert "not sent: this room accepts messages of at most 100 bytes" in content
    assert SENDING not in content
    assert message_id not in chat.pending


def test_final_failure_disables_sending(chat):
    feed(chat, ce.Failed(kind=ErrorKind.ROOM_CLOSED, message="The host closed the room."))
    assert "The host closed the room" in text_of(chat.messages.text)
    assert chat.status.get() == "Disconnected."
    assert chat.banner_texts[0].startswith("Disconnected: The host closed the room.")
    assert chat.connection.buttons == {}  # this window was given nothing to offer
    chat.entry.insert("1.0", "anyone?")
    assert not chat.send_entry()


def test_unread_count_in_title_while_unfocused(chat):
    root = chat.winfo_toplevel()
    assert root.title() == "SocketChat — alice in example.org:7777"
    chat.focused["value"] = False
    feed(
        chat,
        received("bob", "one"),
        received("bob", "two"),
        received("bob", "old", history=True),
        received("alice", "mine", own=True),
    )
    assert chat.unread == 2
    assert root.title() == "(2) SocketChat — alice in example.org:7777"
    chat.focused["value"] = True
    chat._on_focus_in(None)
    assert root.title() == "SocketChat — alice in example.org:7777"


def test_sound_rings_only_when_enabled(chat, monkeypatch):
    rings: list[bool] = []
    monkeypatch.setattr(chat, "bell", lambda: rings.append(True))
    chat.focused["value"] = False
    feed(chat, received("bob", "quiet"))
    assert rings == []
    chat.sound.set(True)
    feed(chat, received("bob", "loud"))
    assert rings == [True]


def test_an_event_type_the_window_does_not_handle_is_a_bug_not_a_silent_drop(chat):
    # Dispatch is a checked `match` (mypy proves every ClientEvent is handled); anything else
    # reaching the window raises, so the pump reports it instead of the chat going quiet.
    class Future:
        pass

    before = text_of(chat.messages.text)
    with pytest.raises(AssertionError, match="unreachable"):
        feed(chat, Future())
    assert text_of(chat.messages.text) == before


# -- messages whose key has not come yet -------------------------------------------------


def test_locked_history_is_one_counted_line_that_fills_in_where_it_was(chat):
    first, second, third = next(_ids), next(_ids), next(_ids)
    feed(
        chat,
        joined("alice", "bob"),
        *(
            ce.MessageLocked(sender="carol", message_id=m, from_history=True)
            for m in (first, second, third)
        ),
        ce.MessageLocked(sender="carol", message_id=second, from_history=True),  # told again
        received("bob", "live after the history"),
    )
    content = text_of(chat.messages.text)
    assert "3 earlier messages: readable once a member who was here comes online." in content
    assert chat.messages.locked_count == 3
    feed(chat, received("carol", "the first", history=True, message_id=first))
    feed(chat, received("carol", "the second", history=True, message_id=second))
    content = text_of(chat.messages.text)
    assert "1 earlier message: readable once" in content
    # In place: before the live message that came after them, in the order they opened.
    assert content.index("the first") < content.index("the second") < content.index("live after")
    feed(chat, ce.ForgedMessage(claimed_sender="carol", message_id=third, why="forged"))
    content = text_of(chat.messages.text)
    assert "readable once" not in content and chat.messages.locked_count == 0
    assert "failed verification" in content  # said once, its content never shown


def test_a_locked_live_message_has_its_own_line_and_takes_its_place(chat):
    waiting = next(_ids)
    feed(
        chat,
        joined("alice", "bob"),
        ce.MessageLocked(sender="b\u202eob", message_id=waiting, from_history=False),
        received("bob", "a later one"),
    )
    content = text_of(chat.messages.text)
    assert "cannot read yet: it appears here when its key arrives" in content
    assert "\u202e" not in content  # the name is shown as hostile text, with a marker
    feed(chat, received("bob", "the one that waited", message_id=waiting))
    content = text_of(chat.messages.text)
    assert "cannot read yet" not in content
    assert content.index("the one that waited") < content.index("a later one")
    assert not chat.messages.add_message("bob", "again", NOW_MS, message_id=waiting)


def test_a_locked_message_that_was_private_between_others_leaves_no_trace(chat):
    waiting, unseen = next(_ids), next(_ids)
    feed(
        chat,
        joined("alice", "bob"),
        ce.MessageLocked(sender="bob", message_id=waiting, from_history=False),
        received("bob", "a later one"),
    )
    assert chat.messages.locked_count == 1
    before_unseen = text_of(chat.messages.text)
    feed(chat, ce.MessageHidden(message_id=unseen))  # never announced: nothing changes
    assert text_of(chat.messages.text) == before_unseen
    feed(chat, ce.MessageHidden(message_id=waiting))  # its key came: bob wrote to carol
    content = text_of(chat.messages.text)
    assert "cannot read yet" not in content and chat.messages.locked_count == 0
    assert "failed verification" not in content and "a later one" in content


def test_a_member_who_did_not_prove_the_password_is_a_loud_warning(chat):
    feed(chat, joined("alice", "bob"), ce.UnprovenMember(name="eve\u200b"))
    content = text_of(chat.messages.text)
    assert "did not prove they know the room password" in content
    assert "\u200b" not in content
    ranges = chat.messages.text.tag_ranges("warning")
    assert ranges and "did not prove" in chat.messages.text.get(ranges[-2], ranges[-1])
