"""The system tray icon: SocketChat's icon in the notification area while the app runs.

:class:`TrayIcon` runs ``pystray`` on a thread of its own (``socketchat-tray``), since pystray
runs an event loop of its own: on Linux its XEmbed icon (``gui/tray_xembed.py``: any tray that
takes XEmbed icons, such as KDE Plasma's, Xfce's, MATE's or LXQt's), on Windows the
notification area. Nothing here touches Tk: what the
icon has to say goes to ``put`` (the app's pump, ``gui/pump.py``) as the events below, and the
Tk thread does the rest (``gui/app_tray.py``). The Tk thread only ever hands over a tooltip
(:meth:`TrayIcon.set_title`) or asks it to stop (:meth:`TrayIcon.stop`), and never waits for
the tray except when stopping, at most a few seconds.

An icon that cannot be seen cannot bring the window back, so the icon says it is shown
(:class:`TrayShown`) only once it is in a tray: on X11 once the tray has embedded its window.
Anything else (no pystray, no display, no tray, a tray that does not take the icon or goes
away) is :class:`TrayGone` with why; the app then never hides its window.

Every thread started here is a daemon (pystray's own setup thread too, since a thread inherits
that from the thread that starts it), so the tray never keeps the process alive.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, cast

log = logging.getLogger(__name__)

APP_NAME = "SocketChat"
#: How long a tray may take to embed the icon before it counts as not taking it.
DOCK_TIMEOUT = 3.0
#: How often the icon's place in the tray is checked (and a new tooltip applied at the latest).
POLL_INTERVAL = 0.5


class TrayAction(enum.Enum):
    """What a person chose on the icon."""

    SHOW = "Show SocketChat"  # the default action: a click on the icon
    QUIT = "Quit SocketChat"


#: The icon's menu, in order; the first item is what a click on the icon does.
MENU: tuple[TrayAction, ...] = (TrayAction.SHOW, TrayAction.QUIT)


class TrayProblem(enum.Enum):
    """Why there is no icon in the tray; the value is what the View menu says."""

    NO_LIBRARY = "the tray library (pystray) is not installed"
    NO_IMAGE = "the icon's picture cannot be read"
    NO_DISPLAY = "the display's tray cannot be reached"
    NOT_HERE = "not available on this system yet"
    NO_TRAY = "no system tray on this desktop"
    NOT_TAKEN = "the system tray did not show the icon"
    LOST = "the system tray went away"
    STOPPED = "the tray icon stopped"


@dataclass(frozen=True)
class TrayShown:
    """The icon is in the tray (again): closing the window may hide it now."""


@dataclass(frozen=True)
class TrayGone:
    """The icon is not in the tray, or no longer: the window must stay within reach.
    ``detail`` is for the log only."""

    problem: TrayProblem
    detail: str = ""


@dataclass(frozen=True)
class TrayChosen:
    """A person chose ``action`` on the icon (a click is :attr:`TrayAction.SHOW`)."""

    action: TrayAction


@dataclass(frozen=True)
class TrayMenuAsked:
    """A right click on an icon whose tray draws no menu for it (XEmbed): the Tk thread
    shows the menu at ``x``, ``y`` on the screen."""

    x: int
    y: int


TrayEvent: TypeAlias = TrayShown | TrayGone | TrayChosen | TrayMenuAsked
TRAY_EVENTS = (TrayShown, TrayGone, TrayChosen, TrayMenuAsked)


class _Unavailable(Exception):
    def __init__(self, problem: TrayProblem, detail: str = "") -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.detail = detail


_STOP = object()  # on the command queue: end the icon


class TrayIcon:
    """Create on the Tk thread, :meth:`start`, and :meth:`stop` before the app ends.

    ``put`` takes the events above (from the tray's threads); ``image`` is the icon's PNG.
    """

    def __init__(
        self,
        put: Callable[[TrayEvent], None],
        *,
        image: Path,
        title: str = APP_NAME,
        dock_timeout: float = DOCK_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._put = put
        self._image_path = image
        self._title = title
        self.dock_timeout = dock_timeout
        self.poll_interval = poll_interval
        self._commands: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._setup_thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the icon's thread; :class:`TrayShown` or :class:`TrayGone` follows."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="socketchat-tray", daemon=True)
        self._thread.start()

    def set_title(self, title: str) -> None:
        """The icon's tooltip from now on (the newest wins). Safe from any thread."""
        self._commands.put(title)

    def stop(self, timeout: float = 5.0) -> None:
        """Take the icon out of the tray and end its threads (waits at most ``timeout``)."""
        self._stopping.set()
        self._commands.put(_STOP)
        for thread in (self._thread, self._setup_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether any of the icon's threads still runs."""
        threads = (self._thread, self._setup_thread)
        return any(thread is not None and thread.is_alive() for thread in threads)

    # -- the tray's own thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            icon = self._make_icon()
        except _Unavailable as why:
            if not self._stopping.is_set():
                log.info("no tray icon: %s %s", why.problem.value, why.detail)
                self._put(TrayGone(why.problem, why.detail))
            return
        if self._stopping.is_set():
            return
        try:
            icon.run(setup=self._control)
        except Exception as error:  # the tray's loop failed: never the chat's problem
            log.warning("the tray icon stopped", exc_info=True)
            self._stopping.set()
            self._put(TrayGone(TrayProblem.STOPPED, repr(error)))

    def _make_icon(self) -> Any:
        """The pystray icon with SocketChat's image and menu (on this thread: on Windows its
        window must belong to the thread that runs its loop)."""
        if sys.platform == "darwin":
            # pystray's macOS icon must run on the main thread, which is Tk's.
            raise _Unavailable(TrayProblem.NOT_HERE)
        if sys.platform != "win32":
            # pystray tries PyGObject's AppIndicator and GTK first, which would load GTK
            # into a Tk process only to be unused: the X11 icon is the one used here.
            os.environ.setdefault("PYSTRAY_BACKEND", "xorg")
        try:
            import pystray  # on Linux this opens the display, so it may fail with an X error
            from PIL import Image
        except ImportError as error:
            raise _Unavailable(TrayProblem.NO_LIBRARY, repr(error)) from None
        except Exception as error:  # python-xlib cannot open the display
            raise _Unavailable(TrayProblem.NO_DISPLAY, repr(error)) from None
        try:
            with Image.open(self._image_path) as opened:
                image = opened.convert("RGBA")
        except Exception as error:  # a missing icon file: no icon rather than a blank one
            raise _Unavailable(TrayProblem.NO_IMAGE, repr(error)) from None
        menu = pystray.Menu(
            *(
                pystray.MenuItem(action.value, self._chosen(action), default=action is MENU[0])
                for action in MENU
            )
        )
        if sys.platform == "win32":
            return pystray.Icon(APP_NAME, image, self._title, menu)
        try:
            from gui.tray_xembed import XEmbedIcon
        except ImportError as error:  # python-xlib missing while pystray is there
            raise _Unavailable(TrayProblem.NO_LIBRARY, repr(error)) from None
        try:
            icon = XEmbedIcon(APP_NAME.lower(), image, self._title, menu, on_menu=self._menu_asked)
        except Exception as error:
            raise _Unavailable(TrayProblem.NO_DISPLAY, repr(error)) from None
        if not icon.tray_present():
            icon.discard()
            raise _Unavailable(TrayProblem.NO_TRAY)
        return icon

    def _chosen(self, action: TrayAction) -> Callable[[], None]:
        # pystray calls a menu item's action on its own thread: only the pump is touched.
        return lambda: self._put(TrayChosen(action))

    def _menu_asked(self, x: int, y: int) -> None:
        self._put(TrayMenuAsked(x, y))

    # -- pystray's setup thread: show, check, apply tooltips, stop -----------------------------

    def _control(self, icon: Any) -> None:
        """Runs on the thread pystray starts once its loop runs, until the icon stops."""
        thread = threading.current_thread()
        thread.name = "socketchat-tray-setup"
        self._setup_thread = thread
        try:
            self._watch(icon)
        except Exception as error:
            log.warning("the tray icon failed", exc_info=True)
            if not self._stopping.is_set():
                self._put(TrayGone(TrayProblem.STOPPED, repr(error)))
        finally:
            with contextlib.suppress(Exception):  # its loop may have ended already
                icon.stop()

    def _watch(self, icon: Any) -> None:
        icon.visible = True
        with _dock_check(icon) as is_docked:
            docked = self._wait_until_docked(is_docked)
            if self._stopping.is_set():
                return
            if not docked:
                self._put(TrayGone(TrayProblem.NOT_TAKEN))
                return
            self._put(TrayShown())
            while True:
                try:
                    command = self._commands.get(timeout=self.poll_interval)
                except queue.Empty:
                    command = None
                if command is _STOP or self._stopping.is_set():
                    return
                if isinstance(command, str) and command != icon.title:
                    try:
                        _retitle(icon, command)
                    except Exception:  # a tooltip is not worth the icon
                        log.warning("tray icon tooltip not changed", exc_info=True)
                now = is_docked()
                if now != docked:
                    docked = now
                    self._put(TrayShown() if now else TrayGone(TrayProblem.LOST))

    def _wait_until_docked(self, is_docked: Callable[[], bool]) -> bool:
        waited = 0.0
        step = 0.05
        while not is_docked():
            if waited >= self.dock_timeout or self._stopping.wait(step):
                return False
            waited += step
        return True


def _retitle(icon: Any, title: str) -> None:
    """The X11 icon changes its tooltip over the watching thread's own connection; elsewhere
    pystray's ``title`` does it."""
    retitle = getattr(icon, "retitle", None)
    if callable(retitle):
        retitle(title)
    else:
        icon.title = title


def _dock_check(icon: Any) -> contextlib.AbstractContextManager[Callable[[], bool]]:
    """Whether the icon is in a tray: the X11 icon checks its window; elsewhere pystray's
    word (the notification area took it) is all there is."""
    check = getattr(icon, "dock_check", None)
    if callable(check):
        return cast("contextlib.AbstractContextManager[Callable[[], bool]]", check())
    return contextlib.nullcontext(lambda: bool(icon.visible))


def tray_title(unread: int) -> str:
    """The icon's tooltip: the app, and how many messages wait to be read."""
    if unread <= 0:
        return APP_NAME
    # Plain ASCII: an X11 icon's title is a Latin-1 STRING property.
    return f"{APP_NAME}: {unread} unread message{'s' if unread != 1 else ''}"
