"""The room list's menu, and renaming a room.

A right-click on a room in the room list (or Menu / Shift+F10) opens :meth:`RoomMenu.room_menu`:
**Open** for a closed remembered room, else **Leave** (**Close your room…** for a room hosted
here, which asks first), **Rename…** (how the room is called in the list and its header, on
this device only; remembered rooms keep it), **Export…** and **Forget this room…** (with this
device's history, ``gui/app_history.py``), and **Remember this room** / **Do not remember this
room** (``gui/app_remembered.py``). The rename dialog checks the name in a plain function,
:func:`label_problem`.

:class:`RoomMenu` works on the app (``gui/app.py``), on the Tk thread.
"""

from __future__ import annotations

import dataclasses
import tkinter as tk
from typing import TYPE_CHECKING

from gui.dialogs import ConfirmDialog
from gui.room import Room
from gui.roomlist import RoomState
from gui.saved import MAX_LABEL_CHARS
from gui.theme import themed_menu

if TYPE_CHECKING:
    from gui.app import App


class RoomMenu:
    """Made once by the app; the room list asks it for a room's menu."""

    def __init__(self, app: App) -> None:
        self._app = app

    def room_menu(self, token: int) -> tk.Menu | None:
        """The room list's menu for a room: Remember / Forget, Leave or Open (for a private
        conversation's row: Open, Verify…)."""
        app = self._app
        private = app.privates.of(token)
        if private is not None:
            return app.privates.menu(*private)
        room = app.room_of(token)
        if room is None:
            return None
        menu = themed_menu(app.root, app.palette)
        if room.state is RoomState.CLOSED:
            menu.add_command(label="Open", command=lambda: app.views.choose_room(token))
        elif room.hosting is not None:
            menu.add_command(
                label="Close your room…", command=lambda: app.room_life.leave_room(room)
            )
        else:
            menu.add_command(label="Leave", command=lambda: app.room_life.leave_room(room))
        menu.add_command(label="Rename…", command=lambda: self.ask_rename(room))
        menu.add_separator()
        kept = app.history is not None and bool(room.room_id)
        menu.add_command(
            label="Export…",
            command=lambda: app.history_actions.export_room(room),
            state="normal" if kept else "disabled",
        )
        if room.entry is not None or kept:
            menu.add_command(
                label="Forget this room…", command=lambda: app.history_actions.ask_forget(room)
            )
        if app.memory is not None and room.hosting is None:
            menu.add_separator()
            if room.entry is None:
                usable = (
                    app.memory_available is not False
                    and room.client is not None
                    and room.client.keys is not None
                )
                menu.add_command(
                    label="Remember this room",
                    command=lambda: app.remembered.remember_room(room),
                    state="normal" if usable else "disabled",
                )
            else:
                menu.add_command(
                    label="Do not remember this room",
                    command=lambda: app.remembered.forget_room(room),
                )
        return menu

    def ask_rename(self, room: Room) -> ConfirmDialog:
        """Rename… (the room's menu): the room's label in the list and its header, on this
        device only (remembered rooms keep it)."""
        dialog = ConfirmDialog(
            self._app.root,
            title="Rename the room",
            heading="Rename the room",
            text="How this room is called in your room list, on this device only.",
            confirm="Rename",
            entry="Name",
            check=label_problem,
            on_done=lambda yes: self.rename_room(room, dialog.value.get()) if yes else None,
        )
        dialog.value.set(room.label)
        dialog.entry.select_range(0, "end")
        return dialog

    def rename_room(self, room: Room, label: str) -> None:
        app = self._app
        label = " ".join(label.split())
        if label_problem(label) is not None:
            return
        room.label = label
        if room.chat is not None:
            room.chat.set_room_title(label)
        if room.entry is not None:
            room.entry = dataclasses.replace(room.entry, label=label)
            if room.saved is not None and app.memory is not None:
                room.saved = dataclasses.replace(room.saved, label=label)
                app.memory.save(room.saved)
            app.remembered.save_index()
        app.views.refresh_rooms()


def label_problem(label: str) -> str | None:
    """What is wrong with a room's new name (None: nothing)."""
    words = " ".join(label.split())
    if not words:
        return "Type a name."
    if len(words) > MAX_LABEL_CHARS:
        return f"At most {MAX_LABEL_CHARS} characters."
    if any(not character.isprintable() for character in words):
        return "Use visible characters only."
    return None
