"""A themed yes/no question, with the safe answer as the default.

:class:`ConfirmDialog` replaces ``tkinter.messagebox.askyesno`` (which draws a bare, unthemed
Tk dialog, and in dark mode a bright one): a ttk dialog laid out hidden, then shown, modal
(``transient`` + ``grab_set``), like IDLE's ``query.Query``. The safe button (Cancel) is the
default: it has the focus, Return presses the button that has the focus, Escape and the close
box answer no. :func:`ask` shows one and waits for the answer; a window that must not wait
(the chat's "Remove from room…") passes ``on_done``, called with the answer.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gui.theme import current_palette


class ConfirmDialog(tk.Toplevel):
    """Ask ``text``; ``result`` is True only if the person pressed ``confirm``."""

    def __init__(
        self,
        parent: tk.Misc,
        *,
        title: str,
        heading: str,
        text: str,
        confirm: str,
        cancel: str = "Cancel",
        on_done: Callable[[bool], None] | None = None,
        entry: str | None = None,
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_done = on_done
        self.heading_text, self.body_text = heading, text  # what it asks (tests read them)
        self.withdraw()
        self.title(title)
        self.resizable(False, False)
        self.transient(parent.winfo_toplevel())
        self.result = False
        palette = current_palette(self)
        frame = ttk.Frame(self, padding=(22, 18, 22, 16))
        frame.grid(sticky="nsew")
        ttk.Label(frame, text=heading, style="Header.TLabel").grid(row=0, column=0, sticky="w")
        ttk.Label(frame, text=text, wraplength=380, justify="left").grid(
            row=1, column=0, sticky="w", pady=(6, 0)
        )
        #: With ``entry`` (its label), the text typed there; ``check`` says what is wrong with
        #: it (or None), and the dialog stays open until it is right or cancelled.
        self.value = tk.StringVar(self)
        self._check = check
        self.problem = ttk.Label(frame, text="", foreground=palette.warning, wraplength=380)
        if entry is not None:
            row = ttk.Frame(frame)
            row.grid(row=2, column=0, sticky="ew", pady=(10, 0))
            ttk.Label(row, text=entry).grid(row=0, column=0, padx=(0, 8))
            self.entry = ttk.Entry(row, textvariable=self.value, width=28)
            self.entry.grid(row=0, column=1, sticky="ew")
            self.problem.grid(row=3, column=0, sticky="w", pady=(4, 0))
        ttk.Label(
            frame,
            text="Enter presses the highlighted button; Esc cancels.",
            foreground=palette.muted,
        ).grid(row=4, column=0, sticky="w", pady=(10, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=5, column=0, sticky="e", pady=(16, 0))
        self.confirm_button = ttk.Button(buttons, text=confirm, command=self.yes)
        self.confirm_button.grid(row=0, column=0, padx=(0, 8))
        self.cancel_button = ttk.Button(
            buttons, text=cancel, command=self.no, style="Accent.TButton", default="active"
        )
        self.cancel_button.grid(row=0, column=1)
        self.protocol("WM_DELETE_WINDOW", self.no)
        self.bind("<Escape>", lambda _e: self.no())
        # Return presses whichever button has the focus (Tab moves it), the safe one at first.
        self.bind("<Return>", self._on_return)
        self.bind("<KP_Enter>", self._on_return)
        self.update_idletasks()
        top = parent.winfo_toplevel()
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + max(0, (top.winfo_height() - self.winfo_reqheight()) // 3)
        self.geometry(f"+{x}+{y}")
        self.deiconify()
        (self.entry if entry is not None else self.cancel_button).focus_set()
        with contextlib.suppress(tk.TclError):
            self.grab_set()  # fails while another grab (a menu) is active: usable, not modal

    def _on_return(self, _event: tk.Event) -> str:
        if self.focus_get() is self.confirm_button:
            self.yes()
        else:
            self.no()
        return "break"

    def yes(self) -> None:
        if self._check is not None:
            problem = self._check(self.value.get())
            if problem is not None:
                self.problem.configure(text=problem)
                return
        self.result = True
        self._finish()

    def no(self) -> None:
        self.result = False
        self._finish()

    def close(self) -> None:
        """Close as Cancel does (the window closing, another dialog opening)."""
        self.no()

    def _finish(self) -> None:
        self.grab_release()
        self.destroy()
        if self._on_done is not None:
            on_done, self._on_done = self._on_done, None
            on_done(self.result)


def ask(parent: tk.Misc, *, title: str, heading: str, text: str, confirm: str) -> bool:
    """Show a :class:`ConfirmDialog` and wait for the answer (the Tk loop keeps running)."""
    dialog = ConfirmDialog(parent, title=title, heading=heading, text=text, confirm=confirm)
    parent.wait_window(dialog)
    return dialog.result
