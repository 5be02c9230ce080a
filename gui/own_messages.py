"""Our own messages in a chat window, from the compose box until the relay stores them.

``send`` (the client's thread-safe ``send``; a reply being written goes with the chat
window's ``send_reply``) returns at once with the message's id and timestamp, the ones every
member will see; the message shows at once with a pending note —
"sending…", or "waiting: sent once the connection is back" while disconnected — until the
relay stores it (``MessageStored``, or our own echo), and :attr:`ChatWindow.pending` holds it
until then. Messages written in an earlier run, or before a Rejoin, come back from the
client's outbox (``OutboxRestored``) and go out with their first ids. When a client stops for
good with messages the relay never confirmed (``NotSent``), those kept on this device wait
for the next client with a note; the others are marked **Not sent** with Retry and Copy
(``gui/unsent.py``); Retry sends the text again through the room's current client.

:class:`OwnMessages` works on its chat window (``gui/chat.py``), on the Tk thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.chat_text import KEPT, SENDING, WAITING, message_size_problem
from net import client as ce
from net.client import PendingMessage, ReplyTo

if TYPE_CHECKING:
    from gui.chat import ChatWindow


class OwnMessages:
    """Made once by the chat window; ``send`` hands a text to the room's client."""

    def __init__(self, chat: ChatWindow, send: Callable[[str], PendingMessage]) -> None:
        self._chat = chat
        self._send = send

    def send_entry(self) -> bool:
        """Send what is in the compose box; returns whether it was accepted."""
        chat = self._chat
        text = chat.compose.text()
        if chat.closed_for_good:
            return False
        problem = message_size_problem(text, chat.max_message_bytes)
        if problem is not None:
            if text:
                chat.compose.show_limit(problem, error=True)
            return False
        reply = chat.reply_bar.reply
        send_reply = chat.replies.send_reply
        try:
            if reply is not None and send_reply is not None:
                message = send_reply(text, reply)
            else:
                message = self._send(text)
        except ValueError as error:
            chat.compose.show_limit(str(error), error=True)
            return False
        chat.pending[message.message_id] = text
        self._show(message, SENDING if chat.connected else WAITING, reply=reply)
        chat.replies.sent()
        chat.messages.follow_next()
        chat.messages.flush()
        chat.compose.sent(text)
        return True

    def retry(self, message_id: bytes) -> bool:
        """Retry on a message that was not sent: send its text again through the room's
        current client (a new message, at the end); False if that is not possible now."""
        chat = self._chat
        text = chat.unsent.texts.get(message_id)
        if text is None or chat.closed_for_good:
            return False
        try:
            message = self._send(text)
        except ValueError as error:
            chat.compose.show_limit(str(error), error=True)
            return False
        chat.unsent.resolve(message_id)
        chat.pending[message.message_id] = text
        self._show(message, SENDING if chat.connected else WAITING)
        chat.messages.follow_next()
        chat.messages.flush()
        return True

    def echoed(self, message_id: bytes) -> bool:
        """Our own message came back from the relay: True if it was waiting here (it is sent
        now), False if it is not ours to settle (shown as a message like any other)."""
        chat = self._chat
        if chat.pending.pop(message_id, None) is None:
            return False
        chat.messages.mark_delivered(message_id)
        return True

    def stored(self, message_id: bytes) -> None:
        """The relay stored our message: it is sent (its echo, if it comes, adds nothing)."""
        chat = self._chat
        if chat.pending.pop(message_id, None) is not None:
            chat.messages.mark_delivered(message_id)
        elif message_id in chat.unsent.texts:  # kept, handed back, and sent by a new client
            chat.unsent.resolve(message_id, "")
            chat.messages.mark_delivered(message_id)

    def not_sent(self, event: ce.MessageNotSent) -> None:
        chat = self._chat
        if chat.pending.pop(event.message_id, None) is not None:
            chat.messages.set_pending_note(event.message_id, f"not sent: {event.reason}")

    def outbox_restored(self, restored: tuple[PendingMessage, ...]) -> None:
        """Messages written in an earlier run (or before a Rejoin) and never confirmed: they
        go out now, with their first ids; shown as sending where they are, else at the end."""
        chat = self._chat
        note = SENDING if chat.connected else WAITING
        for message in restored:
            chat.pending[message.message_id] = message.text
            if chat.messages.seen(message.message_id):
                chat.messages.set_pending_note(message.message_id, note, tag="pendnote")
                continue
            self._show(message, note)

    def handed_back(self, event: ce.NotSent) -> None:
        """The client stopped for good with these unconfirmed: kept ones wait for the next
        client (a note), the others are marked Not sent with Retry and Copy."""
        chat = self._chat
        for message in event.messages:
            chat.pending.pop(message.message_id, None)
            if not chat.messages.seen(message.message_id):
                self._show(message, KEPT if event.kept else WAITING)
            if event.kept:
                chat.messages.set_pending_note(message.message_id, KEPT, tag="pendnote")
            else:
                chat.unsent.mark(message.message_id, message.text)
        if not event.kept and event.messages:
            chat.unsent.set_retry_enabled(False)  # a Failed follows; Rejoin enables them

    def _show(self, message: PendingMessage, note: str, *, reply: ReplyTo | None = None) -> None:
        # The id and timestamp the client gave it: the same the other members will see.
        chat = self._chat
        chat.messages.add_message(
            chat.username,
            message.text,
            message.timestamp_ms,
            own=True,
            message_id=message.message_id,
            pending=note,
            sender_key=chat.identity.signing_public if chat.identity is not None else b"",
            reply=reply,
        )
