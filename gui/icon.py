"""Put the app icon (drawn by ``tools/make_icon.py``, kept in ``assets/``) on the windows.

Call :func:`set_app_icon` once on the root right after creating it: ``iconphoto(True, …)``
makes every later Toplevel inherit the icon, and on Windows the .ico also gives the taskbar
its small and large sizes.
"""

from __future__ import annotations

import contextlib
import sys
import tkinter as tk
from pathlib import Path

_PNG_SIZES = (16, 32, 48, 64, 128, 256)


def assets_dir() -> Path:
    """The assets folder, also inside a PyInstaller bundle (``sys._MEIPASS``)."""
    base = getattr(sys, "_MEIPASS", None)
    if base is not None:
        return Path(base) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def set_app_icon(root: tk.Tk) -> list[tk.PhotoImage]:
    """Set the icon on ``root`` and its future Toplevels; return the images (keep them alive).

    A missing or unreadable file only costs the icon, never the start of the app.
    """
    folder = assets_dir()
    images: list[tk.PhotoImage] = []
    for size in _PNG_SIZES:
        path = folder / f"icon-{size}.png"
        try:
            images.append(tk.PhotoImage(master=root, file=str(path)))
        except tk.TclError:
            continue
    if images:
        # Largest first: some window managers take the first image as the preferred one.
        root.iconphoto(True, *reversed(images))
    if sys.platform == "win32":
        with contextlib.suppress(tk.TclError):
            root.iconbitmap(default=str(folder / "icon.ico"))
    root.__dict__["_socketchat_icons"] = images  # Tk keeps no reference
    return images
