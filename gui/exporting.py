"""Export… (the room's menu): write what this device kept of a room to a file.

:class:`ExportDialog` is a small themed dialog, laid out hidden then shown, modal, Return and
Escape bound (like ``gui/dialogs.py``): how many messages this device kept of the room, a
choice of format (plain text, a web page, JSON for programs), the file (typed, or **Choose…**
with the system's save dialog; the suffix follows the format), and a sentence saying that the
file holds what was end-to-end encrypted. **Export** writes it with
``net.client.export`` (whole or not at all, readable by its owner only) and the dialog says
how it went; a folder that cannot be written is said there, in plain words, and nothing is left
behind.

:func:`export_problem` is the plain check of what was typed, tested without a display.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import filedialog, ttk

from gui.safetext import display_name
from gui.theme import current_palette
from net import client as net_client  # its export(): not imported by name, a module has it
from net.client import ExportFormat, StoredMessage

FORMATS: tuple[tuple[ExportFormat, str, str], ...] = (
    (ExportFormat.TEXT, "Plain text (.txt)", ".txt"),
    (ExportFormat.HTML, "Web page (.html)", ".html"),
    (ExportFormat.JSON, "JSON, for programs (.json)", ".json"),
)
_SUFFIX = {fmt: suffix for fmt, _label, suffix in FORMATS}
WARNING = (
    "The file holds what was end-to-end encrypted, in the clear: keep it where only you can "
    "read it."
)


def export_problem(path_text: str) -> str | None:
    """What is wrong with the file typed (None: it can be tried)."""
    text = path_text.strip()
    if not text:
        return "Choose where to write the file."
    path = Path(text).expanduser()
    if path.exists() and path.is_dir():
        return "That is a folder: add a file name."
    if not path.parent.exists():
        return f"The folder {path.parent} does not exist."
    return None


def with_suffix(path_text: str, fmt: ExportFormat) -> str:
    """The path with the format's suffix (replacing another export suffix, if any)."""
    path = Path(path_text.strip()).expanduser()
    if path.suffix.lower() in {".txt", ".text", ".html", ".htm", ".json"}:
        path = path.with_suffix("")
    return str(path) + _SUFFIX[fmt]


class ExportDialog(tk.Toplevel):
    """Export the ``messages`` of the room ``label`` (oldest first). ``result`` is the file
    written, or None; ``on_done(path)`` is called after a successful export."""

    def __init__(
        self,
        parent: tk.Misc,
        *,
        label: str,
        messages: Sequence[StoredMessage],
        folder: Path,
        on_done: Callable[[Path], None] | None = None,
        ask_path: Callable[..., str] = filedialog.asksaveasfilename,
    ) -> None:
        super().__init__(parent)
        self.withdraw()
        self.title("Export this room")
        self.resizable(False, False)
        self.transient(parent.winfo_toplevel())
        palette = current_palette(self)
        self._label = label
        self._messages = list(messages)
        self._on_done = on_done
        self._ask_path = ask_path
        self.result: Path | None = None
        self.fmt = tk.StringVar(self, ExportFormat.TEXT.value)
        name = "".join(c if c.isalnum() or c in "-_ " else "_" for c in label).strip() or "room"
        self.path = tk.StringVar(self, str(folder / f"{name}.txt"))
        self.problem = tk.StringVar(self, "")
        frame = ttk.Frame(self, padding=(22, 18, 22, 16))
        frame.grid(sticky="nsew")
        frame.columnconfigure(0, weight=1)
        ttk.Label(frame, text=f"Export {display_name(label)}", style="Header.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w"
        )
        count = len(self._messages)
        what = "1 message" if count == 1 else f"{count:,} messages"
        ttk.Label(
            frame,
            text=f"{what} that this device kept of this room, oldest first.",
            wraplength=420,
        ).grid(row=1, column=0, columnspan=2, sticky="w", pady=(6, 10))
        ttk.Label(frame, text="Format").grid(row=2, column=0, sticky="w")
        self.format_buttons: list[ttk.Radiobutton] = []
        for row, (fmt, text, _suffix) in enumerate(FORMATS, start=3):
            button = ttk.Radiobutton(
                frame, text=text, value=fmt.value, variable=self.fmt, command=self._format_chosen
            )
            button.grid(row=row, column=0, columnspan=2, sticky="w", padx=(12, 0))
            self.format_buttons.append(button)
        ttk.Label(frame, text="File").grid(row=6, column=0, sticky="w", pady=(10, 0))
        self.entry = ttk.Entry(frame, textvariable=self.path, width=48)
        self.entry.grid(row=7, column=0, sticky="ew")
        self.choose_button = ttk.Button(frame, text="Choose…", command=self.choose_file)
        self.choose_button.grid(row=7, column=1, padx=(8, 0))
        ttk.Label(frame, text=WARNING, foreground=palette.muted, wraplength=420).grid(
            row=8, column=0, columnspan=2, sticky="w", pady=(10, 0)
        )
        self.problem_label = ttk.Label(
            frame, textvariable=self.problem, foreground=palette.warning, wraplength=420
        )
        self.problem_label.grid(row=9, column=0, columnspan=2, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=10, column=0, columnspan=2, sticky="e", pady=(14, 0))
        self.cancel_button = ttk.Button(buttons, text="Cancel", command=self.cancel)
        self.cancel_button.grid(row=0, column=0, padx=(0, 8))
        self.export_button = ttk.Button(
            buttons, text="Export", style="Accent.TButton", default="active", command=self.ok
        )
        self.export_button.grid(row=0, column=1)
        if not self._messages:
            self.problem.set("This device kept nothing of this room yet.")
            self.export_button.state(["disabled"])
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.bind("<Escape>", lambda _e: self.cancel())
        self.bind("<Return>", self._on_return)
        self.bind("<KP_Enter>", self._on_return)
        self.update_idletasks()
        top = parent.winfo_toplevel()
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + max(0, (top.winfo_height() - self.winfo_reqheight()) // 3)
        self.geometry(f"+{x}+{y}")
        self.deiconify()
        self.export_button.focus_set()
        with contextlib.suppress(tk.TclError):
            self.grab_set()

    @property
    def chosen_format(self) -> ExportFormat:
        return ExportFormat(self.fmt.get())

    def _format_chosen(self) -> None:
        self.path.set(with_suffix(self.path.get(), self.chosen_format))

    def choose_file(self) -> None:
        """Choose…: the system's save dialog, starting where the path points."""
        current = Path(self.path.get().strip()).expanduser()
        chosen = self._ask_path(
            parent=self,
            title="Export to",
            initialdir=str(current.parent),
            initialfile=current.name,
            defaultextension=_SUFFIX[self.chosen_format],
        )
        if chosen:
            self.path.set(str(chosen))

    def _on_return(self, _event: tk.Event) -> str:
        if self.focus_get() is self.cancel_button:
            self.cancel()
        elif self.focus_get() is self.choose_button:
            self.choose_file()
        else:
            self.ok()
        return "break"

    def ok(self) -> None:
        """Export: check the path, write the file, close (or say what went wrong)."""
        if not self._messages:
            return
        problem = export_problem(self.path.get())
        if problem is not None:
            self.problem.set(problem)
            return
        out = Path(self.path.get().strip()).expanduser()
        try:
            net_client.export(
                self._messages, room_label=self._label, fmt=self.chosen_format, out=out
            )
        except OSError as error:
            self.problem.set(f"The file could not be written: {error.strerror or error}.")
            return
        self.result = out
        self._finish()
        if self._on_done is not None:
            self._on_done(out)

    def cancel(self) -> None:
        self._finish()

    def _finish(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.grab_release()
        self.destroy()
