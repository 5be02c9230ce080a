"""What a new message does while you are not looking at its room.

While the window is not focused (or, in a window of several rooms, while another room is
shown), a new message from someone else adds to the room's unread count, which the window's
title shows in front ("(3) SocketChat — alice in …", only while this room is the one shown)
and the room list beside it; unless the room is muted it rings the bell (Sound for new
messages) and raises a desktop notification (``notify(title, body)``: the app's
``gui/notify.py``); a message that mentions you (``@yourname``) always does, and so does a
private message ("bob (private)"), whatever the room's Mute switch says. Looking at the
room again (:meth:`Alerts.mark_read`) clears the count.

The chat window (``gui/chat.py``) owns one :class:`Alerts` and calls it on the Tk thread.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.chat_private import private_notification_title
from gui.chat_text import notification_text
from gui.links import mentions
from gui.safetext import display_name

if TYPE_CHECKING:
    from gui.chat import ChatWindow

#: ``notify(title, body)``: raise a desktop notification.
Notify = Callable[[str, str], None]


class Alerts:
    """``shown`` says whether the chat is the room shown (None: the window's only room);
    ``on_unread`` is told when the count changes (the app's room list); ``is_focused`` says
    whether the person is looking (default: whether the window has the focus)."""

    def __init__(
        self,
        chat: ChatWindow,
        *,
        notify: Notify | None,
        is_focused: Callable[[], bool] | None,
        shown: Callable[[], bool] | None,
        on_unread: Callable[[], None] | None,
    ) -> None:
        self._chat = chat
        self.notify = notify
        self._is_focused = is_focused or self._window_has_focus
        self._shown = shown
        self._on_unread = on_unread
        self.unread = 0
        self.notified: list[tuple[str, str]] = []  # (title, body) handed to notify, for tests

    def message(self, sender: str, text: str) -> None:
        """A new message from ``sender`` was shown: count it, and ring and notify unless the
        person is looking (or the room is muted and ``text`` does not mention them)."""
        chat = self._chat
        if self._is_focused():
            return
        self.unread += 1
        self.update_title()
        if self._on_unread is not None:
            self._on_unread()
        mentioned = mentions(text, chat.username)
        private = chat.private is not None
        if chat.muted.get() and not mentioned and not private:
            return  # a mention and a private message are for you: they always notify
        if chat.sound.get():
            chat.bell()
        title, body = notification_text(sender, text)
        if private:
            title = private_notification_title(sender)
        elif mentioned:
            title = f"{title} mentioned you"
        self.notified.append((title, body))
        del self.notified[:-50]
        if self.notify is not None:
            self.notify(title, body)

    def mark_read(self) -> None:
        """The person is looking at this room now: nothing is unread."""
        if self.unread:
            self.unread = 0
            self.update_title()
            if self._on_unread is not None:
                self._on_unread()

    def update_title(self) -> None:
        """Window title: the room, with the unread count in front while unfocused (only
        while this room is the one shown)."""
        if self._shown is not None and not self._shown():
            return
        chat = self._chat
        title = f"SocketChat — {display_name(chat.username)} in {chat.room}"
        if self.unread:
            title = f"({self.unread}) {title}"
        chat.winfo_toplevel().title(title)

    def _window_has_focus(self) -> bool:
        try:
            return self._chat.focus_displayof() is not None
        except (KeyError, tk.TclError):
            return False  # focus on a widget Tk cannot name (a menu being torn down)
