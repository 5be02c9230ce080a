"""Replies in a chat window: Reply on a message, the reply bar, and jumping to what a quote answers.

The conversation's menu (right-click, or Menu / Shift+F10 for the message at the insert mark,
else the last one) offers **Reply** on a message this conversation shows with an id: the reply
bar (``gui/reply_bar.py``) comes up above the compose box with "Replying to bob: …", and the
keyboard goes to the compose box; Enter sends the reply (``send_reply``: the room's
``ChatClient.send(..., reply_to=)``, or ``send_private``); ✕ or Esc in the compose box cancels
it. On a reply the menu also offers **Show the original message**. A click on a quote, Enter on
it, or that entry jumps to the original (scrolled to and lit up for a moment) if the
conversation holds it; otherwise the status line says :data:`gui.quotes.NOT_HERE`.

:class:`Replies` works on its chat window (``gui/chat.py``), on the Tk thread.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.conversation_menu import message_range
from gui.messages import FLASH_MS
from gui.quotes import NOT_HERE, reply_to
from net.client import Content, PendingMessage, ReplyContent, ReplyTo

if TYPE_CHECKING:
    from gui.chat import ChatWindow

#: ``send_reply(text, reply_to)``: send ``text`` as a reply (thread-safe, returns at once).
SendReply = Callable[[str, ReplyTo], PendingMessage]

REPLY = "Reply"
SHOW_ORIGINAL = "Show the original message"


def answered(content: Content) -> ReplyTo | None:
    """What a message's content answers (None: it is not a reply)."""
    return content.reply_to if isinstance(content, ReplyContent) else None


class Replies:
    """Made once by the chat window; ``send_reply`` sends a reply (None: Reply is not
    offered)."""

    def __init__(self, chat: ChatWindow, send_reply: SendReply | None) -> None:
        self._chat = chat
        self.send_reply = send_reply
        self._status_after: str | None = None

    def menu_entries(self, index: str) -> list[tuple[str, Callable[[], object]]]:
        """The conversation menu's entries for the spot ``index``: Reply on a message, Show
        the original message on a reply."""
        chat = self._chat
        messages = chat.messages
        entries: list[tuple[str, Callable[[], object]]] = []
        message_id = messages.message_id_at(index)
        if message_id is None:
            return entries
        if self.may_reply() and messages.originals.get(message_id) is not None:
            entries.append((REPLY, lambda: self.start(message_id)))
        original = self._quoted_in(index)
        if original is not None:
            entries.append((SHOW_ORIGINAL, lambda: self.jump(original)))
        return entries

    def may_reply(self) -> bool:
        return self.send_reply is not None and not self._chat.closed_for_good

    def start(self, message_id: bytes) -> bool:
        """Reply to ``message_id``: the bar above the compose box, the keyboard in the box.
        False if this conversation does not show that message (or cannot send)."""
        chat = self._chat
        original = chat.messages.originals.get(message_id)
        if original is None or not self.may_reply():
            return False
        chat.reply_bar.start(
            reply_to(message_id, original.sender, original.text), original.sender, original.text
        )
        chat.entry.focus_set()
        return True

    def on_escape(self, _event: tk.Event) -> str | None:
        """Esc in the compose box: cancel the reply being written, if any."""
        return "break" if self._chat.reply_bar.cancel() else None

    def sent(self) -> None:
        """The reply went out: the bar goes."""
        self._chat.reply_bar.clear()

    def jump(self, message_id: bytes) -> bool:
        """Show the message a quote answers (scrolled to, lit up); if the conversation does
        not hold it, the status line says so for a moment. True if it was shown."""
        chat = self._chat
        if chat.messages.show_message(message_id):
            return True
        before = chat.status.get()
        if before == NOT_HERE:
            before = ""
        chat.status.set(NOT_HERE)
        if self._status_after is not None:
            chat.after_cancel(self._status_after)
        self._status_after = chat.after(FLASH_MS, lambda: self._restore_status(before))
        return False

    def _restore_status(self, before: str) -> None:
        self._status_after = None
        chat = self._chat
        if chat.status.get() == NOT_HERE:
            chat.status.set(before)

    def _quoted_in(self, index: str) -> bytes | None:
        """The id the quote of the message under ``index`` answers (None: not a reply)."""
        messages = self._chat.messages
        text = messages.text
        here = messages.quoted_at(index)
        if here is not None:
            return here
        where = message_range(text, index)
        found = text.tag_nextrange("quote", *where) if where is not None else ()
        return messages.quoted_at(str(found[0])) if found else None

    def close(self) -> None:
        if self._status_after is not None:
            self._chat.after_cancel(self._status_after)
            self._status_after = None
