"""Show in folder: open the folder that holds a saved file in the system's file manager.

Only ever the folder (on Windows and macOS with the file selected in it), never the file: a
received file is not opened or run by SocketChat. The file manager is started in the background
and not waited for; a failure to start one is ignored (the "Saved to …" line still says where
the file is).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path


def folder_command(path: Path, platform: str = sys.platform) -> list[str]:
    """The command that shows ``path``'s folder (``path`` selected where the platform can)."""
    if platform == "win32":
        return ["explorer", f"/select,{path}"]
    if platform == "darwin":
        return ["open", "-R", str(path)]
    return ["xdg-open", str(path.parent)]


def show_in_folder(path: Path) -> None:
    """Open the folder holding ``path`` (call on the Tk thread: it only starts a process)."""
    with contextlib.suppress(OSError):
        subprocess.Popen(  # noqa: S603 - a fixed program; the path is one argument
            folder_command(path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
