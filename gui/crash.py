"""What the desktop app does when it crashes: a log file and a readable dialog, no bare traceback.

``main.py`` runs the app through :func:`run_guarded`. An exception that escapes it (or one
raised in a Tk callback, once :func:`install_tk_handler` is set on the root, or in a worker
thread) is written to a log file in the per-user log folder
(``platformdirs.user_log_dir("SocketChat")``); the person sees a message box that says where
the file is. The packaged Windows build has no console, so without this a crash would show
PyInstaller's raw traceback window, or nothing at all.

The log holds the traceback, the version and the platform: no local variables, no settings and
no command line, so no password can end up in it (the app never puts one in an exception's
message). This module imports neither tkinter nor platformdirs at the top, so it still works
when one of them is what failed to load.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from version import __version__

EXIT_CRASH = 70  # EX_SOFTWARE: an internal error


def log_dir() -> Path:
    """The per-user folder for crash logs (created when the first log is written)."""
    try:
        from platformdirs import user_log_dir
    except ImportError:  # cannot happen in a working install; keep the crash report anyway
        return Path.home() / ".socketchat" / "logs"
    return Path(user_log_dir("SocketChat", appauthor=False))


def write_crash_log(
    error: BaseException, *, where: str = "the desktop app", directory: Path | None = None
) -> Path | None:
    """Write ``error``'s traceback to a new log file; return its path (None if it cannot)."""
    folder = directory if directory is not None else log_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    frozen = "packaged" if getattr(sys, "frozen", False) else "from source"
    text = (
        f"SocketChat {__version__} ({frozen}) crashed in {where} at {time.strftime('%c')}\n"
        f"Python {platform.python_version()} on {platform.platform()}\n\n"
        + "".join(traceback.format_exception(type(error), error, error.__traceback__))
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp}-{os.getpid()}.log"
        # Owner-only, like every file the app writes about its user.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError:
        return None
    return path


def crash_message(path: Path | None) -> str:
    """The text of the crash dialog (and of the console line)."""
    where = f"The details are in:\n{path}" if path else "The details could not be saved."
    return (
        f"SocketChat stopped because of an internal error.\n\n{where}\n\n"
        "Please attach that file when you report the problem."
    )


def report_crash(
    error: BaseException,
    *,
    where: str = "the desktop app",
    directory: Path | None = None,
    parent: Any = None,
    show: Callable[[str, str, Any], None] | None = None,
) -> Path | None:
    """Log ``error``, tell the person (console line and message box); return the log's path."""
    path = write_crash_log(error, where=where, directory=directory)
    message = crash_message(path)
    if sys.stderr is not None:  # None in the windowed Windows build
        with contextlib.suppress(OSError, ValueError):
            print(f"SocketChat: {message}", file=sys.stderr)
    with contextlib.suppress(Exception):  # the dialog is a courtesy; never crash the crash
        (show or _show_dialog)("SocketChat stopped", message, parent)
    return path


def _show_dialog(title: str, message: str, parent: Any) -> None:
    import tkinter as tk
    from tkinter import messagebox

    if parent is not None:
        messagebox.showerror(title, message, parent=parent)
        return
    root = tk.Tk(className="socketchat")
    root.withdraw()
    try:
        messagebox.showerror(title, message, parent=root)
    finally:
        root.destroy()


def install_tk_handler(root: Any, *, directory: Path | None = None) -> None:
    """Route exceptions raised in ``root``'s callbacks to a log file and a dialog.

    Tk keeps running after such an exception (tkinter's default prints it, which the windowed
    build cannot show); the person is told once per exception.
    """

    def handler(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        error.__traceback__ = tb
        report_crash(error, where="a window callback", directory=directory, parent=root)

    root.report_callback_exception = handler


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    # Worker threads may not touch Tk: log only (and the console line, when there is one).
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "?"
    path = write_crash_log(args.exc_value, where=f"the thread {name}")
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(f"SocketChat: a background task failed; details in {path}", file=sys.stderr)


def run_guarded(
    start: Callable[[], int],
    *,
    directory: Path | None = None,
    show: Callable[[str, str, Any], None] | None = None,
) -> int:
    """Run ``start()`` (the desktop app); on an unexpected exception report it, return 70."""
    threading.excepthook = _thread_hook
    try:
        return start()
    except Exception as error:  # every failure must reach the person, not a bare traceback
        report_crash(error, directory=directory, show=show)
        return EXIT_CRASH
