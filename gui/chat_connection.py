"""A chat window's connection: joined, lost, back, stopped for good, and what the person does.

:class:`ConnectionEvents` shows the client's events about the connection in its chat window
(``gui/chat.py``), on the Tk thread:

- ``Joined``: the members and the room's setting, "You joined the room as …" the first time;
  after a loss the conversation's one line about it becomes "Connection lost at 14:02: the
  relay is restarting. Back at 14:03.", and waiting messages are sending again;
- ``Disconnected``: that one line (one per loss, however many attempts follow), and the
  banner (``gui/connection.py``) counting down to the next attempt with **Retry now**
  (``on_retry_now``, Ctrl+R); ``Connecting`` and ``Queued`` update the banner;
- ``Failed`` (the client stopped for good): "Disconnected: …" in place of the loss line, Send
  and Retry disabled, and the banner with what can be done: **Rejoin** (``on_reconnect``: a new
  client with the same keys), or **Trust the new relay and connect** (``on_trust_relay``) when
  the relay is not the one joined before, and **Back to rooms** (``on_back``). A member who was
  removed gets no Rejoin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.chat_text import SENDING, WAITING, loss_reason
from gui.connection import BACK_TO_ROOMS, REJOIN, Action
from gui.errors import TRUST_NEW_RELAY, failure_text, may_reconnect
from gui.messages import format_time
from gui.safetext import display_name
from net import client as ce
from net.client import ErrorKind

if TYPE_CHECKING:
    from gui.chat import ChatWindow


class ConnectionEvents:
    """Made once by the chat window, with the app's answers to its buttons (None: not
    offered)."""

    def __init__(
        self,
        chat: ChatWindow,
        *,
        on_reconnect: Callable[[], None] | None,
        on_trust_relay: Callable[[], None] | None,
        on_retry_now: Callable[[], None] | None,
        on_back: Callable[[], None] | None,
    ) -> None:
        self._chat = chat
        self._on_reconnect = on_reconnect
        self._on_trust_relay = on_trust_relay
        self.on_retry_now = on_retry_now
        self._on_back = on_back
        # The conversation's one line about the current loss of connection, updated in place
        # when it is back: (its key, when it was lost, why). None while connected.
        self._outage: tuple[str, str, str] | None = None
        self._outages = 0

    def joined(self, event: ce.Joined) -> None:
        chat = self._chat
        chat.messages.start_session()
        chat.member_events.listed(tuple(event.members))
        chat.header.show_room_setting(event.history_for_newcomers)
        self.set_connected(True)
        if chat.closed_for_good:  # joined again after a final failure (Rejoin)
            chat.closed_for_good = False
            chat.failure = None
            chat.compose.set_sendable(True)
            chat.unsent.set_retry_enabled(True)
        chat.max_message_bytes = event.max_message_bytes
        outage, self._outage = self._outage, None
        if event.reconnected:
            if outage is not None:
                key, since, reason = outage
                chat.messages.replace_notice(
                    key, f"Connection lost at {since}: {reason}. Back at {_now()}."
                )
        elif chat.private is None:  # a private conversation is not the room's
            chat.messages.add_notice(
                f"You joined the room as {display_name(event.your_name)}.", "good"
            )
        for message_id in chat.pending:  # waiting ones, and any kept from before: going out
            chat.messages.set_pending_note(message_id, SENDING, tag="pendnote")

    def disconnected(self, event: ce.Disconnected) -> None:
        chat = self._chat
        if chat.closed_for_good:
            return  # a late event from a client that has already stopped
        self.set_connected(False)
        if self._outage is None:  # one line per loss, however many attempts follow
            self._outages += 1
            key = f"outage{self._outages}"
            reason = loss_reason(event.reason)
            self._outage = (key, _now(), reason)
            chat.messages.add_notice(f"Connection lost at {_now()}: {reason}.", "warning", key=key)
        for message_id in chat.pending:
            chat.messages.set_pending_note(message_id, WAITING)
        chat.connection.waiting(event.retry_in)

    def connecting(self) -> None:
        chat = self._chat
        if not chat.connected and not chat.closed_for_good:
            chat.connection.connecting()

    def queued(self, position: int) -> None:
        if not self._chat.connected:
            self._chat.connection.queued(position)

    def failed(self, event: ce.Failed) -> None:
        chat = self._chat
        self.set_connected(False)
        chat.closed_for_good = True
        chat.failure = event
        chat.unsent.set_retry_enabled(False)
        text = failure_text(event.kind, event.message, username=chat.username)
        outage, self._outage = self._outage, None
        if outage is None or not chat.messages.replace_notice(
            outage[0], f"Disconnected: {text}", "warning"
        ):
            chat.messages.add_notice(f"Disconnected: {text}", "warning")
        for message_id in chat.pending:
            chat.messages.set_pending_note(message_id, "not sent: disconnected")
        chat.pending.clear()
        chat.compose.set_sendable(False)
        actions: list[Action] = []
        if event.kind is ErrorKind.RELAY_CHANGED and self._on_trust_relay is not None:
            actions.append((TRUST_NEW_RELAY, self._on_trust_relay))
            chat.status.set("Disconnected: this is not the relay you joined before.")
        elif not may_reconnect(event.kind):  # removed: joining again cannot work
            chat.status.set("Disconnected for good: this device cannot join the room again.")
        elif self._on_reconnect is not None:
            actions.append((REJOIN, self.reconnect))
            chat.status.set("Disconnected. Rejoin when the room is back.")
        else:
            chat.status.set("Disconnected.")
        if self._on_back is not None:
            actions.append((BACK_TO_ROOMS, self._on_back))
        chat.connection.failed(f"Disconnected: {text}", actions)

    def reconnect(self) -> None:
        """Rejoin after a final failure: the app starts a new client with the same settings,
        keys, identity and trust; its events arrive as usual (``Joined``, or another
        ``Failed`` if the room is not back yet)."""
        chat = self._chat
        if self._on_reconnect is None or not chat.closed_for_good:
            return
        chat.connection.connecting()
        chat.status.set("Rejoining…")
        self._on_reconnect()

    def retry_now(self) -> None:
        """Retry now in the banner: the client stops waiting and tries at once."""
        chat = self._chat
        if self.on_retry_now is not None and not chat.connected and not chat.closed_for_good:
            self.on_retry_now()

    def set_connected(self, connected: bool) -> None:
        """The banner, the status line and the encryption line, for a connection that is
        there or not."""
        chat = self._chat
        chat.connected = connected
        chat.header.show_connected(connected, chat.palette)
        if connected:
            chat.connection.hide()
            chat.status.set(f"Connected as {display_name(chat.username)}")
        else:
            chat.status.set("Not connected")


def _now() -> str:
    return format_time(int(time.time() * 1000))
