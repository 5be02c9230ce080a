"""Private conversations: one member and you, end to end, inside a room.

**Message privately** in a member's menu (``gui/member_commands.py``) opens the private
conversation with that member (:meth:`PrivateConversations.open`): a row of its own under the
room's in the room list ("bob (private)", with its own unread count; Ctrl+K finds it) and a
chat window of its own (``gui/chat_private.py``) that shows only the messages between the two
of you and sends with ``ChatClient.send_private``. A private message that arrives
(``MessageReceived.private_with``: the other person's key, for our own messages too) makes the
conversation if needed, counts as unread and always notifies, even in a muted room; it never
shows in the room's own conversation (:meth:`PrivateConversations.route` decides where each of
the room's events goes). Conversations are keyed by the other person's identity key, not the
name. After a reconnect the relay's history brings them back, and after a restart the local
history does (:meth:`PrivateConversations.show_kept`). If the other person left the room, the
conversation stays readable; what ``send_private`` says then (a remembered member gets it when
back, else it cannot be sent) is what the compose box says, in plain words.

:class:`PrivateConversations` works on the app (``gui/app.py``), on the Tk thread.
"""

from __future__ import annotations

import dataclasses
import tkinter as tk
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gui.attachments import RoomFiles
from gui.chat import ChatWindow
from gui.chat_private import PrivatePeer, not_in_room, private_title
from gui.room import PrivateConversation, Room, RoomActions, RoomTrust
from gui.safetext import display_name
from gui.theme import themed_menu
from net import client as ce
from net.client import NOT_FOR_US, PendingMessage, ReplyTo, StoredMessage, read_written

if TYPE_CHECKING:
    from gui.app import App

#: What the client says about the room's connection: every private conversation shows it too.
_CONNECTION = (ce.Joined, ce.Disconnected, ce.Connecting, ce.Queued, ce.Failed)


class PrivateConversations:
    """Made once by the app."""

    def __init__(self, app: App) -> None:
        self._app = app

    # -- finding and opening ------------------------------------------------------------------

    def of(self, token: int) -> tuple[Room, PrivateConversation] | None:
        """The room and private conversation of a room list's ``token`` (None: not one)."""
        for room in self._app.rooms:
            for private in room.privates.values():
                if private.token == token:
                    return room, private
        return None

    def open(self, room: Room, member: ce.Member) -> PrivateConversation:
        """Message privately (a member's menu): the conversation with ``member`` is shown,
        the keyboard in its compose box."""
        private = self.ensure(room, member.signing_key, member.name)
        self._app.views.focus_conversation(private.token)
        return private

    def ensure(self, room: Room, peer_key: bytes, name: str) -> PrivateConversation:
        """The room's private conversation with ``peer_key``, made (row and window) if new."""
        private = room.privates.get(peer_key)
        if private is None:
            private = room.privates[peer_key] = PrivateConversation(
                self._app.next_token(), peer_key, name
            )
            self.make_chat(room, private)
            self._app.views.refresh_rooms()
        elif private.chat is None:
            self.make_chat(room, private)
        return private

    def make_chat(self, room: Room, private: PrivateConversation) -> ChatWindow:
        """The conversation's chat window, in the state of the room's own."""
        app = self._app
        identity = app.identity
        own = room.chat
        room_id = room.room_id
        chat = ChatWindow(
            app.root,
            room=f"{private_title(private.name)} · {room.address}",
            room_title=private_title(private.name),
            username=own.username if own is not None else room.username,
            members=self._pair(room, private, own.members if own is not None else ()),
            send=lambda text: self.send(room, private, text),
            send_reply=lambda text, reply: self.send(room, private, text, reply),
            max_message_bytes=own.max_message_bytes if own is not None else 4000,
            palette=app.palette,
            sound=app.sound,
            notify=app.notifications.show,
            muted=room.muted,
            view_menu=lambda master: app.look.build_view_menu(master, room, private.token),
            is_focused=lambda: self._shown(room, private) and app.views.window_has_focus(),
            identity=identity.public if identity is not None else None,
            trust=RoomTrust(room, app.trust, room_id),
            on_reconnect=lambda: app.room_life.rejoin(room),
            on_trust_relay=lambda: app.room_life.trust_new_relay(room),
            actions=RoomActions(room, room_id),
            on_retry_now=lambda: app.room_life.retry_now(room),
            on_back=lambda: app.room_life.back_to_rooms(room),
            shown=lambda: self._shown(room, private),
            on_unread=app.views.refresh_rooms,
            joined=own.connected if own is not None else False,
            on_jump=app.views.open_jump,
            on_search=app.history_actions.open_search,
            private=PrivatePeer(private.peer_key, private.name),
            files=RoomFiles(lambda: room.client),
        )
        private.chat = chat
        if own is not None and own.failure is not None:
            chat.handle(own.failure)  # the room stopped for good: so did this conversation
        return chat

    def _shown(self, room: Room, private: PrivateConversation) -> bool:
        return self._app.current is room and room.view is private

    # -- sending --------------------------------------------------------------------------------

    def send(
        self, room: Room, private: PrivateConversation, text: str, reply: ReplyTo | None = None
    ) -> PendingMessage:
        """A private conversation's ``send``: ``send_private`` to the other person. Raises
        ``ValueError`` in plain words (not in the room, too long…), which the compose box says."""
        client = room.client
        if client is None:
            raise ValueError("Not connected to a room.")
        try:
            return client.send_private(private.peer_key, text, reply_to=reply)
        except ValueError as error:
            if not self._present(room, private):
                raise ValueError(not_in_room(private.name)) from error
            raise

    def _present(self, room: Room, private: PrivateConversation) -> bool:
        chat = room.chat
        return chat is not None and any(m.signing_key == private.peer_key for m in chat.members)

    # -- where the room's events go -----------------------------------------------------------

    def route(self, room: Room, event: ce.ClientEvent) -> ce.ClientEvent | None:
        """Show what of ``event`` belongs to the room's private conversations there; return
        what the room's own conversation shows (None: nothing)."""
        if isinstance(event, ce.MessageReceived):
            if event.private_with is None:
                return event
            name = event.sender if not event.own else event.private_name
            private = self.ensure(room, event.private_with, name or event.private_name)
            self._handle(private, event)
            return None
        if isinstance(event, ce.MessageStored | ce.MessageNotSent):
            for private in room.privates.values():
                if private.chat is not None and _holds(private.chat, event.message_id):
                    self._handle(private, event)
                    return None
            return event
        if isinstance(event, ce.NotSent | ce.OutboxRestored):
            return self._split(room, event)
        if isinstance(event, ce.TransferProgress | ce.TransferFinished | ce.TransferFailed):
            for private in room.privates.values():  # a file sent or saved from one of them
                if private.chat is not None and private.chat.attachments.has(event.transfer_id):
                    self._handle(private, event)
                    return None
            return event
        if isinstance(event, _CONNECTION):
            for private in room.privates.values():
                if isinstance(event, ce.Joined):
                    members = self._pair(room, private, event.members)
                    self._handle(private, dataclasses.replace(event, members=members))
                else:
                    self._handle(private, event)
            return event
        if isinstance(event, ce.MemberJoined | ce.MemberLeft):
            for private in room.privates.values():  # only the other person's comings and goings
                there = any(m.signing_key == private.peer_key for m in event.members)
                if there != self._listed(private):
                    members = self._pair(room, private, event.members)
                    self._handle(private, dataclasses.replace(event, members=members))
            return event
        return event

    def _split(
        self, room: Room, event: ce.NotSent | ce.OutboxRestored
    ) -> ce.NotSent | ce.OutboxRestored | None:
        """Messages handed back (or restored from the outbox) go to the conversation they
        were written in; the rest to the room's."""
        rest: list[PendingMessage] = []
        mine: dict[bytes, list[PendingMessage]] = {}
        for message in event.messages:
            private = self._written_in(room, message)
            if private is None:
                rest.append(message)
            else:
                mine.setdefault(private.peer_key, []).append(message)
        for key, messages in mine.items():
            self._handle(room.privates[key], dataclasses.replace(event, messages=tuple(messages)))
        if not rest and mine:
            return None
        return dataclasses.replace(event, messages=tuple(rest))

    def _written_in(self, room: Room, message: PendingMessage) -> PrivateConversation | None:
        """The private conversation our ``message`` was written in (None: the room's)."""
        for private in room.privates.values():
            if private.chat is not None and _holds(private.chat, message.message_id):
                return private
        identity = self._app.identity
        if identity is None:
            return None
        # One from an earlier run (the outbox on disk): a private box says whom it is for.
        readable = read_written(message, identity=identity, room_id=room.room_id)
        if readable is NOT_FOR_US or readable.private_with is None:
            return None
        return self.ensure(room, readable.private_with, readable.private_name)

    def _handle(self, private: PrivateConversation, event: ce.ClientEvent) -> None:
        if private.chat is not None:
            private.chat.handle(event)
            self._app.mark_dirty(private.chat)

    def _listed(self, private: PrivateConversation) -> bool:
        chat = private.chat
        return chat is not None and any(m.signing_key == private.peer_key for m in chat.members)

    def _pair(
        self, room: Room, private: PrivateConversation, members: Iterable[ce.Member]
    ) -> tuple[ce.Member, ...]:
        """The members a private conversation lists: you and the other person."""
        identity = self._app.identity
        mine = identity.signing_public if identity is not None else b""
        return tuple(m for m in members if m.signing_key in (mine, private.peer_key))

    # -- the local history ----------------------------------------------------------------------

    def show_kept(self, room: Room, kept: Iterable[StoredMessage]) -> None:
        """What this device kept of the room (oldest first): the room's messages in its
        conversation, each private one in its private conversation (made if needed)."""
        own: list[StoredMessage] = []
        private: dict[bytes, list[StoredMessage]] = {}
        names: dict[bytes, str] = {}
        for message in kept:
            if message.private_with is None:
                own.append(message)
                continue
            private.setdefault(message.private_with, []).append(message)
            name = message.private_name if message.own else message.sender
            if name:
                names[message.private_with] = name
        if room.chat is not None:
            room.chat.show_kept(own)
        for key, messages in private.items():
            conversation = self.ensure(room, key, names.get(key, ""))
            if conversation.chat is not None:
                conversation.chat.show_kept(messages)

    # -- the room list's menu -------------------------------------------------------------------

    def menu(self, room: Room, private: PrivateConversation) -> tk.Menu:
        """The room list's menu on a private conversation: Open, Verify bob…"""
        app = self._app
        menu = themed_menu(app.root, app.palette)
        menu.add_command(label="Open", command=lambda: app.views.focus_conversation(private.token))
        chat = private.chat
        view = chat.private_view if chat is not None else None
        menu.add_command(
            label=f"Verify {display_name(private.name)}…",
            command=view.verify if view is not None else _nothing,
            state="normal" if view is not None and view.member() is not None else "disabled",
        )
        return menu


def _nothing() -> None:
    pass


def _holds(chat: ChatWindow, message_id: bytes) -> bool:
    """Whether our message ``message_id`` is waiting (or not sent) in ``chat``."""
    return message_id in chat.pending or message_id in chat.unsent.texts
