"""Remembered rooms: listed at start, opened by themselves, remembered and forgotten on request.

At start the rooms this device remembers (``gui/saved.py``) join the room list at once from
``rooms.json``; their keys come from the operating system's keyring on ``RoomMemory``'s own
thread, and each room opens with them, one after the other (no password: the keys are
enough). Without a keyring the app says so in the login view and remembers nothing secret; a
room whose keys cannot be had is listed closed, and choosing it brings the login view with
its host, port and name filled in. A remembered room joined with a new password keeps its new
keys. The keyring also holds the local history's key, asked for first (``gui/app_history.py``
opens the history with it).

:class:`RememberedRooms` works on the app (``gui/app.py``), on the Tk thread; ``app.memory`` is
the keyring's thread, None when the app was given no keychain.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from gui.room import Room
from gui.roomlist import RoomState
from gui.saved import (
    IndexEntry,
    LocalKey,
    MemoryEvent,
    MemoryFailed,
    MemoryOpened,
    RoomsLoaded,
    SavedRoom,
    load_index,
    save_index,
)
from gui.settings import config_dir

if TYPE_CHECKING:
    from gui.app import App

_OPEN_EVERY_MS = 40  # remembered rooms start one after the other, not all at once


class RememberedRooms:
    """Made once by the app."""

    def __init__(self, app: App) -> None:
        self._app = app

    def list_remembered(self) -> None:
        """At start: the remembered rooms join the list at once (their keys come later)."""
        app = self._app
        if app.memory is None:
            return
        for entry in load_index(self._index_dir()):
            room = app.new_room(label=entry.label)
            room.entry = entry
            room.room_id = entry.room_id
            app.look.watch_mute(room)
            app.rooms.append(room)

    def memory_event(self, event: MemoryEvent) -> None:
        """What the keyring's thread says: open or not, the rooms' keys, the history's."""
        app = self._app
        if isinstance(event, MemoryOpened):
            app.memory_available = event.available
            if event.available and app.keep_history.get() and app.memory is not None:
                app.memory.local_key()  # asked first: the history opens before the rooms
            if not event.available:
                app.memory_why = event.why
                if app.login is not None:
                    app.login.remember_unavailable(event.why)
                for room in list(app.rooms):
                    if room.entry is not None and room.client is None:
                        self._cannot_open(room)
                app.views.refresh_rooms()
                return
            waiting = [room.room_id for room in app.rooms if room.entry is not None]
            if waiting and app.memory is not None:
                app.memory.load(waiting)
        elif isinstance(event, RoomsLoaded):
            self._loaded(event)
        elif isinstance(event, LocalKey):
            app.history_actions.open_history(event)
        elif isinstance(event, MemoryFailed):
            app.memory_why = event.why

    def open_saved(self, room: Room) -> None:
        """Open a remembered room with its keys (no password), asking for it by id."""
        app = self._app
        saved = room.saved
        if saved is None or room.client is not None or room not in app.rooms or app.closed:
            return
        room.state = RoomState.CONNECTING
        if room.chat is not None and room.chat.closed_for_good:
            room.chat.connection.connecting()
        app.room_life.start_client(
            room, saved.host, saved.port, saved.username, keys=saved.keys, room_id=saved.room_id
        )
        app.views.refresh_rooms()

    def remember_room(self, room: Room) -> bool:
        """Remember ``room`` on this device: its keys to the keyring, its place in the list
        to ``rooms.json``. Not for a room hosted here, nor before its keys are known."""
        app = self._app
        client = room.client
        if (
            app.memory is None
            or app.memory_available is False
            or room.hosting is not None
            or client is None
            or client.keys is None
            or not room.room_id
        ):
            return False
        label = room.label or room.address
        saved = SavedRoom(room.host, room.port, room.username, label, client.keys)
        app.memory.save(saved)
        room.saved, room.entry, room.label = saved, saved.entry(), label
        self.save_index()
        app.views.refresh_rooms()
        return True

    def keep_keys(self, room: Room) -> None:
        """A remembered room joined: if its keys changed (a new password), keep the new."""
        app = self._app
        client = room.client
        if room.entry is None or client is None or client.keys is None or app.memory is None:
            return
        if room.saved is not None and room.saved.keys == client.keys:
            return
        saved = SavedRoom(room.host, room.port, room.username, room.label, client.keys)
        room.saved = saved
        app.memory.save(saved)

    def forget_room(self, room: Room) -> None:
        """Forget ``room`` on this device (its keyring entry and its place in the list); an
        open room stays open until it is closed."""
        app = self._app
        if room.entry is None:
            return
        if app.memory is not None:
            app.memory.forget(room.entry.room_id)
        room.entry = None
        room.saved = None
        self.save_index()
        if room.state is RoomState.CLOSED:
            app.rooms.remove(room)
            if app.current is room:
                app.current = None
        app.views.refresh_rooms()
        app.views.layout()

    def save_index(self) -> None:
        """``rooms.json``: the remembered rooms of the list, in its order."""
        entries: list[IndexEntry] = [r.entry for r in self._app.rooms if r.entry is not None]
        save_index(entries, self._index_dir())

    def _index_dir(self) -> Path:
        settings_dir = self._app.settings_dir
        return settings_dir if settings_dir is not None else config_dir()

    def _loaded(self, event: RoomsLoaded) -> None:
        """The keyring gave the remembered rooms' keys: open them, one after the other."""
        app = self._app
        delay = 0
        for room in app.rooms:
            if room.room_id not in event.rooms or room.client is not None:
                continue
            saved = event.rooms[room.room_id]
            if saved is None:
                self._cannot_open(room)  # no keys here: the password opens it again
                continue
            room.saved = saved
            app.root.after(delay, functools.partial(self.open_saved, room))
            delay += _OPEN_EVERY_MS
        app.views.refresh_rooms()

    def _cannot_open(self, room: Room) -> None:
        """A remembered room whose keys are not to be had: listed closed; if it is the one
        shown (the first room, at start), the login view comes with it filled in."""
        app = self._app
        room.state = RoomState.CLOSED
        shown = app.current is room
        room.drop_chat()
        if shown:
            app.current = None
            app.room_life.reopen(room)
