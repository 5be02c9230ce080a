"""The tray icon on X11: pystray's XEmbed icon (its ``xorg`` backend), completed.

pystray 0.19.5's X11 icon (the one it can use without PyGObject and GTK, and the one the
packaged app carries) leaves four things undone, all fixed here in a subclass, against the
pinned version (``requirements.txt``; ``tests/gui/test_tray.py`` clicks a real tray):

* its window never asks for button events, so a click on the icon does nothing (pystray
  issue 151): it asks for them here, and a left click runs the menu's default item;
* it has no menu: a right click is handed to ``on_menu(x, y)``, and the app shows the same
  items in a Tk menu there;
* it asks the tray to dock the icon again on every show, which some trays (trayer) answer by
  losing it: it asks once here, and again only when a new tray takes over;
* it paints the icon on black, stretched to the tray's slot: here it keeps its shape, centred,
  and the tray's own background shows around it (the window's background is its parent's, and
  only the icon's opaque pixels are painted).

It also says whether a tray is there at all (:meth:`XEmbedIcon.tray_present`) and whether it has
embedded the icon (:meth:`XEmbedIcon.dock_check`), which pystray does not; ``gui/tray.py`` uses
both so that the window is never hidden behind an icon nobody can see.

Import this only from the tray's thread, after ``import pystray`` worked: on Linux pystray
opens the display when imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import Xlib.display
import Xlib.error
import Xlib.X
from PIL import Image
from pystray import _xorg

_EVENTS = Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
_LEFT, _RIGHT = 1, 3


class XEmbedIcon(_xorg.Icon):
    """pystray's X11 icon with clicks, a menu request and a clean image (see the module)."""

    def __init__(self, *args: Any, on_menu: Callable[[int, int], None], **kwargs: Any) -> None:
        self._on_menu = on_menu
        self._painted: tuple[tuple[int, int], Any, Any, int, int] | None = None
        # The watching thread's own connection and its view of the icon's window, while
        # dock_check is open (see retitle).
        self._watcher: tuple[Any, Any] | None = None
        super().__init__(*args, **kwargs)

    def tray_present(self) -> bool:
        """Whether a tray owns this screen's system tray selection (the XEmbed tray spec)."""
        owner = self._display.get_selection_owner(self._net_system_tray_sx)
        return bool(getattr(owner, "id", owner))

    def stop(self) -> None:
        """End the icon from any thread, at once. pystray's own stop hands the work to the
        icon's loop and waits for it, forever if the loop has ended (a tray that died takes
        the icon's window with it): here the window is destroyed over a connection of its
        own, which ends the loop if it still runs (pystray stops at its window's end)."""
        self._running = False  # nothing left for pystray's stop at collection either
        with contextlib.suppress(Exception):
            display = Xlib.display.Display(self._display.get_display_name())
            try:
                window = display.create_resource_object("window", self._window.id)
                window.destroy(onerror=lambda *_: None)  # gone already: nothing to do
                display.sync()
            finally:
                display.close()

    def discard(self) -> None:
        """An icon that will not run (no tray): its window goes now, its display connection
        with the icon (pystray closes it when the icon is collected)."""
        with contextlib.suppress(Exception):
            self._window.destroy()
            self._display.flush()

    @contextlib.contextmanager
    def dock_check(self) -> Iterator[Callable[[], bool]]:
        """``docked()``: whether a tray has embedded the icon (its window is no longer the
        screen's child). For the one thread that watches the icon: it asks over an X
        connection of its own, since python-xlib's replies can go astray when two threads
        wait on one connection."""
        display = Xlib.display.Display(self._display.get_display_name())
        window = display.create_resource_object("window", self._window.id)

        def docked() -> bool:
            try:
                tree = window.query_tree()
            except Xlib.error.XError:  # the window is gone
                return False
            return bool(tree.parent.id != tree.root.id)

        self._watcher = (display, window)
        try:
            yield docked
        finally:
            self._watcher = None
            display.close()

    def retitle(self, title: str) -> None:
        """Change the tooltip, from the thread inside :meth:`dock_check`, over that thread's
        own connection. pystray's ``title`` setter hands the change to its loop over the
        icon's connection and waits for it; under load that hand-over was seen to leave the
        old tooltip for good (a full test run: the unread count never reached the icon)."""
        self._title = title  # what pystray's ``title`` reads
        watcher = self._watcher
        if watcher is None:  # not watched (never the case in gui/tray.py): pystray's way
            self._update_title()
            return
        display, window = watcher
        with contextlib.suppress(Xlib.error.XError):  # the window is gone: nothing to title
            window.set_wm_name(_latin1(title))
            display.flush()

    # -- pystray's hooks (called on its loop's thread) -----------------------------------------

    def _create_window(self) -> Any:
        window = super()._create_window()
        window.change_attributes(event_mask=_EVENTS, background_pixmap=Xlib.X.ParentRelative)
        return window

    def _update_title(self) -> None:
        self._window.set_wm_name(_latin1(self.title))

    def _assert_docked(self) -> None:
        # pystray asks to be docked on every show and every new image, even when it is in
        # the tray already; a tray given a second request for the same icon may move it to a
        # new slot and destroy the old one with the icon inside, which leaves it on the screen.
        if not self._systray_manager:
            self._dock_window()
        assert self._systray_manager  # pystray's own check, and what it catches

    def _on_button_press(self, event: Any) -> None:
        if event.detail == _RIGHT:
            self._on_menu(event.root_x, event.root_y)
        elif event.detail == _LEFT:
            super()._on_button_press(event)  # the menu's default item

    def _draw(self) -> None:
        try:
            geometry = self._window.get_geometry()
            size = (geometry.width, geometry.height)
            if self._painted is None or self._painted[0] != size:
                self._painted = self._prepare(size)
            _, image, mask, x, y = self._painted
            self._window.clear_area()  # the tray's background, then the icon's opaque pixels
            self._gc.change(clip_mask=mask, clip_x_origin=x, clip_y_origin=y)
            self._put_image(image, x, y, geometry.depth)
            self._display.flush()
        except Xlib.error.BadDrawable:
            pass  # the window is gone: the icon is stopping

    def _put_image(self, image: Any, x: int, y: int, depth: int) -> None:
        if depth == 24:
            self._window.put_pil_image(self._gc, x, y, image)
        elif depth == 16:  # python-xlib draws only 24 bits; VNC and Xvfb often use 16
            lsb = self._window.display.info.image_byte_order == Xlib.X.LSBFirst
            width, height = image.size
            data = _rgb565(image, little_endian=lsb)
            self._window.put_image(self._gc, x, y, width, height, Xlib.X.ZPixmap, 16, 0, data)

    def _prepare(self, size: tuple[int, int]) -> tuple[tuple[int, int], Any, Any, int, int]:
        """The icon scaled to fit ``size`` (square, centred) and a mask of its opaque pixels."""
        if self._painted is not None:
            self._painted[2].free()
        side = max(1, min(size))
        scaled = self._icon.convert("RGBA").resize((side, side), Image.Resampling.LANCZOS)
        opaque = scaled.getchannel("A").point(lambda alpha: 255 if alpha >= 128 else 0)
        mask = self._window.create_pixmap(side, side, 1)
        mask_gc = mask.create_gc(foreground=1, background=0)
        mask.put_pil_image(mask_gc, 0, 0, opaque.convert("1"))
        mask_gc.free()
        x, y = (size[0] - side) // 2, (size[1] - side) // 2
        return size, scaled.convert("RGB"), mask, x, y


def _rgb565(image: Any, *, little_endian: bool) -> bytes:
    """An RGB image as 16-bit pixels (5 bits red, 6 green, 5 blue), rows padded to 32 bits."""
    width, height = image.size
    order = "little" if little_endian else "big"
    pad = b"\0\0" * (width % 2)
    rgb = image.tobytes()
    rows = []
    for row in range(height):
        line = bytearray()
        for start in range(row * width * 3, (row + 1) * width * 3, 3):
            red, green, blue = rgb[start : start + 3]
            value = (red >> 3) << 11 | (green >> 2) << 5 | blue >> 3
            line += value.to_bytes(2, order)
        rows.append(bytes(line) + pad)
    return b"".join(rows)


def _latin1(title: str) -> str:
    # WM_NAME is a Latin-1 STRING: pystray's own would fail on any other character.
    return title.encode("latin-1", "replace").decode("latin-1")
