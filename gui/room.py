"""One room of the window: what the app keeps for it, on the Tk thread.

The app (``gui/app.py``) holds a :class:`Room` for every room in its room list: joined from the
login view, hosted here, or remembered (``gui/saved.py``) and opened by itself. Each room has
its own client (:class:`net.client.ChatClient`), its own relay when it is hosted here
(:class:`net.relay.RelayThread`, with the router and the announcement), its own chat window
(made when the room is first shown or joins, so that twenty remembered rooms cost nothing at
start) and its own mute switch. Only the current room's chat window is gridded.

A room may have private conversations (``gui/app_private.py``): each has its own row under the
room's in the list and its own chat window; :attr:`Room.view` says which of the room's
conversations is shown while the room is current.

Events reach a room through the pump tagged with the generation of the client (or room start)
that produced them; a room forgets a generation when it starts another client (Rejoin), so an
old client's late events are dropped. Events that come before the room's chat window exists
wait in :attr:`Room.early` and are replayed to it, in order.

:class:`RoomTrust` and :class:`RoomActions` are what a chat window asks of its room: trust
decisions and the owner's and admins' actions go to the room's current client when it is in
the room, else (trust) straight to the trust store.
"""

from __future__ import annotations

import tkinter as tk

from gui.around import HostedServices
from gui.chat import ChatWindow
from gui.host import HostRequest
from gui.hosting import RoomStarter
from gui.invite import InvitePanel
from gui.login import LoginRequest
from gui.reach import ReachState
from gui.roomlist import RoomRow, RoomState
from gui.saved import IndexEntry, SavedRoom
from gui.validate import format_address
from net import client as ce
from net.client import ChatClient, Trust, TrustStore
from net.relay import RelayThread

#: What the room's chat window says in the conversation before it exists, at most: events
#: before joining are few (connecting, key changes, kept messages, a failure).
MAX_EARLY = 500

NOT_IN_THE_ROOM = "You are not in the room right now: reconnect first."


class PrivateConversation:
    """A private conversation in a room (``gui/app_private.py``): the other person's key and
    name, its own token in the room list, its own chat window once made."""

    def __init__(self, token: int, peer_key: bytes, name: str) -> None:
        self.token = token
        self.peer_key = peer_key
        self.name = name
        self.chat: ChatWindow | None = None

    def row(self, room: Room) -> RoomRow:
        unread = self.chat.unread if self.chat is not None else 0
        return RoomRow(
            self.token, self.name, room.state, unread, private=True, room_label=room.label
        )


class Room:
    """A room of the window (one per row of the room list). The app fills it in and moves it
    through its life; nothing here touches the network or Tk widgets except :meth:`drop_chat`."""

    def __init__(self, token: int, root: tk.Misc, *, label: str = "") -> None:
        self.token = token
        self.label = label
        #: The generation of the room's current client or start; older ones are dropped.
        self.generation = 0
        self.state = RoomState.CONNECTING
        #: Joined from the login view: its host, port, password (to rejoin a relay that
        #: made a new room), name, and the invite's room id and relay key.
        self.request: LoginRequest | None = None
        #: Hosted here: what the host dialog asked for, the relay, its start, its reach.
        self.hosting: HostRequest | None = None
        self.relay: RelayThread | None = None
        self.starter: RoomStarter | None = None
        self.reach: ReachState | None = None
        self.hosted: HostedServices | None = None
        self.invite: InvitePanel | None = None
        #: Remembered on this device: its index entry, and its record once the keyring
        #: gave it (the keys to join again without the password).
        self.entry: IndexEntry | None = None
        self.saved: SavedRoom | None = None
        self.client: ChatClient | None = None
        self.kept = False  # the client keeps its outbox on disk (the local history)
        self.chat: ChatWindow | None = None
        #: Its private conversations, by the other person's signing key, in the order opened;
        #: ``view`` is the one shown while the room is current (None: the room's own).
        self.privates: dict[bytes, PrivateConversation] = {}
        self.view: PrivateConversation | None = None
        self.early: list[ce.ClientEvent] = []
        self.room_id = b""  # once joined (or remembered)
        self.muted = tk.BooleanVar(root, False)
        self.unread_seen = 0  # the unread count the list last showed

    # -- what it is ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        if self.request is not None:
            return self.request.host
        return self.entry.host if self.entry is not None else ""

    @property
    def port(self) -> int:
        if self.request is not None:
            return self.request.port
        return self.entry.port if self.entry is not None else 0

    @property
    def username(self) -> str:
        if self.request is not None:
            return self.request.username
        return self.entry.username if self.entry is not None else ""

    @property
    def address(self) -> str:
        """How the room is named in the chat window: ``host:port``, or "your room"."""
        if self.hosting is not None:
            return f"your room (port {self.port})"
        return format_address(self.host, self.port)

    @property
    def remembered(self) -> bool:
        return self.entry is not None

    @property
    def open(self) -> bool:
        """Whether the room has a client (or a start) under way or a chat showing it."""
        return self.state is not RoomState.CLOSED

    def row(self) -> RoomRow:
        unread = self.chat.unread if self.chat is not None else 0
        return RoomRow(self.token, self.label, self.state, unread)

    def rows(self) -> list[RoomRow]:
        """Its rows in the room list: its own, then its private conversations'."""
        return [self.row(), *(private.row(self) for private in self.privates.values())]

    @property
    def shown_chat(self) -> ChatWindow | None:
        """The chat window shown while the room is current: a private conversation's, or
        the room's own."""
        return self.view.chat if self.view is not None else self.chat

    def chats(self) -> list[ChatWindow]:
        """Every chat window of the room: its own, then its private conversations'."""
        chats = [self.chat] if self.chat is not None else []
        return chats + [p.chat for p in self.privates.values() if p.chat is not None]

    def trust_recorded(self, name: str, key: bytes, trust: Trust) -> None:
        """What the person decided about ``name``'s ``key`` in one of the room's windows:
        the others show it too (the room's list, a private conversation's header)."""
        for chat in self.chats():
            chat.trust_decisions.recorded_elsewhere(name, key, trust)

    # -- events before the chat window exists -------------------------------------------------

    def keep_early(self, event: ce.ClientEvent) -> None:
        if len(self.early) < MAX_EARLY:
            self.early.append(event)

    def take_early(self) -> list[ce.ClientEvent]:
        early, self.early = self.early, []
        return early

    def drop_chat(self) -> None:
        """The chat windows go (the room closes, or leaves the list), its private
        conversations' too (a reopened room finds them again in the local history)."""
        if self.invite is not None and self.invite.winfo_exists():
            self.invite.destroy()
        self.invite = None
        for chat in self.chats():
            chat.destroy()
        self.chat = None
        self.privates.clear()
        self.view = None


class RoomTrust:
    """What the person decides about members of ``room``: recorded through its client while
    it is in the room (it also forgets its warning for the key), else straight in the trust
    store (after a final failure, or while a Rejoin is under way)."""

    def __init__(self, room: Room, store: TrustStore, room_id: bytes) -> None:
        self._room = room
        self._store = store
        self._room_id = room_id

    def _client(self) -> ChatClient | None:
        client = self._room.client
        return client if client is not None and client.room_id == self._room_id else None

    def mark_verified(self, name: str, key: bytes) -> None:
        client = self._client()
        if client is not None:
            client.mark_verified(name, key)
        else:
            self._store.mark_verified(self._room_id, name, key)
        self._room.trust_recorded(name, key, Trust.VERIFIED)

    def accept_key(self, name: str, key: bytes) -> None:
        client = self._client()
        if client is not None:
            client.accept_key(name, key)
        else:
            self._store.accept_key(self._room_id, name, key)
        self._room.trust_recorded(name, key, Trust.KNOWN)


class RoomActions:
    """What the owner and admins ask of ``room`` (make or unmake an admin, remove a member,
    change the password, release a name): handed to its client while it is in the room. Each
    call returns at once; ``ValueError`` (the client's words, or "not in the room") is shown
    by the chat window."""

    def __init__(self, room: Room, room_id: bytes) -> None:
        self._room = room
        self._room_id = room_id

    def _client(self) -> ChatClient:
        client = self._room.client
        if client is None or client.room_id != self._room_id:
            raise ValueError(NOT_IN_THE_ROOM)
        return client

    def make_admin(self, name: str) -> None:
        self._client().make_admin(name)

    def unmake_admin(self, name: str) -> None:
        self._client().unmake_admin(name)

    def remove_member(self, name: str) -> None:
        self._client().remove_member(name)

    def change_password(self, *, remove: str | None = None) -> str:
        return self._client().change_password(remove=remove)

    def release_name(self, name: str) -> None:
        self._client().release_name(name)
