"""One file in the conversation: a small card embedded in the message list's ``tk.Text``.

A :class:`FileRow` shows a file's name (made safe by ``gui/file_text.py``), a line under it
(size and kind, or where a transfer stands, or why it failed), a progress bar while bytes move,
its buttons (**Save…**, **Cancel**, **Show in folder**) and, for a picture, the preview or the
reason there is none. The buttons are real ttk buttons inside the conversation, so Tab from
the conversation reaches them, as it reaches the Retry and Copy of a message not sent.

The row only shows what it is told: ``gui/attachments.py`` decides what it says and does. Only
the Tk thread calls it. Its master must be the message list's ``tk.Text`` (embedded windows
must be its children to be clipped to it and destroyed with the lines that hold them).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk
from typing import Literal

from gui.theme import Palette

Tone = Literal["muted", "warning", "good"]
Button = tuple[str, Callable[[], None]]

_WRAP = 420  # pixels: the status line wraps here (the row never grows past the list's width)
_BAR_LENGTH = 260
PROGRAM_MARK = "⚠"  # a program's badge (every font SocketChat's themes use has it)


def badge_text(name: str) -> str:
    """The small badge before a file's name: its extension (at most 4 letters, as "PDF"),
    else "FILE". ``name`` is already safe (``file_text.shown_name``)."""
    extension = name.rpartition(".")[2] if "." in name else ""
    if extension.isascii() and extension.isalnum() and 0 < len(extension) <= 4:
        return extension.upper()
    return "FILE"


class FileRow(tk.Frame):
    """A file's card. Make it with the Text as ``master``, then put it in the Text with
    ``window_create``; change what it shows with the ``show_*`` methods."""

    def __init__(
        self, master: tk.Text, *, palette: Palette, name: str, detail: str, program: bool = False
    ) -> None:
        super().__init__(master, highlightthickness=1, borderwidth=0, padx=10, pady=8)
        self._palette = palette
        self.tone: Tone = "muted"
        self.photo: tk.PhotoImage | None = None  # kept: Tk forgets an image Python drops
        self.columnconfigure(1, weight=1)
        self.preview = tk.Label(self, borderwidth=0, anchor="w", justify="left")
        self._program = program
        self.mark = tk.Label(
            self,
            text=PROGRAM_MARK if program else badge_text(name),
            font="SocketChatSmall" if not program else "SocketChatBold",
            width=5,
            padx=2,
            pady=4,
        )
        self.mark.grid(row=1, column=0, rowspan=2, sticky="nw", padx=(0, 10), pady=(2, 0))
        self.name_label = tk.Label(self, text=name, font="SocketChatBold", anchor="w")
        self.name_label.grid(row=1, column=1, sticky="w")
        self.detail_label = tk.Label(
            self, text=detail, font="SocketChatSmall", anchor="w", justify="left"
        )
        self.detail_label.grid(row=2, column=1, sticky="w")
        self.status_label = tk.Label(
            self, text="", font="SocketChatSmall", anchor="w", justify="left", wraplength=_WRAP
        )
        self.bar = ttk.Progressbar(self, orient="horizontal", length=_BAR_LENGTH, maximum=1.0)
        self.button_box = tk.Frame(self)
        self.button_box.grid(row=1, column=2, rowspan=2, sticky="e", padx=(16, 0))
        self.buttons: dict[str, ttk.Button] = {}
        self.apply_palette(palette)

    # -- what it shows --------------------------------------------------------------------

    @property
    def status(self) -> str:
        return str(self.status_label.cget("text"))

    @property
    def detail(self) -> str:
        return str(self.detail_label.cget("text"))

    def show_status(self, text: str, tone: Tone = "muted") -> None:
        """The line under the file's details ("" hides it): how a transfer ended, or why."""
        self.tone = tone
        self.status_label.configure(text=text, foreground=self._colour(tone))
        if text:
            self.status_label.grid(row=3, column=1, columnspan=2, sticky="w", pady=(4, 0))
        else:
            self.status_label.grid_remove()

    def show_progress(self, fraction: float | None) -> None:
        """The progress bar at ``fraction`` (0…1); None hides it."""
        if fraction is None:
            self.bar.grid_remove()
            return
        self.bar.configure(value=max(0.0, min(1.0, fraction)))
        self.bar.grid(row=4, column=1, columnspan=2, sticky="w", pady=(6, 0))

    def show_buttons(self, buttons: Sequence[Button]) -> None:
        """These buttons, in this order (the row's others go). A button that keeps its label
        stays the same widget, so the keyboard focus on it is not lost."""
        wanted = [label for label, _ in buttons]
        focus = self.focus_get()
        had_focus = any(focus is button for button in self.buttons.values())
        for label in list(self.buttons):
            if label not in wanted:
                self.buttons.pop(label).destroy()
        for column, (label, command) in enumerate(buttons):
            button = self.buttons.get(label)
            if button is None:
                button = ttk.Button(self.button_box, text=label, style="Inline.TButton")
                self.buttons[label] = button
            button.configure(command=command)
            button.grid(row=0, column=column, padx=(6, 0))
        # Tab follows the order the buttons were made in: make it the order shown.
        for label in wanted:
            self.buttons[label].lift()
        if had_focus and self.buttons:
            self.buttons[wanted[0]].focus_set()

    def show_picture(self, photo: tk.PhotoImage) -> None:
        """The picture's preview above its name."""
        self.photo = photo
        self.preview.configure(image=photo, text="")
        self.preview.grid(row=0, column=0, columnspan=3, sticky="w", pady=(0, 8))

    def show_no_picture(self, reason: str) -> None:
        """In place of a preview: why there is none (refused, gone, damaged)."""
        self.photo = None
        self.preview.configure(
            image="",
            text=f"No preview: {reason}",
            font="SocketChatItalic",
            foreground=self._palette.warning,
        )
        self.preview.grid(row=0, column=0, columnspan=3, sticky="w", pady=(0, 6))

    def set_detail(self, text: str) -> None:
        self.detail_label.configure(text=text)

    # -- look -----------------------------------------------------------------------------

    def _colour(self, tone: Tone) -> str:
        p = self._palette
        return {"muted": p.muted, "warning": p.warning, "good": p.good}[tone]

    def apply_palette(self, palette: Palette) -> None:
        """Recolour for a theme switch (the ttk buttons and bar follow the theme)."""
        self._palette = palette
        back = palette.background
        self.configure(background=back, highlightbackground=palette.border)
        for widget in (self.name_label, self.preview):
            widget.configure(background=back, foreground=palette.text)
        badge = palette.warning if self._program else palette.accent
        self.mark.configure(background=badge, foreground=palette.surface)
        if self.photo is None and self.preview.cget("text"):
            self.preview.configure(foreground=palette.warning)
        self.detail_label.configure(background=back, foreground=palette.muted)
        self.status_label.configure(background=back, foreground=self._colour(self.tone))
        self.button_box.configure(background=back)
