"""The ways a file gets into a room: **Send a file…** (and Ctrl+O), dropping files on the
conversation or the compose box, and pasting a picture into the compose box.

Every way ends in :meth:`FileSending.send_path`, which refuses a file over the room's limit
before anything is sent (saying the limit, under the compose box) and otherwise hands it to
``gui/attachments.py`` (a card with progress and Cancel). In a private conversation the file
goes to the other person only (``private_to``).

- **Send a file…** sits beside Send; Ctrl+O does the same from the compose box, the
  conversation and the member list, and the View menu lists it. It opens the system's file
  dialog (``tkinter.filedialog.askopenfilename``).
- **Drag and drop** uses tkdnd through ``tkinterdnd2`` (its library for Linux, Windows and
  macOS ships in the wheel). Where it cannot be loaded, :attr:`FileSending.drop_enabled` is
  False and nothing is said about dropping.
- **Paste** (Ctrl+V, ``<<Paste>>``) pastes text as always when the clipboard has text. When it
  has a picture and no text, Pillow's ``ImageGrab.grabclipboard()`` reads it in a worker (on
  Linux it runs ``xclip`` or ``wl-paste``, which ask the clipboard's owner; that may be this
  very window, whose Tk thread must be free to answer), saves it as a PNG in a temporary
  folder, and the window asks whether to send it. Files copied in a file manager (Windows)
  paste as those files.

Only the Tk thread calls this; the paste worker only puts its outcome on a pump of its own.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TYPE_CHECKING

from gui.attachments import Attachments, size_problem
from gui.dialogs import ConfirmDialog
from gui.file_text import SEND_FILE, SEND_PICTURE
from gui.pump import EventPump
from net.client import describe_size

if TYPE_CHECKING:
    from gui.chat import ChatWindow

MAX_DROPPED = 20  # files sent from one drop or paste, at most (the rest are left, and said)


class FileSending:
    """Made once by the chat window, after its compose box and conversation exist."""

    def __init__(
        self,
        chat: ChatWindow,
        attachments: Attachments,
        *,
        private_to: Callable[[], bytes | None] = lambda: None,
    ) -> None:
        self._chat = chat
        self._attachments = attachments
        self._private_to = private_to
        self._temp: Path | None = None  # pasted pictures, until the window goes
        self._pasted = EventPump(chat, self._on_pasted)
        self.button = ttk.Button(chat.compose, text=SEND_FILE, command=self.choose)
        self.button.grid(row=0, column=2, sticky="se", padx=(8, 0))
        for widget in (chat.entry, chat.messages.text, chat.member_list):
            widget.bind("<Control-o>", self._on_key)
            widget.bind("<Control-O>", self._on_key)
        chat.entry.bind("<<Paste>>", self._on_paste)
        self.drop_enabled = enable_drop((chat.messages.text, chat.entry), self._on_drop)
        self.question: ConfirmDialog | None = None  # the paste's question while open (tests)

    # -- the ways in -----------------------------------------------------------------------

    def choose(self) -> None:
        """Send a file…: the system's file dialog, then :meth:`send_path`."""
        chosen = filedialog.askopenfilename(parent=self._chat, title="Send a file")
        if chosen:
            self.send_path(Path(chosen))

    def send_paths(self, paths: Sequence[Path]) -> None:
        """Several files (a drop): each is checked and sent on its own."""
        for path in paths[:MAX_DROPPED]:
            if not self.send_path(path):
                return
        if len(paths) > MAX_DROPPED:
            self._say(f"Only the first {MAX_DROPPED} files were sent; send the others after.")

    def send_path(self, path: Path) -> bool:
        """Check ``path`` against the room's limit and send it; False (and why, under the
        compose box) if it cannot go."""
        chat = self._chat
        files = self._attachments.files
        if chat.closed_for_good or files is None:
            self._say("Not connected to the room: rejoin first.")
            return False
        problem = size_problem(path, files.max_file_bytes)
        if problem is None:
            problem = self._attachments.send(path, private_to=self._private_to())
        if problem is not None:
            self._say(problem)
            return False
        chat.compose.show_limit("", error=False)
        return True

    def _say(self, text: str) -> None:
        self._chat.compose.show_limit(text, error=True)

    def _on_key(self, _event: tk.Event) -> str:
        self.choose()
        return "break"

    def _on_drop(self, paths: list[Path]) -> None:
        self.send_paths(paths)

    # -- pasting a picture -------------------------------------------------------------------

    def _on_paste(self, _event: tk.Event) -> str | None:
        try:
            self._chat.entry.clipboard_get()
            return None  # text: Tk's own paste
        except tk.TclError:
            pass  # no text on the clipboard: perhaps a picture
        folder = self._temp_folder()
        self._pasted.start()
        threading.Thread(
            target=self._grab, args=(folder,), name="socketchat-paste", daemon=True
        ).start()
        return "break"

    def _grab(self, folder: Path) -> None:
        # A worker: reads the clipboard through Pillow (a subprocess on Linux), saves a
        # picture as PNG, and puts the outcome on the pump. Never touches Tk.
        try:
            from PIL import Image, ImageGrab

            grabbed = ImageGrab.grabclipboard()
            if isinstance(grabbed, Image.Image):
                stamp = time.strftime("%Y-%m-%d %H.%M.%S")
                path = folder / f"Pasted picture {stamp}.png"
                grabbed.save(path, format="PNG")
                self._pasted.put(("picture", [path], grabbed.size))
            elif isinstance(grabbed, list):  # files copied in a file manager
                self._pasted.put(("files", [Path(name) for name in grabbed], (0, 0)))
            else:
                self._pasted.put(("nothing", [], (0, 0)))
        except Exception:  # no xclip / wl-paste, an unreadable picture: nothing to paste
            self._pasted.put(("nothing", [], (0, 0)))

    def _on_pasted(self, outcome: tuple[str, list[Path], tuple[int, int]]) -> None:
        self._pasted.stop()
        kind, paths, (width, height) = outcome
        if kind == "files":
            self.send_paths(paths)
            return
        if kind != "picture" or not self._chat.winfo_exists():
            return
        path = paths[0]
        size = describe_size(path.stat().st_size)
        to = "the other person only" if self._private_to() is not None else "everyone here"
        self._chat.close_dialog()
        self.question = self._chat.dialog = ConfirmDialog(
            self._chat,
            title="Send the picture?",
            heading="Send the picture you pasted?",
            text=f"A {width} × {height} picture ({size}), to {to}.",
            confirm=SEND_PICTURE,
            on_done=lambda yes: self._send_pasted(path, yes),
        )

    def _send_pasted(self, path: Path, yes: bool) -> None:
        if yes:
            self.send_path(path)

    def _temp_folder(self) -> Path:
        if self._temp is None:
            self._temp = Path(tempfile.mkdtemp(prefix="socketchat-paste-"))
        return self._temp

    def stop(self) -> None:
        """The window goes: pasted pictures are deleted (their uploads end with the client)."""
        self._pasted.stop()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None


def enable_drop(widgets: Sequence[tk.Misc], on_paths: Callable[[list[Path]], None]) -> bool:
    """Let files be dropped on ``widgets`` (``on_paths`` gets them); False where tkdnd cannot
    be loaded (then nothing is registered)."""
    try:
        from tkinterdnd2 import DND_FILES, TkinterDnD  # type: ignore[import-untyped]

        TkinterDnD.require(widgets[0])
    except (ImportError, RuntimeError, tk.TclError):
        return False

    def dropped(event: object) -> str:
        data = getattr(event, "data", "")
        paths = [Path(name) for name in widgets[0].tk.splitlist(data) if name]
        if paths:
            on_paths(paths)
        return str(getattr(event, "action", "copy"))

    for widget in widgets:
        with contextlib.suppress(tk.TclError):
            widget.drop_target_register(DND_FILES)  # type: ignore[attr-defined]
            widget.dnd_bind("<<Drop>>", dropped)  # type: ignore[attr-defined]
    return True
