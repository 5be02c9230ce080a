"""Messages the client handed back as not sent, marked in the conversation where they are.

When a client stops for good with messages the relay never confirmed, it hands them back
(``NotSent``). Those kept on this device (an archive) go out by themselves with the next
client for the room: they only need a note. The others exist nowhere else: each gets
"Not sent" in the warning colour and two small buttons in its line, **Retry** (send the text
again through the room's current client: the chat window's ``retry``) and **Copy** (the text
to the clipboard). The buttons are real ttk buttons inside the conversation, so Tab from the
conversation reaches them; the conversation's context menu (Menu / Shift+F10) on such a
message offers "Retry sending" and "Copy message" too.

Retry needs a live client: while the room is disconnected for good the Retry buttons are
disabled (:meth:`UnsentMessages.set_retry_enabled`; Rejoin first). A message sent again
keeps its old line, noted "sent again below"; the new one is at the end, like any message
sent now.

Only the Tk thread calls this. The chat window owns one, next to its :class:`MessageList`.
"""

from __future__ import annotations

from collections.abc import Callable
from tkinter import ttk

from gui.messages import MessageList

NOT_SENT = "Not sent"
RETRY = "Retry"
COPY = "Copy"
RETRY_SENDING = "Retry sending"
SENT_AGAIN = "sent again below"


class UnsentMessages:
    """The conversation's not-sent messages: :meth:`mark` one that is on screen with a
    pending note, :meth:`resolve` it once sent again. ``retry(message_id)`` is the chat
    window's (it sends the text, then calls :meth:`resolve`)."""

    def __init__(self, messages: MessageList, *, retry: Callable[[bytes], object]) -> None:
        self._messages = messages
        self._retry = retry
        #: message id -> its text, for every message marked and not sent again yet.
        self.texts: dict[bytes, str] = {}
        self._buttons: dict[bytes, tuple[ttk.Button, ttk.Button]] = {}
        self._retry_enabled = True
        messages.menu_extras = self._menu_entries

    def mark(self, message_id: bytes, text: str) -> None:
        """``message_id`` (shown with a pending note) was not sent: say so, offer Retry and
        Copy in its line."""
        if message_id in self.texts:
            return
        self.texts[message_id] = text
        messages = self._messages
        messages.set_pending_note(message_id, NOT_SENT, tag="notsent")
        where = messages.note_end(message_id)
        if where is None:
            return  # trimmed away: still counted, still listed for the quit question
        box = messages.text
        retry = ttk.Button(
            box, text=RETRY, style="Inline.TButton", command=lambda: self.retry(message_id)
        )
        copy = ttk.Button(
            box, text=COPY, style="Inline.TButton", command=lambda: self.copy(message_id)
        )
        retry.state(["!disabled"] if self._retry_enabled else ["disabled"])
        box.configure(state="normal")
        try:
            box.window_create(where, window=copy, padx=4, align="center")
            box.window_create(where, window=retry, padx=4, align="center")
        finally:
            box.configure(state="disabled")
        self._buttons[message_id] = (retry, copy)

    def resolve(self, message_id: bytes, note: str = SENT_AGAIN) -> None:
        """``message_id`` was sent again (or went out after all): its buttons go, its note
        says ``note``."""
        if self.texts.pop(message_id, None) is None:
            return
        buttons = self._buttons.pop(message_id, None)
        box = self._messages.text
        if buttons is not None:
            box.configure(state="normal")
            try:
                for button in buttons:
                    box.delete(str(button))  # an embedded window is its own index
                    button.destroy()
            finally:
                box.configure(state="disabled")
        self._messages.set_pending_note(message_id, note, tag="pendnote")

    def retry(self, message_id: bytes) -> None:
        """Retry: the chat window sends the text again (and resolves this one)."""
        self._retry(message_id)

    def copy(self, message_id: bytes) -> None:
        """Copy: the message's text, exactly as written, to the clipboard."""
        text = self.texts.get(message_id)
        if text is not None:
            self._messages.copy_text(text)
            self._messages.flash("Copied the message that was not sent.")

    def set_retry_enabled(self, enabled: bool) -> None:
        """Retry only while the room has a client to send through."""
        self._retry_enabled = enabled
        for retry, _copy in self._buttons.values():
            retry.state(["!disabled"] if enabled else ["disabled"])

    def buttons(self, message_id: bytes) -> tuple[ttk.Button, ttk.Button] | None:
        """Retry and Copy of ``message_id`` (tests press them), or None."""
        return self._buttons.get(message_id)

    def _menu_entries(self, index: str) -> list[tuple[str, Callable[[], None]]]:
        message_id = self._messages.pending_id_at(index)
        if message_id is None or message_id not in self.texts:
            return []
        entries: list[tuple[str, Callable[[], None]]] = []
        if self._retry_enabled:
            entries.append((RETRY_SENDING, lambda: self.retry(message_id)))
        entries.append(("Copy message", lambda: self.copy(message_id)))
        return entries
