"""Quitting the app: the question first, when it matters, then everything stops.

The window's close box (unless it only hides the window to the tray, ``gui/app_tray.py``) and
the tray icon's Quit ask before quitting if messages written here have not reached their
room (:func:`quit_question`: which stay on this device and go out the next time their room
opens, which would be lost) or if quitting closes a room hosted here for everyone; Cancel, the
safe answer, is the default. Then :meth:`QuitFlow.close` stops every room start, client, relay,
the keyring's thread and the history, from any state, and destroys the root: no thread is
left behind. SIGTERM (a logout, ``kill``) closes the same way, without the question.

:class:`QuitFlow` works on the app (``gui/app.py``), on the Tk thread.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from typing import TYPE_CHECKING

from gui.picture_fetch import clear_cache
from gui.room import Room

if TYPE_CHECKING:
    from gui.app import App


class QuitFlow:
    """Made once by the app."""

    def __init__(self, app: App) -> None:
        self._app = app

    def request_close(self) -> None:
        """The window's close box: with the tray setting on and the icon in a tray, the window
        only hides (``gui/app_tray.py``); otherwise :meth:`request_quit`."""
        if self._app.tray_flow.hide_window():
            return
        self.request_quit()

    def request_quit(self) -> None:
        """Quit: ask first if messages still wait to be sent, or if that closes a room for
        others (the safe answer, Cancel, is the default); then close everything."""
        app = self._app
        if not self._may_quit_with_waiting_messages():
            return
        for room in app.rooms:
            if not app.room_life.may_close_hosted_room(room, "Closing this window"):
                return
        self.close()

    def asks_first(self) -> bool:
        """Whether :meth:`request_quit` asks a question before it quits (the window must be
        shown for it)."""
        app = self._app
        if self.waiting_messages():
            return True
        return any(app.room_life.closing_asks(room) for room in app.rooms)

    def waiting_messages(self) -> int:
        """Messages written here that the relay has not confirmed, in every room: in the
        clients' outboxes, or handed back as not sent and not sent again."""
        rooms = self._app.rooms
        return sum(self._waiting(room, kept=True) + self._waiting(room) for room in rooms)

    def close(self) -> None:
        """Stop everything and destroy the root. Safe from any state, safe to call twice."""
        app = self._app
        if app.closed:
            return
        app.closed = True
        app.pump.stop()
        with contextlib.suppress(tk.TclError):
            app.root.withdraw()  # the window disappears at once; the rest takes a moment
        app.tray_flow.stop()  # the icon too, and its threads
        if app.rooms:
            app.save_settings(sound=app.sound.get())
        app.notifications.close()
        rooms = [*app.rooms, *([app.joining] if app.joining is not None else [])]
        for room in rooms:
            if room.starter is not None:
                room.starter.cancel()  # joins the worker: what it produced is queued by now
                room.starter = None
        # A room that finished starting just before the cancel waits in the queue under its
        # generation: forgetting the generations, then draining, hands it to the app's
        # dispatch, which stops it.
        for room in rooms:
            app.forget_generation(room)
        app.pump.drain(limit=app.pump.pending() + 1)
        for room in rooms:
            client, room.client = room.client, None
            if client is not None:
                app.in_background(client.close)  # every room says goodbye at once
        app.finder.stop()
        app.wait_for_background()
        for room in rooms:  # after the clients: the host's own goodbye reaches its relay
            app.room_life.stop_relay(room)
        # Stopping a hosted room removes its router mapping and announcement in the
        # background: the process must not end before the router has been told.
        app.wait_for_background()
        if app.memory is not None:
            app.memory.stop()
        if app.history is not None:
            app.history.close()
            app.history = None
        # Received pictures are decrypted in their cache: they last one run (the clients,
        # and with them every download into it, stopped above).
        with contextlib.suppress(OSError):
            clear_cache()
        with contextlib.suppress(tk.TclError):
            # Run pending idle work (ttk's <<ThemeChanged>> after a quick start) while the
            # root exists: left for later, it fails noisily on a destroyed interpreter.
            app.root.update_idletasks()
            app.root.destroy()

    def _waiting(self, room: Room, *, kept: bool = False) -> int:
        """The room's unconfirmed messages that are kept on disk (``kept``: its client has
        the archive, so the next one sends them) or only in memory (lost on quitting)."""
        count = 0
        if room.client is not None and room.kept == kept:
            count += len(room.client.pending())
        if not kept:
            count += sum(len(chat.unsent.texts) for chat in room.chats())
        return count

    def _may_quit_with_waiting_messages(self) -> bool:
        app = self._app
        lost = sum(self._waiting(room) for room in app.rooms)
        kept = sum(self._waiting(room, kept=True) for room in app.rooms)
        if not lost and not kept:
            return True
        return app.confirm("Quit SocketChat?", quit_question(lost, kept), "Quit anyway")


def quit_question(lost: int, kept: int = 0) -> str:
    """What the close box asks while messages have not reached their room: ``lost`` exist
    only in this window, ``kept`` are on disk and go out the next time their room opens."""
    waiting = lost + kept
    what = "1 message you wrote has" if waiting == 1 else f"{waiting} messages you wrote have"
    if not lost:
        them = "It stays" if kept == 1 else "They stay"
        return (
            f"{what} not reached the room yet. {them} on this device and "
            f"{'is' if kept == 1 else 'are'} sent the next time you open the room."
        )
    them = "it" if lost == 1 else "them"
    lost_part = f"{lost} of them" if kept else ("it" if lost == 1 else "they")
    return (
        f"{what} not reached the room yet. If you quit now, {lost_part} will not be sent: "
        f"copy {them} first, or wait until the connection is back."
    )
