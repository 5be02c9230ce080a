"""Hosting a room here: the host dialog, the relay's start, the invite, and the network around.

**Host a room** (the login view) asks for a port, a passphrase, a name and who can join
(``gui/host.py``); the relay then starts in the background with a room owned by this device's
identity (``gui/hosting.py``: scrypt and the listening socket off the Tk thread). Once it
listens, the app pins its relay key (so that its own client expects exactly that relay, not
one hosted here before) and joins it like any other room, from the same login view; a start
that fails brings the host dialog back, saying why. The invite panel (``gui/invite.py``) opens
once the room is joined and follows a change of the room password.

Around a room open to others the app may ask the router to forward the port and announce the
room on the local network (``gui/around.py``, only with real services); what they report
reaches the room's invite panel as ``ForRoom`` events, dropped once the room is closed.

:class:`Hosting` works on the app (``gui/app.py``), on the Tk thread.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from gui.around import HostedServices
from gui.errors import host_error_text
from gui.host import HostDialog, HostRequest
from gui.hosting import RoomFailed, RoomStarted, lan_addresses, start_room_in_background
from gui.invite import InvitePanel
from gui.login import LoginRequest
from gui.reach import ForRoom, OutsideSeen, ReachState
from gui.room import Room
from net.client import DEFAULT_ROOM, relay_address
from net.reach import OutsideWatcher, Scope, listen_plan

if TYPE_CHECKING:
    from gui.app import App


class Hosting:
    """Made once by the app."""

    def __init__(self, app: App) -> None:
        self._app = app

    def open_host_dialog(self, initial: HostRequest | None = None, error: str = "") -> None:
        """The Host a room button: ask for port, passphrase and name."""
        app = self._app
        if app.login is None or app.login.busy:
            return  # only from the login view, and not while already connecting
        if app.host_dialog is not None and app.host_dialog.winfo_exists():
            app.host_dialog.lift()
            return
        username = app.login.vars["username"].get() if app.login else app.settings.username
        app.host_dialog = HostDialog(
            app.root, on_done=self.host_chosen, username=username, initial=initial, error=error
        )

    def host_chosen(self, request: HostRequest | None) -> None:
        """The host dialog closed: with a ``request``, start its room in the background."""
        app = self._app
        app.host_dialog = None
        if request is None or app.login is None:
            return
        room = app.joining = app.new_room()
        room.hosting = request
        room.request = LoginRequest("127.0.0.1", request.port, request.password, request.username)
        room.label = f"Your room · port {request.port}"
        app.login.show_progress(f"Starting your room on port {request.port}…")
        generation = app.new_generation(room)
        put = app.pump.put
        addresses = lan_addresses() if request.scope is not Scope.COMPUTER else []
        reach = room.reach = ReachState(
            scope=request.scope,
            port=request.port,
            asked_router=request.maps_port and app.services.mapper is not None,
            lan_address=addresses[0] if addresses else "",
        )
        plan = listen_plan(request.scope)
        accept_peer = plan.accept_peer
        if request.scope is Scope.EVERYONE:
            # Lets everyone in, and tells the invite panel when someone from outside came.
            accept_peer = OutsideWatcher(
                lambda peer: put((0, ForRoom(reach, OutsideSeen(peer, time.strftime("%H:%M")))))
            )
        room.starter = start_room_in_background(
            request.password,
            request.port,
            lambda event: put((generation, event)),
            bind_host=plan.host if app.bind_host is None else app.bind_host,
            accept_peer=accept_peer,
            kdf_cost=app.kdf_cost,
            owner=app.identity,  # the host owns the room: appoints admins, removes members
            history_for_newcomers=request.history_for_newcomers,
        )

    def room_started(self, room: Room, event: RoomStarted) -> None:
        """The relay listens: pin its key, then join it like any room."""
        app = self._app
        room.starter = None
        room.relay = event.relay
        hosting = room.hosting
        if hosting is None or app.login is None or room is not app.joining:
            app.room_life.stop_relay(room)  # cancelled meanwhile: the room goes too
            return
        room.request = LoginRequest("127.0.0.1", event.port, hosting.password, hosting.username)
        room.label = f"Your room · port {event.port}"
        if event.relay_key:
            # Our own client must expect this room's relay, not one hosted here before.
            address = relay_address("127.0.0.1", event.port, DEFAULT_ROOM)
            app.trust.forget_relay(address)
            app.trust.pin_relay(address, event.relay_key)
        app.login.show_progress("Joining your room…")
        app.room_life.start_client(room, "127.0.0.1", event.port, hosting.username, keys=event.keys)
        if room.reach is not None:
            room.hosted = HostedServices(app.services, room.reach, app.pump.put, app.in_background)
            room.hosted.start(hosting, event.port)

    def room_failed(self, room: Room, event: RoomFailed) -> None:
        """The relay could not start: the host dialog again, saying why."""
        app = self._app
        room.starter = None
        request = room.hosting
        app.joining = None
        app.forget_generation(room)
        if app.login is None:
            return
        app.login.set_idle()
        self.open_host_dialog(initial=request, error=host_error_text(event.error, event.port))

    def show_invite(self, room: Room | None = None) -> None:
        """Open (or raise) the invite panel of a room hosted here (the current one)."""
        app = self._app
        room = room or app.current
        if room is None or room.hosting is None or room.relay is None:
            return
        if room.invite is not None and room.invite.winfo_exists():
            room.invite.lift()
            return
        secret = room.relay.relay.secret
        room.invite = InvitePanel(
            app.root,
            addresses=self._invite_addresses(room),
            port=room.relay.port or room.hosting.port,
            password=room.hosting.password,
            room_id=secret.room_id,
            relay_key=secret.relay_key,
            state=room.reach,
        )

    def password_changed(self, room: Room, password: str) -> None:
        """We changed the password of a room we host: its invite carries the new one."""
        if room.hosting is None:
            return
        room.hosting = dataclasses.replace(room.hosting, password=password)
        if room.invite is not None and room.invite.winfo_exists():
            room.invite.destroy()
            room.invite = None
            self.show_invite(room)

    def reach_event(self, item: ForRoom) -> None:
        """What the router, the announcement or the relay saw, for a hosted room's panel."""
        app = self._app
        for room in [*app.rooms, *([app.joining] if app.joining else [])]:
            if room.reach is not None and item.room is room.reach:
                room.reach.apply(item.event)
                if room.invite is not None and room.invite.winfo_exists():
                    room.invite.refresh(room.reach)
                return  # a room that is closed is no longer listed: dropped

    def stop_reach(self, room: Room) -> None:
        """The hosted room is closing: the mapping and the announcement go too."""
        hosted, room.hosted = room.hosted, None
        if hosted is not None:
            hosted.stop()
        room.reach = None

    def _invite_addresses(self, room: Room) -> list[str]:
        if room.hosting is not None and room.hosting.scope is Scope.COMPUTER:
            return []  # nobody else can join: the panel says "only this computer"
        return lan_addresses()
