"""Links in the conversation: what is under the pointer, its tooltip, and a click on it.

A body's links (found by ``gui/links.py`` and tagged ``link`` by the message list) show their
exact target in a tooltip and, through ``on_hover``, in the status line while the pointer is
on them. A click (a press and release on the same link, not a drag that selects text) opens an
``http``/``https`` link in the browser, on a thread of its own, and copies any other scheme to
the clipboard instead, saying so in a small notice over the list.

The message list (``gui/messages.py``) owns one :class:`LinkHover`; only the Tk thread calls
it. :func:`link_at` is the one place a link is read back from the list, checked again.
"""

from __future__ import annotations

import threading
import tkinter as tk
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING

from gui.links import find_links, opens_in_browser

if TYPE_CHECKING:
    from gui.messages import MessageList


def open_in_browser(url: str) -> None:
    """Open ``url`` in the browser, off the Tk thread."""
    # webbrowser may run a command and wait for it (a text-mode browser): never on the Tk
    # thread. The thread touches no widget.
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def link_at(text: tk.Text, index: str) -> str | None:
    """The link under ``index`` ("@x,y", "3.5"…) of the list's ``text``, exactly as shown,
    or None."""
    if "link" not in text.tag_names(index):
        return None
    found = text.tag_prevrange("link", f"{index} + 1 char")
    if not found:
        return None
    url = text.get(found[0], found[1])
    # The tag was put there by find_links; checking again costs nothing and means a link
    # can only ever be what detection accepts.
    links = find_links(url)
    return url if len(links) == 1 and links[0].url == url else None


class LinkHover:
    """Binds the ``link`` tag of ``messages.text``: hover, tooltip, click. ``open_url`` opens
    a link in the browser; ``on_hover(url or None)`` tells where the pointer is."""

    def __init__(
        self,
        messages: MessageList,
        *,
        open_url: Callable[[str], None],
        on_hover: Callable[[str | None], None] | None,
    ) -> None:
        self._messages = messages
        self._open_url = open_url
        self._on_hover = on_hover
        self._tooltip: tk.Toplevel | None = None
        self._tooltip_label: tk.Label | None = None
        self._pressed: tuple[str, str] | None = None
        text = messages.text
        text.tag_bind("link", "<Enter>", self._on_enter)
        text.tag_bind("link", "<Motion>", self._on_enter)
        text.tag_bind("link", "<Leave>", self._on_leave)
        text.tag_bind("link", "<ButtonPress-1>", self._on_press)
        text.tag_bind("link", "<ButtonRelease-1>", self._on_release)

    def activate(self, url: str) -> None:
        """A click on a link: open http(s) in the browser, copy anything else and say so."""
        messages = self._messages
        if opens_in_browser(url):
            self._open_url(url)
            messages.flash(f"Opening {_short(url)} in your browser…")
        else:
            messages.copy_text(url)
            messages.flash(
                f"Copied {_short(url)} to the clipboard: SocketChat opens only http and https "
                "links in the browser."
            )

    @property
    def tooltip_text(self) -> str:
        """What the link tooltip shows now ("" when hidden)."""
        if self._tooltip_label is None:
            return ""
        return str(self._tooltip_label.cget("text"))

    def hide_tooltip(self) -> None:
        if self._tooltip is not None:
            self._tooltip.destroy()
            self._tooltip = None
            self._tooltip_label = None

    def _on_enter(self, event: tk.Event) -> None:
        text = self._messages.text
        url = link_at(text, f"@{event.x},{event.y}")
        text.configure(cursor="hand2" if url else "xterm")
        if url is None:
            self.hide_tooltip()
            return
        what = (
            "Opens in your browser:"
            if opens_in_browser(url)
            else "Not a web link; a click copies it:"
        )
        self._show_tooltip(f"{what}\n{url}", event.x_root, event.y_root)
        if self._on_hover is not None:
            self._on_hover(url)

    def _on_leave(self, _event: tk.Event) -> None:
        self._messages.text.configure(cursor="xterm")
        self.hide_tooltip()
        if self._on_hover is not None:
            self._on_hover(None)

    def _on_press(self, event: tk.Event) -> None:
        text = self._messages.text
        index = f"@{event.x},{event.y}"
        url = link_at(text, index)
        found = text.tag_prevrange("link", f"{index} + 1 char")
        self._pressed = (url, str(found[0])) if url and found else None

    def _on_release(self, event: tk.Event) -> None:
        pressed, self._pressed = self._pressed, None
        text = self._messages.text
        if pressed is None or text.tag_ranges("sel"):
            return  # a drag that selected text is not a click
        index = f"@{event.x},{event.y}"
        found = text.tag_prevrange("link", f"{index} + 1 char")
        url = link_at(text, index)
        if url is not None and found and (url, str(found[0])) == pressed:
            self.hide_tooltip()
            self.activate(url)

    def _show_tooltip(self, text: str, x: int, y: int) -> None:
        if self._tooltip is None:
            p = self._messages.palette
            self._tooltip = tk.Toplevel(self._messages, background=p.border)
            self._tooltip.wm_overrideredirect(True)
            self._tooltip_label = tk.Label(
                self._tooltip,
                justify="left",
                wraplength=560,
                background=p.surface,
                foreground=p.text,
                font="SocketChatSmall",
                padx=8,
                pady=5,
            )
            self._tooltip_label.pack(padx=1, pady=1)
        label = self._tooltip_label
        if label is not None and label.cget("text") != text:
            label.configure(text=text)
        self._tooltip.wm_geometry(f"+{x + 14}+{y + 18}")


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
