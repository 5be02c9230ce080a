"""The network services around the app's rooms, started and stopped from the Tk thread.

* :class:`HostedServices` — for one hosted room: the router's port mapping and the mDNS
  announcement, as the host dialog asked; their events go on the pump wrapped in
  :class:`gui.reach.ForRoom`, so the app applies them only while that room is open.
* :class:`RoomFinder` — "Rooms on this network" for the login view: a browser started a moment
  after the view appears (importing zeroconf and opening its sockets would otherwise compete
  with drawing the first window), stopped when the view goes.

Every call here returns at once: the blocking parts (router round trips, multicast setup and
goodbyes) run in the app's short-lived worker threads (``background``), which ``App.close``
joins. No widget is touched here.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable

from gui.host import HostRequest
from gui.reach import Announced, Closable, ForRoom, ReachServices, ReachState, RoomsFound, Startable
from net.reach import room_label

Put = Callable[[object], None]
Background = Callable[[Callable[[], None]], None]
BROWSE_DELAY_MS = 400


class HostedServices:
    """The port mapping and the announcement of one hosted room. Start once, stop once."""

    def __init__(
        self, services: ReachServices, room: ReachState, put: Put, background: Background
    ) -> None:
        self._services = services
        self.room = room
        self._put = put
        self._background = background
        self.mapper: Startable | None = None
        self.announcer: Closable | None = None

    def start(self, hosting: HostRequest, port: int) -> None:
        """The relay listens on ``port``: ask the router, announce, as ``hosting`` says."""
        room, put = self.room, self._put
        room.port = port
        if hosting.maps_port and self._services.mapper is not None:
            self.mapper = self._services.mapper(port, lambda event: put((0, ForRoom(room, event))))
            self.mapper.start()
        if hosting.announces and self._services.announcer is not None:
            announcer = self.announcer = self._services.announcer(
                room_label(hosting.username), port
            )

            def announce() -> None:
                try:
                    announcer.start()
                except (OSError, ImportError) as error:
                    failed = Announced(error=str(error) or type(error).__name__)
                    put((0, ForRoom(room, failed)))
                else:
                    put((0, ForRoom(room, Announced(name=getattr(announcer, "name", "")))))

            self._background(announce)

    def stop(self) -> None:
        """The room is closing: remove the mapping and the announcement (in the background)."""
        mapper, self.mapper = self.mapper, None
        announcer, self.announcer = self.announcer, None
        if mapper is not None:
            self._background(mapper.stop)
        if announcer is not None:
            self._background(announcer.close)


class RoomFinder:
    """Looks for announced rooms while the login view is shown; results go on the pump as
    :class:`gui.reach.RoomsFound` (with ``error`` set if browsing could not start)."""

    def __init__(
        self, root: tk.Misc, services: ReachServices, put: Put, background: Background
    ) -> None:
        self._root = root
        self._factory = services.browser
        self._put = put
        self._background = background
        self._after: str | None = None
        self.browser: Closable | None = None

    @property
    def enabled(self) -> bool:
        return self._factory is not None

    def start_soon(self) -> None:
        """Start browsing ``BROWSE_DELAY_MS`` from now (Tk thread)."""
        if self._factory is not None and self._after is None and self.browser is None:
            self._after = self._root.after(BROWSE_DELAY_MS, self._start)

    def stop(self) -> None:
        """Stop browsing, or never start (Tk thread)."""
        if self._after is not None:
            with contextlib.suppress(tk.TclError):
                self._root.after_cancel(self._after)
            self._after = None
        browser, self.browser = self.browser, None
        if browser is not None:
            self._background(browser.close)

    def _start(self) -> None:
        self._after = None
        if self._factory is None or self.browser is not None:
            return
        put = self._put
        browser = self.browser = self._factory(lambda rooms: put((0, RoomsFound(rooms))))

        def browse() -> None:
            try:
                browser.start()
            except (OSError, ImportError) as error:
                put((0, RoomsFound((), error=str(error) or type(error).__name__)))

        self._background(browse)
