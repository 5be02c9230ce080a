"""Messages that were not sent, in the chat window on real Tk, fed with the client's real
event objects: NotSent marks them (Retry and Copy, or a note when they are kept), Retry sends
through the room's current client, OutboxRestored and MessageStored follow them out. The whole
app against real relays is in test_app_lifecycle_e2e.py."""

from __future__ import annotations

import itertools

import pytest

from gui.app_quit import quit_question
from gui.chat import ChatWindow
from gui.chat_text import KEPT, SENDING, WAITING
from gui.connection import REJOIN
from gui.unsent import COPY, NOT_SENT, RETRY, RETRY_SENDING, SENT_AGAIN
from net.client import ClientStopped, PendingMessage
from net.client import events as ce
from net.client.events import ErrorKind
from tests.gui.conftest import joined, members_of, text_of

_ids = (i.to_bytes(16, "big") for i in itertools.count(1000))


class Sender:
    """Stands in for the current client's send: records, or raises like a stopped client."""

    def __init__(self) -> None:
        self.sent: list[PendingMessage] = []
        self.stopped = False

    def __call__(self, text: str) -> PendingMessage:
        if self.stopped:
            raise ClientStopped("This chat has been closed.", kind=None)
        message = PendingMessage(text=text, message_id=next(_ids), timestamp_ms=1_700_000_000_000)
        self.sent.append(message)
        return message


@pytest.fixture
def chat(root):
    sender = Sender()
    window = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=sender,
        on_reconnect=lambda: None,
    )
    window.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    window.handle(joined("alice", "bob"))
    root.update()
    window.sender = sender
    return window


def _write(chat, text: str) -> PendingMessage:  # the fixture's window, with .sender
    chat.entry.insert("1.0", text)
    assert chat.send_entry()
    return chat.sender.sent[-1]


def _fail_with(chat: ChatWindow, *messages: PendingMessage, kept: bool = False) -> None:
    chat.handle(ce.NotSent(messages=messages, reason="the room closed", kept=kept))
    chat.handle(ce.Failed(kind=ErrorKind.ROOM_CLOSED, message=""))
    chat.update()


def test_not_sent_messages_get_retry_and_copy_and_go_out_after_rejoin(chat, root):
    first, second = _write(chat, "first words"), _write(chat, "second\nwords")
    _fail_with(chat, first, second)
    shown = text_of(chat.messages.text)
    assert shown.count(NOT_SENT) == 2 and SENDING not in shown
    assert set(chat.unsent.texts) == {first.message_id, second.message_id}
    retry, copy = chat.unsent.buttons(second.message_id)
    assert retry.cget("text") == RETRY and copy.cget("text") == COPY
    assert retry.winfo_ismapped() and copy.winfo_ismapped()
    assert retry.instate(["disabled"]), "nothing to send through until Rejoin"
    copy.invoke()
    assert root.clipboard_get() == "second\nwords"

    chat.connection.buttons[REJOIN].invoke()
    chat.handle(joined("alice", "bob"))
    assert retry.instate(["!disabled"])
    retry.invoke()
    again = chat.sender.sent[-1]
    assert again.text == "second\nwords" and again.message_id != second.message_id
    assert second.message_id not in chat.unsent.texts
    assert not retry.winfo_exists()
    shown = text_of(chat.messages.text)
    assert SENT_AGAIN in shown and shown.count(NOT_SENT) == 1
    assert shown.rstrip().endswith(SENDING), "the new one is at the end, sending"
    chat.handle(ce.MessageStored(message_id=again.message_id))
    assert SENDING not in text_of(chat.messages.text)


def test_a_retry_that_cannot_be_sent_stays_marked(chat):
    lost = _write(chat, "into the void")
    _fail_with(chat, lost)
    chat.handle(joined("alice", "bob"))  # back in, but that client stops again at once
    chat.sender.stopped = True
    assert not chat.retry_message(lost.message_id)
    assert lost.message_id in chat.unsent.texts
    assert chat.limit_text.get() == "This chat has been closed."


def test_kept_messages_wait_for_the_next_client(chat):
    kept = _write(chat, "kept on disk")
    _fail_with(chat, kept, kept=True)
    assert KEPT in text_of(chat.messages.text)
    assert chat.unsent.texts == {} and chat.unsent.buttons(kept.message_id) is None
    # Rejoin: the new client restores them from the archive and sends them with their ids.
    chat.handle(ce.OutboxRestored(messages=(kept,)))
    chat.handle(joined("alice", "bob"))
    assert KEPT not in text_of(chat.messages.text) and SENDING in text_of(chat.messages.text)
    chat.handle(ce.MessageStored(message_id=kept.message_id))
    chat.handle(
        ce.MessageReceived(
            sender="alice",
            text="kept on disk",
            message_id=kept.message_id,
            timestamp_ms=kept.timestamp_ms,
            from_history=False,
            own=True,
        )
    )
    shown = text_of(chat.messages.text)
    assert SENDING not in shown and shown.count("kept on disk") == 1


def test_messages_kept_from_an_earlier_run_are_shown_as_waiting(chat):
    old = PendingMessage(text="from yesterday", message_id=next(_ids), timestamp_ms=1)
    chat.handle(ce.Disconnected(reason="gone", retry_in=5))
    chat.handle(ce.OutboxRestored(messages=(old,)))
    assert "from yesterday" in text_of(chat.messages.text)
    assert WAITING in text_of(chat.messages.text)
    assert chat.pending == {old.message_id: "from yesterday"}


def test_not_sent_from_the_keyboard(chat, root):
    lost = _write(chat, "press retry with the keyboard")
    _fail_with(chat, lost)
    chat.handle(joined("alice", "bob"))
    root.update()
    # Tab from the conversation reaches the message's Retry button.
    chat.messages.text.focus_force()
    root.update()
    chat.messages.text.event_generate("<Tab>")
    root.update()
    retry, _copy = chat.unsent.buttons(lost.message_id)
    assert root.focus_get() is retry
    # The context menu on the message offers the same.
    index = chat.messages.text.search("press retry", "1.0")
    menu = chat.messages.build_menu(index)
    labels = [
        menu.entrycget(i, "label")
        for i in range(menu.index("end") + 1)
        if menu.type(i) == "command"
    ]
    assert labels[:2] == [RETRY_SENDING, "Copy message"]
    menu.invoke(0)
    menu.destroy()
    assert chat.sender.sent[-1].text == "press retry with the keyboard"
    assert lost.message_id not in chat.unsent.texts


def test_an_archive_failure_is_said_once(chat):
    for _ in range(3):
        chat.handle(ce.ArchiveFailed(reason="disk full"))
    assert text_of(chat.messages.text).count("cannot keep this room's history") == 1


@pytest.mark.parametrize(
    ("lost", "kept", "words"),
    [
        (1, 0, "1 message you wrote has not reached the room yet. If you quit now, it will"),
        (3, 0, "3 messages you wrote have not reached the room yet. If you quit now, they"),
        (0, 2, "2 messages you wrote have not reached the room yet. They stay on this device"),
        (1, 2, "3 messages you wrote have not reached the room yet. If you quit now, 1 of them"),
    ],
)
def test_the_quit_question_says_what_is_lost_and_what_is_kept(lost, kept, words):
    assert quit_question(lost, kept).startswith(words)
