"""Where a window may go: the screen's work area, and a size and place that fit in it.

:func:`fit` is a plain function (tests call it without a display); :func:`work_area` asks the
system: on Windows the work area (the screen less the taskbar, ``SPI_GETWORKAREA``), elsewhere
the screen Tk reports, less a margin for panels and docks it cannot see.
"""

from __future__ import annotations

import sys
import tkinter as tk
from typing import NamedTuple

# What panels, docks and title bars may take on X11 and macOS, where Tk cannot see them.
_PANEL_MARGIN = (0, 32, 0, 48)  # left, top, right, bottom
_TITLE_BAR = 32  # the window manager's decoration above the window Tk places


class Area(NamedTuple):
    x: int
    y: int
    width: int
    height: int


def fit(size: tuple[int, int], position: tuple[int, int], area: Area) -> tuple[int, int, int, int]:
    """``(width, height, x, y)``: ``size`` shrunk to fit ``area`` (title bar included), and
    ``position`` moved so the whole window is inside it."""
    width = max(1, min(size[0], area.width))
    height = max(1, min(size[1], area.height - _TITLE_BAR))
    x = min(max(position[0], area.x), area.x + area.width - width)
    y = min(max(position[1], area.y), area.y + area.height - height - _TITLE_BAR)
    return width, height, x, max(area.y, y)


def work_area(root: tk.Misc) -> Area:
    """The part of the screen windows should stay in."""
    if sys.platform == "win32":
        found = _windows_work_area()
        if found is not None:
            return found
    left, top, right, bottom = _PANEL_MARGIN
    return Area(
        left,
        top,
        root.winfo_screenwidth() - left - right,
        root.winfo_screenheight() - top - bottom,
    )


def _windows_work_area() -> Area | None:
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    rect = wintypes.RECT()
    spi_getworkarea = 0x0030
    if not ctypes.windll.user32.SystemParametersInfoW(spi_getworkarea, 0, ctypes.byref(rect), 0):
        return None
    return Area(rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top)


def place_within(root: tk.Tk, size: tuple[int, int]) -> str:
    """Resize ``root`` to ``size`` (shrunk if needed), keeping it on screen; returns the
    geometry string it set."""
    root.update_idletasks()
    width, height, x, y = fit(size, (root.winfo_x(), root.winfo_y()), work_area(root))
    geometry = f"{width}x{height}+{x}+{y}"
    root.geometry(geometry)
    return geometry
