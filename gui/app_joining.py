"""Joining a room from the login view: connecting, its progress, its failure, and joined.

**Connect** in the login view starts a room (``gui/room.py``) with its own client; while it
joins it is ``app.joining`` and the login view shows its progress (deriving the key, the
relay's queue, connecting). A failure is worded by ``gui/errors.py`` with the button that fits
it, if any: **Connect again** after an interrupted login (the client never retries by itself
once the password was at stake), **Trust the new relay and connect** when the relay proved
another key than before (only after a confirmation that explains the risk; never when an
invite named the relay). Once joined, the room joins the room list and is shown; its host,
port and name fill the next login (never the password), and it is remembered if asked.

:class:`Joining` works on the app (``gui/app.py``), on the Tk thread. "Rooms on this network"
in the login view come here too (:meth:`Joining.rooms_found`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.errors import (
    CONNECT_AGAIN,
    TRUST_NEW_RELAY,
    failure_action,
    failure_text,
    not_the_invited_relay,
    trust_relay_question,
)
from gui.login import LoginRequest
from gui.reach import RoomsFound
from gui.room import Room
from gui.roomlist import RoomState
from gui.validate import format_address
from net import client as ce
from net.client import DEFAULT_ROOM, ErrorKind, relay_address

if TYPE_CHECKING:
    from gui.app import App


class Joining:
    """Made once by the app."""

    def __init__(self, app: App) -> None:
        self._app = app

    def connect(self, request: LoginRequest) -> None:
        """Join ``request``'s room: the client derives keys and connects in its thread."""
        app = self._app
        if app.identity is None:
            return  # no identity: the problem view is shown instead of the login
        app.last_request = request
        room = app.joining = app.new_room()
        room.request = request
        room.label = format_address(request.host, request.port)
        if app.login is not None:
            app.login.show_progress(f"Connecting to {format_address(request.host, request.port)}…")
        if request.relay_key:  # from an invite: expect its relay from the first connection on
            invite = ce.Invite(
                request.host, request.port, request.room_id, request.relay_key, request.password
            )
            ce.pin_invite(app.trust, invite)
        app.room_life.start_client(
            room,
            request.host,
            request.port,
            request.username,
            password=request.password,
            room_id=request.room_id,
        )

    def connect_again(self) -> None:
        """ "Connect again" after a login was interrupted: the same request, started by the
        person (the client never retries by itself once the password was at stake)."""
        app = self._app
        request = app.last_request
        if request is not None and app.login is not None and not app.login.busy:
            self.connect(request)

    def trust_new_relay(self) -> None:
        """ "Trust the new relay and connect" in the login view: after a confirmation, forget
        the relay key pinned for this address and connect; the new relay's key is pinned."""
        app = self._app
        request = app.last_request
        if request is None or app.login is None or app.login.busy:
            return
        if not app.confirm(
            "Trust the new relay?",
            trust_relay_question(request.host, request.port),
            TRUST_NEW_RELAY,
        ):
            return
        app.trust.forget_relay(relay_address(request.host, request.port, DEFAULT_ROOM))
        self.connect(request)

    def cancel_connect(self) -> None:
        """Cancel while connecting or while the room is starting."""
        app = self._app
        room, app.joining = app.joining, None
        if room is None:
            return
        app.forget_generation(room)
        app.room_life.stop_client(room)
        if room.starter is not None:
            starter, room.starter = room.starter, None
            starter.cancelled.set()  # the worker stops a relay that starts anyway
        app.room_life.stop_relay(room)

    def login_event(self, room: Room, event: ce.ClientEvent) -> None:
        """An event of the room being joined: progress, a failure, or joined."""
        login = self._app.login
        if login is None:
            return
        if isinstance(event, ce.DerivingKeys):
            login.show_progress("Deriving the room key from the password…")
        elif isinstance(event, ce.Queued):
            login.show_progress(_queued_text(event.position))
        elif isinstance(event, ce.Connecting):
            where = "your room" if room.hosting else room.address
            login.show_progress(f"Connecting to {where}…")
        elif isinstance(event, ce.IdentityChanged | ce.OutboxRestored):
            room.keep_early(event)  # the chat window shows it once it exists
        elif isinstance(event, ce.Joined):
            self.joined(room, event)
        elif isinstance(event, ce.Failed):
            self._failed(room, event)

    def joined(self, room: Room, event: ce.Joined) -> None:
        """The room started from the login view is in: it joins the list and is shown."""
        app = self._app
        app.joining = None
        room.state = RoomState.JOINED
        room.room_id = event.room_id
        self._remember_login(room)
        # A remembered room joined again by password (its keys were not here): one row.
        for other in list(app.rooms):
            if other.room_id == event.room_id and other.state is RoomState.CLOSED:
                room.entry, room.label = other.entry, other.label
                app.rooms.remove(other)
        app.look.watch_mute(room)
        app.rooms.append(room)
        if app.login is not None:
            app.login.destroy()
            app.login = None
        app.finder.stop()
        app.room_life.make_chat(room, event)
        if app.current is not None and app.current.shown_chat is not None:
            app.current.shown_chat.grid_remove()
        app.current = None
        app.views.choose_room(room.token)
        chat = room.chat
        assert chat is not None
        chat.entry.focus_set()
        request = room.request
        if request is not None and request.remember and room.hosting is None:
            app.remembered.remember_room(room)
        elif room.entry is not None:
            app.remembered.keep_keys(room)
        if room.hosting is not None:
            app.hosting_flow.show_invite(room)

    def rooms_found(self, event: RoomsFound) -> None:
        """The login view's browser found rooms on this network (or cannot look)."""
        login = self._app.login
        if login is None:
            return
        if event.error:
            login.rooms_unavailable(event.error)
        else:
            login.show_rooms(event.rooms)

    def _failed(self, room: Room, event: ce.Failed) -> None:
        app = self._app
        login = app.login
        assert login is not None
        request = room.request
        hosted = room.hosting is not None
        app.joining = None
        app.forget_generation(room)
        app.room_life.stop_client(room)
        app.room_life.stop_relay(room)
        text = failure_text(
            event.kind,
            event.message,
            host=request.host if request else "",
            port=request.port if request else 0,
            username=request.username if request else "",
        )
        label = failure_action(event.kind)
        action: tuple[str, Callable[[], None]] | None = None
        if event.kind is ErrorKind.RELAY_CHANGED and request is not None and request.relay_key:
            # The invite named the relay: trusting another one would overrule it.
            text, label = not_the_invited_relay(request.host, request.port), None
        if label is not None and request is not None and not hosted:
            if event.kind is ErrorKind.RELAY_CHANGED:
                action = (TRUST_NEW_RELAY, self.trust_new_relay)
            elif label == CONNECT_AGAIN:
                action = (CONNECT_AGAIN, self.connect_again)
        login.show_failure(text, action)

    def _remember_login(self, room: Room) -> None:
        """After a join from the login view: its host, port and name fill the next login."""
        app = self._app
        request = room.request
        if request is None:
            return
        if room.hosting is not None:
            app.save_settings(username=request.username, sound=app.sound.get())
        else:
            app.save_settings(
                host=request.host,
                port=request.port,
                username=request.username,
                sound=app.sound.get(),
            )


def _queued_text(position: int) -> str:
    return f"The room is letting others in first. You are number {position} in line…"
