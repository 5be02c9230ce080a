"""What the app shows instead of the login view when this device's identity cannot be loaded.

The identity (``net.client.load_identity``) is read once at start. A damaged, foreign or
unreadable file is never replaced by a new identity: that would silently change this device's
safety code for everyone who verified it. The app then shows :class:`IdentityProblemView`:
what is wrong (the loader's own sentence names the file and the fault), what to do, the
folder with a Copy button, and Quit. :func:`identity_problem_text` words it without Tk.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from gui.errors import failure_text
from gui.theme import current_palette
from net.client import ErrorKind

HEADING = "SocketChat cannot use this device's identity"


def identity_problem_text(error: BaseException) -> str:
    """The explanation for ``error`` from ``load_identity``: what happened, what to do."""
    if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
        where = f" ({error.filename})" if error.filename else ""
        detail = f"It could not be read{where}: {error.strerror or error}."
        return f"{failure_text(ErrorKind.IDENTITY_UNAVAILABLE)} {detail}"
    # KeyFileError (a ValueError) already says which file, what is wrong and what to do.
    return f"This device's identity file cannot be used. {error}"


class IdentityProblemView(ttk.Frame):
    """Grid this into the root instead of the login view; ``on_quit`` closes the app."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        text: str,
        folder: Path | None,
        on_quit: Callable[[], None],
    ) -> None:
        super().__init__(master, padding=(24, 20, 24, 16))
        palette = current_palette(self)
        self.text = text
        self.folder = str(folder) if folder is not None else ""
        self.columnconfigure(0, weight=1)
        ttk.Label(
            self, text="⚠ " + HEADING, style="Header.TLabel", foreground=palette.warning
        ).grid(row=0, column=0, columnspan=2, sticky="w")
        ttk.Label(self, text=text, wraplength=460, justify="left").grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(10, 0)
        )
        row = 2
        if self.folder:
            ttk.Label(
                self, text="The identity is kept in this folder:", foreground=palette.muted
            ).grid(row=row, column=0, columnspan=2, sticky="w", pady=(12, 0))
            self._folder_var = tk.StringVar(self, self.folder)
            entry = ttk.Entry(self, textvariable=self._folder_var, font="SocketChatMono")
            entry.state(["readonly"])
            entry.grid(row=row + 1, column=0, sticky="ew", pady=(4, 0))
            ttk.Button(self, text="Copy", command=self.copy_folder).grid(
                row=row + 1, column=1, sticky="e", padx=(8, 0), pady=(4, 0)
            )
            row += 2
        self.quit_button = ttk.Button(
            self, text="Quit", style="Accent.TButton", command=on_quit, default="active"
        )
        self.quit_button.grid(row=row, column=0, columnspan=2, sticky="e", pady=(16, 0))
        self.winfo_toplevel().bind("<Escape>", lambda _e: on_quit())

    def copy_folder(self) -> None:
        self.clipboard_clear()
        self.clipboard_append(self.folder)
