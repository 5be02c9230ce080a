"""A room's life: its client and relay, its chat window, Retry now, Rejoin, Back to rooms.

Each room of the room list has its own client (:meth:`RoomLife.start_client`, its events
tagged with a new generation so that an old client's late events are dropped), its relay when
hosted here, and its chat window, made the first time it is shown or joins and wired to that
room (:meth:`RoomLife.make_chat`): sending goes to its client, trust decisions and the owner's
actions too (``gui/room.py``), and its banner's buttons come back here. Clients are closed off
the Tk thread (their worker may be in the middle of scrypt), so that Cancel answers at once.

After a final failure **Rejoin** starts a new client with the same keys, identity and trust,
asking for the room joined before; **Back to rooms** closes the room (a room hosted here closes
for everyone, after a question) and shows the login view; **Trust the new relay and connect**
forgets the relay key pinned for the room's address, after a confirmation that explains the
risk. A remembered room that closes stays in the list, closed, to open again later.

:class:`RoomLife` works on the app (``gui/app.py``), on the Tk thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypto.kdf import RoomKeys
from gui.attachments import RoomFiles
from gui.chat import ChatWindow
from gui.errors import TRUST_NEW_RELAY, trust_relay_question
from gui.room import Room, RoomActions, RoomTrust
from gui.roomlist import RoomState
from net import client as ce
from net.client import DEFAULT_ROOM, ChatClient, relay_address

if TYPE_CHECKING:
    from gui.app import App


class RoomLife:
    """Made once by the app."""

    def __init__(self, app: App) -> None:
        self._app = app

    def make_chat(self, room: Room, event: ce.Joined | None) -> ChatWindow:
        """The room's chat window, made the first time it is shown or joins (``event``);
        events that came before are replayed to it."""
        app = self._app
        identity = app.identity
        room_id = event.room_id if event is not None else room.room_id
        title = f"Your room · port {room.port}" if room.hosting else f"Room {room.address}"
        if room.entry is not None:
            title = room.label
        chat = ChatWindow(
            app.root,
            room=room.address,
            room_title=title,
            username=event.your_name if event is not None else room.username,
            members=tuple(event.members) if event is not None else (),
            send=lambda text: app.send_to(room, text),
            send_reply=lambda text, reply: app.send_to(room, text, reply_to=reply),
            on_message_privately=lambda member: app.privates.open(room, member),
            max_message_bytes=event.max_message_bytes if event is not None else 4000,
            palette=app.palette,
            sound=app.sound,
            on_invite=(lambda: app.hosting_flow.show_invite(room)) if room.hosting else None,
            notify=app.notifications.show,
            muted=room.muted,
            view_menu=lambda master: app.look.build_view_menu(master, room),
            is_focused=lambda: self._shown(room) and app.views.window_has_focus(),
            identity=identity.public if identity is not None else None,
            trust=RoomTrust(room, app.trust, room_id),
            on_reconnect=lambda: self.rejoin(room),
            on_trust_relay=lambda: self.trust_new_relay(room),
            actions=RoomActions(room, room_id),
            on_retry_now=lambda: self.retry_now(room),
            on_back=lambda: self.back_to_rooms(room),
            shown=lambda: self._shown(room),
            on_unread=app.views.refresh_rooms,
            joined=event is not None,
            on_jump=app.views.open_jump,
            on_search=app.history_actions.open_search,
            files=RoomFiles(lambda: room.client),
        )
        room.chat = chat
        app.history_actions.chat_made(room, room_id)
        if event is not None:
            chat.handle(event)
        for early in room.take_early():  # told before the window existed
            chat.handle(early)
        chat.flush()
        return chat

    def _shown(self, room: Room) -> bool:
        """Whether the room's own conversation is the one shown (not a private one)."""
        return self._app.current is room and room.view is None

    # -- its client and relay ---------------------------------------------------------------------

    def start_client(
        self,
        room: Room,
        host: str,
        port: int,
        username: str,
        *,
        password: str | None = None,
        keys: RoomKeys | None = None,
        room_id: bytes = DEFAULT_ROOM,
    ) -> None:
        """Start the room's client (its events come tagged with a new generation)."""
        app = self._app
        identity = app.identity
        if identity is None:
            return
        room.early = []
        archive = app.history_actions.archive_opener()
        generation = app.new_generation(room)
        put = app.pump.put
        room.client = ChatClient(
            host=host,
            port=port,
            username=username,
            password=password,
            keys=keys,
            identity=identity,
            trust=app.trust,
            room_id=room_id,
            on_event=lambda event: put((generation, event)),
            kdf_cost=app.kdf_cost,
            archive=archive,
        )
        room.kept = archive is not None
        room.client.start()

    def stop_client(self, room: Room) -> None:
        # close() joins the worker, which may be in the middle of scrypt: do it off the Tk
        # thread so Cancel answers at once; close() waits for these threads.
        client, room.client = room.client, None
        if client is not None:
            self._app.in_background(client.close)

    def stop_relay(self, room: Room) -> None:
        self._app.hosting_flow.stop_reach(room)
        relay, room.relay = room.relay, None
        if relay is not None:
            relay.stop()

    # -- after a failure ----------------------------------------------------------------------

    def retry_now(self, room: Room) -> None:
        """Retry now in a chat's connection banner: the client stops waiting and tries."""
        if room.client is not None:
            room.client.retry_now()

    def rejoin(self, room: Room) -> None:
        """Rejoin in a chat window after a final failure: a new client with the same
        keys, identity and trust, asking for the room joined before."""
        old = room.client
        if old is None:
            return
        self.stop_client(room)
        request = room.request
        self.start_client(
            room,
            old.host,
            old.port,
            old.username,
            # The password too (when known), should the relay hold a new room by that name.
            password=request.password if request is not None else None,
            keys=old.keys,
            room_id=old.ask_room,
        )

    def back_to_rooms(self, room: Room) -> None:
        """Back to rooms after a final failure: the room closes (a room hosted here closes
        for everyone, after a question) and the login view comes back in the same window;
        a remembered room stays in the list, closed, to open again later."""
        if not self.may_close_hosted_room(room, "Going back to your rooms"):
            return
        self.close_room(room)
        self._app.views.show_login()

    def trust_new_relay(self, room: Room) -> None:
        """The chat's "Trust the new relay and connect" after RELAY_CHANGED on a reconnect."""
        app = self._app
        client = room.client
        if client is None or room.chat is None:
            return
        if not app.confirm(
            "Trust the new relay?", trust_relay_question(client.host, client.port), TRUST_NEW_RELAY
        ):
            return
        for asked in {client.ask_room, DEFAULT_ROOM}:
            app.trust.forget_relay(relay_address(client.host, client.port, asked))
        room.chat.reconnect()

    def pin_default_room(self, room: Room) -> None:
        """Joined with the room's id (a Rejoin, a remembered room): the next fresh login
        asks for the default room at this address, so it must expect the same relay. Fills a
        missing pin only (one forgotten by "Trust the new relay")."""
        trust = self._app.trust
        client = room.client
        if client is None or not client.room_id:
            return
        key = trust.relay_key(relay_address(client.host, client.port, client.room_id))
        if key is not None:
            trust.pin_relay(relay_address(client.host, client.port, DEFAULT_ROOM), key)

    # -- closing and reopening ------------------------------------------------------------------

    def close_room(self, room: Room) -> None:
        """Stop the room's client (and relay), drop its chat window; it leaves the list
        unless it is remembered (then it stays, closed)."""
        app = self._app
        app.forget_generation(room)
        self.stop_client(room)
        self.stop_relay(room)
        room.hosting = None
        for private in room.privates.values():
            app.view_menus.pop(private.token, None)
        room.drop_chat()
        app.view_menus.pop(room.token, None)
        if app.current is room:
            app.current = None
        if room.remembered:
            room.state = RoomState.CLOSED
        elif room in app.rooms:
            app.rooms.remove(room)
        app.views.refresh_rooms()
        app.views.layout()

    def leave_room(self, room: Room) -> None:
        """Leave a room from its menu (asking first if it is hosted here)."""
        app = self._app
        if not self.may_close_hosted_room(room, "Closing it"):
            return
        shown = app.current is room
        self.close_room(room)
        if shown:
            app.views.show_login()

    def reopen(self, room: Room) -> bool:
        """A closed remembered room was chosen: open it with its keys (True), or, without
        them, show the login view with its host, port and name (False)."""
        app = self._app
        if room.saved is not None and app.identity is not None:
            app.remembered.open_saved(room)
            return True
        app.views.show_login()
        if app.login is not None and not app.login.busy:
            note = (
                "Type the room password to open this room again: this device does not have "
                "its keys."
            )
            if app.memory_available is False:
                note = f"{app.memory_why} Type the room password to open this room again."
            app.login.prefill(room.host, room.port, room.username, note)
        return False

    def closing_asks(self, room: Room) -> bool:
        """Whether closing ``room`` asks first: it is hosted here and has a chat open."""
        return room.relay is not None and room.chat is not None

    def may_close_hosted_room(self, room: Room, doing: str) -> bool:
        """True unless ``room`` is hosted here, has a chat open, and the person keeps it."""
        if not self.closing_asks(room) or room.chat is None:
            return True
        others = len(room.chat.members) - 1
        detail = (
            f"{others} other member{'s' if others != 1 else ''} will be disconnected."
            if others > 0
            else "Nobody else is in it right now."
        )
        return self._app.confirm(
            "Close the room?",
            f"{doing} closes the room for everyone. {detail}",
            "Close the room",
        )
