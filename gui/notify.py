"""Desktop notifications: freedesktop notifications over D-Bus on Linux, toasts on Windows.

The chat window calls :meth:`DesktopNotifications.show` on the Tk thread; it only hands the
title and body to a small asyncio loop in a thread of its own, where ``desktop-notifier``
(``dbus-fast`` on Linux, ``winrt`` on Windows) sends them. That thread never touches Tk and
the Tk thread never waits for it: a missing or slow notification daemon costs nothing but
the notification. Call :meth:`DesktopNotifications.close` when the app closes.

What is sent is plain text the chat window made safe (``gui/safetext.py``). Many daemons read
the body as markup (``body-markup`` in their capabilities; dunst, GNOME, KDE), where a message
``<a href=…>`` would become a link: the body is then escaped. The summary is plain text by the
specification, but some daemons (dunst) parse it anyway, so there ``<``, ``>`` and ``&`` are
replaced by look-alikes (‹ › ＆) rather than escaped, which would show ``&amp;`` elsewhere.

A burst of messages gives one notification, not hundreds: after one is shown, the next waits
:data:`MIN_INTERVAL` seconds and says how many messages came meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import sys
import threading
from collections.abc import Awaitable, Callable

from gui.icon import assets_dir

log = logging.getLogger(__name__)

MIN_INTERVAL = 3.0  # seconds between two notifications; messages in between are summed up
APP_NAME = "SocketChat"

#: Sends one notification: ``send(title, body)``. Runs on the notification thread's loop.
Sender = Callable[[str, str], Awaitable[None]]


def summarise(items: list[tuple[str, str]]) -> tuple[str, str]:
    """One notification for messages that arrived while another was on screen."""
    if len(items) == 1:
        return items[0]
    senders: list[str] = []
    for title, _ in items:
        if title not in senders:
            senders.append(title)
    title = f"{len(items)} new messages"
    last_title, last_body = items[-1]
    who = ", ".join(senders[:3]) + (f" and {len(senders) - 3} more" if len(senders) > 3 else "")
    return title, f"From {who}. Latest, {last_title}: {last_body}"


def plain_summary(text: str) -> str:
    """A summary for a daemon that may parse markup in it: no markup characters left."""
    return text.replace("&", "＆").replace("<", "‹").replace(">", "›")


class DesktopNotifications:
    """Create on the Tk thread; :meth:`show` from it; :meth:`close` at the end.

    ``sender`` replaces desktop-notifier (tests); by default the first :meth:`show` starts the
    thread and loads the library, and if the library is missing, nothing is shown.
    """

    def __init__(self, *, sender: Sender | None = None, min_interval: float = MIN_INTERVAL):
        self._sender = sender
        self.min_interval = min_interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        # Owned by the loop thread from here on.
        self._pending: list[tuple[str, str]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_sent = float("-inf")
        self._notifier: object | None = None
        self._markup: bool | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: list[tuple[str, str]] = []  # what reached the library, as sent (tests)
        self.failures = 0

    @property
    def available(self) -> bool:
        """Whether notifications can be sent at all (the library is installed)."""
        if self._sender is not None:
            return True
        try:
            import desktop_notifier  # noqa: F401
        except Exception:  # not installed, or broken in a bundle: no notifications, no crash
            return False
        return True

    def show(self, title: str, body: str) -> None:
        """Queue a notification. Returns at once; safe to call from any thread."""
        loop = self._ensure_loop()
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            loop.call_soon_threadsafe(self._submit, title, body)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the loop thread (notifications already on screen stay there)."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until what was queued so far has been handed over (tests)."""
        loop = self._loop
        if loop is None:
            return
        done = threading.Event()

        def check() -> None:
            if not self._pending and self._flush_handle is None and not self._busy():
                done.set()
            else:
                loop.call_later(0.02, check)

        loop.call_soon_threadsafe(check)
        done.wait(timeout)

    # -- the loop thread ------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            if self._closed or not self.available:
                return None
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._run, args=(self._loop,), name="socketchat-notify", daemon=True
                )
                self._thread.start()
            return self._loop

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def _busy(self) -> bool:
        return any(not task.done() for task in self._tasks)

    def _submit(self, title: str, body: str) -> None:
        loop = asyncio.get_running_loop()
        self._pending.append((title, body))
        if self._flush_handle is None:
            delay = max(0.0, self._last_sent + self.min_interval - loop.time())
            self._flush_handle = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        items, self._pending = self._pending, []
        self._flush_handle = None
        if not items:
            return
        self._last_sent = loop.time()
        title, body = summarise(items)
        task = loop.create_task(self._send(title, body))
        self._tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._tasks.discard)

    async def _send(self, title: str, body: str) -> None:
        try:
            if self._sender is not None:
                self.sent.append((title, body))
                await self._sender(title, body)
                return
            await self._send_with_library(title, body)
        except Exception:  # a daemon that went away, a refused toast: never the chat's problem
            self.failures += 1
            log.warning("desktop notification not shown", exc_info=True)

    async def _send_with_library(self, title: str, body: str) -> None:
        # desktop-notifier finds its default icon through importlib.resources by package name,
        # which PyInstaller cannot see: importing the package here makes the bundle carry it.
        import desktop_notifier.resources  # noqa: F401
        from desktop_notifier import DesktopNotifier, Icon

        if self._notifier is None:
            icon = assets_dir() / "icon-128.png"
            self._notifier = DesktopNotifier(
                app_name=APP_NAME, app_icon=Icon(path=icon) if icon.exists() else None
            )
        if self._markup is None:
            self._markup = await _server_has_body_markup()
        if self._markup:
            title, body = plain_summary(title), html.escape(body, quote=False)
        self.sent.append((title, body))
        if isinstance(self._notifier, DesktopNotifier):
            await self._notifier.send(title=title, message=body)


async def _server_has_body_markup() -> bool:
    """Linux: whether the notification daemon reads bodies as markup. Elsewhere False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        bus = await MessageBus().connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.Notifications",
                    path="/org/freedesktop/Notifications",
                    interface="org.freedesktop.Notifications",
                    member="GetCapabilities",
                )
            )
        finally:
            bus.disconnect()
    except Exception:
        return True  # cannot tell: escaping is the safe side
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return True
    return "body-markup" in reply.body[0]
