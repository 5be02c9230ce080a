"""The tray picture, for docs/screenshots/ (run through tools/screenshots.py):

    xvfb-run -a -s "-screen 0 1280x900x24" python tools/screenshots.py tray [FOLDER]

The real app in a room of a real relay on 127.0.0.1, with "Keep running in the tray when the
window is closed" on (View menu) and the window closed; a real XEmbed system tray (``trayer``,
at the bottom right of the screen, as a panel would be) holds the icon, and a right click on
the icon has opened its menu:

- ``tray.png``: the tray with the icon and its menu (Show SocketChat, Quit SocketChat).

Needs ``trayer`` and ``xdotool``. A plain window of the desktop's colour lies under the tray
(Xvfb's screen is black, and there is no window manager to paint a desktop).
Settings and identities go to temporary folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tkinter as tk
from pathlib import Path
from types import ModuleType

from crypto.kdf import derive_room_keys
from gui.app import App
from gui.notify import DesktopNotifications
from gui.tray import TrayAction
from net.relay import RelayConfig, RelayThread, RoomSecret

CHEAP = 2**10  # the picture's room: a cheap scrypt, never the product's
PASSWORD = "tray picture, not a real room"  # noqa: S105
DESKTOP = "#3c4a5c"  # the screen behind the tray, as a desktop's background would be
_TRAYER = (
    "trayer",
    "--edge",
    "bottom",
    "--align",
    "right",
    "--widthtype",
    "percent",
    "--width",
    "100",
)


def _run(*command: str) -> str:
    """A desktop tool (xdotool) run to its end; what it printed."""
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout


def tray_picture(folder: Path, shots: ModuleType) -> None:
    for tool in ("trayer", "xdotool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"the tray picture needs {tool} (apt-get install {tool})")
    tray = subprocess.Popen(  # noqa: S603
        [*_TRAYER, "--height", "30", "--SetDockType", "false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    keys = derive_room_keys(PASSWORD, room_id=os.urandom(16), n=CHEAP)
    relay = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    port = relay.start()
    root = tk.Tk(className="socketchat")
    desktop = tk.Toplevel(root, background=DESKTOP)
    desktop.overrideredirect(True)
    desktop.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
    desktop.update()
    desktop.lower()  # under the tray, which was there first
    try:
        app = App(
            root,
            settings_dir=shots.temp_dir("socketchat-tray-settings-"),
            data_dir=shots.temp_dir("socketchat-tray-data-"),
            kdf_cost=CHEAP,
            bind_host="127.0.0.1",
            confirm=lambda *_: True,
            notifications=DesktopNotifications(sender=shots._quiet),
            system_dark=lambda: False,
        )
        login = app.login
        assert login is not None
        for field, value in (("host", "127.0.0.1"), ("port", str(port))):
            login.vars[field].set(value)
        login.vars["password"].set(PASSWORD)
        login.vars["username"].set("alice")
        login.connect()
        shots.pump(root, lambda: app.chat is not None and app.chat.connected)

        app.keep_in_tray.set(True)  # View → Keep running in the tray when the window is closed
        shots.pump(root, lambda: app.tray_flow.shown)
        app.request_close()  # the close box: the window hides, the room stays
        shots.settle(root, 1.0)

        [window] = _run("xdotool", "search", "--classname", "socketchatSystemTrayIcon").split()
        _run("xdotool", "mousemove", "--window", window, "8", "8", "click", "3")  # its menu
        shots.pump(
            root, lambda: app.tray_flow.menu is not None and app.tray_flow.menu.winfo_ismapped()
        )
        menu = app.tray_flow.menu
        assert menu is not None
        # The pointer on Show SocketChat, as a person about to choose it.
        y = menu.winfo_rooty() + menu.yposition(list(TrayAction).index(TrayAction.SHOW)) + 8
        _run("xdotool", "mousemove", str(menu.winfo_rootx() + 30), str(y))
        shots.settle(root, 0.5)
        right = root.winfo_screenwidth()
        bottom = root.winfo_screenheight()
        left = max(0, min(menu.winfo_rootx() - 60, right - 400))
        top = max(0, min(menu.winfo_rooty() - 50, bottom - 160))
        shots.grab_screen("tray.png", (right - left, bottom - top, left, top), folder / "tray.png")
        menu.unpost()
        app.close()
    finally:
        with contextlib.suppress(tk.TclError):
            root.destroy()
        relay.stop()
        tray.terminate()
        tray.wait(10)
