"""The pictures of rooms that last, for docs/screenshots/ (run through tools/screenshots.py):

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py rooms [FOLDER]

The real app with real relays on 127.0.0.1 (one per room, in this process) and real members
(``bob``, ``carol``…: real clients), each room renamed as a person would (Rename…):

- ``rooms.png``: the room list (unread counts in bold, a room whose host closed it marked ⚠)
  beside the current room's conversation;
- ``reconnect-banner.png``: the current room's relay stopped for a restart: the banner counting
  down with Retry now, one line in the conversation, a message waiting;
- ``not-sent.png``: the room closed by its host while a message waited: the banner with Rejoin
  and Back to rooms, the message marked Not sent with Retry and Copy. The client's NotSent
  and Failed are handed to the window as the client gives them (getting a relay to close
  exactly while a message is in flight is a test's job: tests/gui/test_app_lifecycle_e2e.py);
- ``search.png``: Ctrl+F with All rooms over the local history (an archive in a temporary
  folder under a key of the run; the real key lives in the keyring);
- ``export-dialog.png``: Export… of a room.

Settings, identities, the archive and the exported files go to temporary folders.
"""

from __future__ import annotations

import functools
import os
import time
import tkinter as tk
from pathlib import Path
from types import ModuleType
from typing import Any

import gui.app_rooms
from gui.history import FILE_NAME, LocalHistory
from gui.roomlist import RoomState
from net.client import ChatClient, PendingMessage
from net.client import events as ce
from net.proto import Reason
from net.relay import RelayThread

ROOMS = (
    ("Book club", ("carol",)),
    ("Work · standup", ("bob", "carol")),
    ("Neighbours", ("dave",)),
    ("Family", ("bob", "carol")),
)


class _ManualClock:
    """The current room's client waits on this clock: its reconnect wait never ends by
    itself while the pictures are taken."""

    now = 1000.0

    def __call__(self) -> float:
        return self.now


def rooms_pictures(out: Path, shots: ModuleType) -> None:
    """Take the pictures into ``out``; ``shots`` is tools/screenshots.py (its helpers)."""
    relays: list[RelayThread] = []
    members: list[ChatClient] = []
    root = tk.Tk(className="socketchat")
    folder = shots.temp_dir("socketchat-shots-rooms-")
    clock = _ManualClock()
    real_client = gui.app_rooms.ChatClient
    app = shots.picture_app(root, folder)
    # The local history, as the keyring's key would open it.
    app.history = LocalHistory(folder / "data" / FILE_NAME, os.urandom(32))
    try:
        by_label: dict[str, Any] = {}
        for number, (label, friends) in enumerate(ROOMS):
            password = f"{label} password, for the pictures only"
            relay, keys = shots.picture_relay(password)
            relays.append(relay)
            last = number == len(ROOMS) - 1
            # The last room's client waits on the pictures' clock (the banner below).
            maker: Any = functools.partial(real_client, clock=clock) if last else real_client
            gui.app_rooms.ChatClient = maker  # type: ignore[misc]
            room = shots.join_as_alice(app, root, relay.port, password)
            app.rename_room(room, label)
            by_label[label] = room
            for name in friends:
                friend = ChatClient(
                    host="127.0.0.1",
                    port=relay.port,
                    username=name,
                    keys=keys,
                    identity=shots.identity(name),
                    on_event=lambda _e: None,
                    kdf_cost=shots.CHEAP,
                )
                friend.start()
                members.append(friend)
            wanted = len(friends) + 1
            shots.pump(root, lambda room=room, wanted=wanted: len(room.chat.members) == wanted)
        gui.app_rooms.ChatClient = real_client  # type: ignore[misc]

        family, work, book = by_label["Family"], by_label["Work · standup"], by_label["Book club"]
        talk = {
            "Family": [
                ("bob", "Who's bringing the cake on Sunday?"),
                ("carol", "I can. Chocolate or lemon?"),
                ("alice", "Lemon! And I'll bring the candles."),
                ("bob", "Lemon it is. Lunch at 12:30, see you all there."),
            ],
            "Work · standup": [
                ("bob", "Standup moved to 10:00 today."),
                ("carol", "The release notes are up for review."),
            ],
            "Book club": [("carol", "Chapter 7 for next week? It's a short one.")],
        }
        app.choose_room(family.token)
        for label in ("Book club", "Work · standup", "Family"):
            room = by_label[label]
            for name, text in talk[label]:
                if name == "alice":
                    room.chat.entry.insert("1.0", text)
                    room.chat.send_entry()
                else:
                    _send_in(room, name, text, members)
                shots.pump(root, lambda room=room, text=text: text in _shown(room))
                shots.settle(root, 0.1)
        app.choose_room(family.token)
        relays[2].stop()  # the neighbours' host closes their room: ⚠ in the list
        shots.pump(root, lambda: by_label["Neighbours"].chat.closed_for_good)
        app.choose_room(family.token)
        _place(root)
        shots.settle(root, 0.6)
        assert work.chat.unread == 2 and book.chat.unread == 1
        shots.grab(root, "rooms.png", out / "rooms.png")

        # The family room's relay stops for a restart; alice writes meanwhile.
        relays[3].stop(reason=Reason.RELAY_RESTARTING)
        shots.pump(root, lambda: not family.chat.connected)
        family.chat.handle(ce.Disconnected(reason="The relay is restarting.", retry_in=7.0))
        family.chat.entry.insert("1.0", "Running 5 minutes late, start without me")
        family.chat.send_entry()
        shots.settle(root, 0.3)
        shots.grab(root, "reconnect-banner.png", out / "reconnect-banner.png")

        # The host closes the room instead: the client hands the message back.
        waiting = next(iter(family.chat.pending.items()))
        message = PendingMessage(
            text=waiting[1], message_id=waiting[0], timestamp_ms=int(time.time() * 1000)
        )
        family.chat.handle(
            ce.NotSent(messages=(message,), reason="The host closed the room.", kept=False)
        )
        family.chat.handle(ce.Failed(kind=ce.ErrorKind.ROOM_CLOSED, message=""))
        family.state = RoomState.FAILED
        app.views.refresh_rooms()
        shots.settle(root, 0.3)
        shots.grab(root, "not-sent.png", out / "not-sent.png")

        # Ctrl+F, All rooms.
        app.choose_room(work.token)
        panel_wait = time.monotonic() + 10
        while time.monotonic() < panel_wait and len(app.history.search("12:30")) < 1:
            shots.settle(root, 0.1)
        _place(root)
        app.open_search()
        panel = app.search_panel
        panel.query.set("the")
        panel.all_rooms.set(True)
        panel.run()
        shots.settle(root, 0.4)
        shots.grab(root, "search.png", out / "search.png")
        panel.close()

        # Export… of the family room.
        app.choose_room(family.token)
        dialog = app.export_room(family)
        dialog.path.set(str(folder / "exports" / "Family.html"))
        dialog.fmt.set("html")
        _place(root)
        dialog.geometry(f"+{(1150 - dialog.winfo_reqwidth()) // 2}+120")
        shots.settle(root, 0.3)
        shots._grab_with_dialog(root, "export-dialog.png", out / "export-dialog.png")
        dialog.cancel()
    finally:
        gui.app_rooms.ChatClient = real_client  # type: ignore[misc]
        for client in members:
            client.close()
        app.close()
        for relay in relays:
            relay.stop()


def _send_in(room: Any, name: str, text: str, members: list[ChatClient]) -> None:
    """``name`` says ``text`` in ``room`` (each friend is a client of one room)."""
    port = room.port
    for client in members:
        if client.username == name and client.port == port:
            client.send(text)
            return
    raise LookupError(f"{name} is not in {room.label}")


def _shown(room: Any) -> str:
    return room.chat.messages.text.get("1.0", "end")


def _place(root: tk.Tk) -> None:
    root.geometry("1150x680+0+0")
    root.update_idletasks()
