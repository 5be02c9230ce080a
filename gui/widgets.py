"""Small widget helpers shared by the dialogs."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Any


def message_label(
    parent: tk.Misc,
    variable: tk.StringVar,
    *,
    foreground: str,
    grid: dict[str, Any],
    wraplength: int = 400,
) -> ttk.Label:
    """A label for a field's error message that takes no room while the message is empty.

    ``grid`` holds the label's grid options; the label shows itself when ``variable`` gets
    text and hides again (``grid_remove``) when it is cleared, so empty messages leave no gaps.
    """
    label = ttk.Label(
        parent, textvariable=variable, foreground=foreground, wraplength=wraplength, justify="left"
    )
    label.grid(**grid)

    def _update(*_args: object) -> None:
        if variable.get():
            label.grid()
        else:
            label.grid_remove()

    variable.trace_add("write", _update)
    _update()
    return label
