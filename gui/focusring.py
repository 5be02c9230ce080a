"""A clearly visible focus ring around ttk buttons, check buttons and menu buttons.

sv-ttk marks the focused button with a shade that is hard to see (light and dark alike), so a
person using Tab cannot tell where they are. :func:`install` draws a ring in the palette's
accent colour (the text colour around accent buttons) around whichever of these widgets has
the keyboard focus: a frame placed just behind the widget, a few pixels larger, so only its
edge shows. Entries and text boxes have
their own (sv-ttk's accent underline; the message list and compose box a highlight border).
"""

from __future__ import annotations

import contextlib
import tkinter as tk

from gui.theme import current_palette

RING = 2  # pixels of ring around the widget
CLASSES = ("TButton", "TCheckbutton", "TMenubutton", "TRadiobutton")
_KEY = "_socketchat_focus_rings"


def install(root: tk.Misc) -> None:
    """Once per root: every widget of :data:`CLASSES` shows the ring while it has focus."""
    for widget_class in CLASSES:
        root.bind_class(widget_class, "<FocusIn>", _show, add="+")
        root.bind_class(widget_class, "<FocusOut>", _hide, add="+")
        root.bind_class(widget_class, "<Destroy>", _hide, add="+")


def ring_for(widget: tk.Misc) -> tk.Frame | None:
    """The ring frame drawn around ``widget`` now, if any (tests)."""
    master = widget.master
    rings = _rings(widget)
    ring = rings.get(str(master)) if master is not None else None
    if ring is None or not ring.winfo_exists() or not ring.winfo_ismapped():
        return None
    return ring if ring.place_info().get("in") in (widget, str(widget)) else None


def _rings(widget: tk.Misc) -> dict[str, tk.Frame]:
    root = widget.nametowidget(".")
    rings: dict[str, tk.Frame] = root.__dict__.setdefault(_KEY, {})
    return rings


def _show(event: tk.Event) -> None:
    widget = event.widget
    if not isinstance(widget, tk.Misc) or widget.master is None:
        return
    rings = _rings(widget)
    key = str(widget.master)
    ring = rings.get(key)
    if ring is None or not ring.winfo_exists():
        ring = tk.Frame(widget.master, borderwidth=0, highlightthickness=0, takefocus=False)
        rings[key] = ring
    palette = current_palette(widget)
    style = ""
    with contextlib.suppress(tk.TclError):
        style = str(widget.cget("style"))
    # An accent ring would vanish around an accent-coloured button: the text colour there.
    ring.configure(background=palette.text if style.startswith("Accent") else palette.accent)
    ring.place(
        in_=widget,
        x=-RING,
        y=-RING,
        relwidth=1.0,
        relheight=1.0,
        width=2 * RING,
        height=2 * RING,
    )
    ring.lower(widget)


def _hide(event: tk.Event) -> None:
    widget = event.widget
    if not isinstance(widget, tk.Misc) or widget.master is None:
        return
    ring = _rings(widget).get(str(widget.master))
    if ring is not None:
        with contextlib.suppress(tk.TclError):
            if ring.place_info().get("in") in (widget, str(widget)):
                ring.place_forget()
