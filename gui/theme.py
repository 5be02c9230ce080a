"""The look: Sun Valley (sv-ttk) light, readable fonts in points, colours for plain Tk widgets.

Call :func:`apply_theme` once on the root, before building any widget. ttk widgets follow the
theme by themselves; the few plain Tk widgets (the message list, the message entry, the
member list) take their colours from the returned :class:`Palette`.
"""

from __future__ import annotations

import sys
import tkinter as tk
from dataclasses import dataclass
from tkinter import font as tkfont
from tkinter import ttk
from typing import Literal, TypedDict

from typing_extensions import Unpack


@dataclass(frozen=True)
class Palette:
    """Colours for plain Tk widgets and message-list tags, matching the ttk theme."""

    background: str = "#fafafa"
    surface: str = "#ffffff"
    text: str = "#1c1c1c"
    muted: str = "#6b6b6b"
    accent: str = "#005fb8"
    pending: str = "#8a8a8a"
    notice: str = "#5c5c5c"
    warning: str = "#b3261e"
    good: str = "#0f7b0f"
    divider: str = "#9a9a9a"
    selection: str = "#cce4f7"


# Sender names get one of these colours, picked from the name, so a busy room stays readable.
NAME_COLOURS = (
    "#8e44ad",
    "#c0392b",
    "#16a085",
    "#d35400",
    "#2c7be5",
    "#7f6b00",
    "#b0306a",
    "#2e7d32",
)

PALETTE = Palette()

# Families tried in order for the body text; the first installed one wins.
_UI_FAMILIES = {
    "win32": ("Segoe UI",),
    "darwin": ("SF Pro Text", "Helvetica Neue"),
    "linux": ("Ubuntu", "Cantarell", "Noto Sans", "DejaVu Sans", "Liberation Sans"),
}
_MONO_FAMILIES = ("Cascadia Mono", "Consolas", "Ubuntu Mono", "DejaVu Sans Mono", "Noto Sans Mono")
_BODY_POINTS = 10


def apply_theme(root: tk.Tk) -> Palette:
    """Load the theme and fonts on ``root``; return the palette for plain Tk widgets."""
    family = _pick_family(root, _UI_FAMILIES.get(sys.platform, _UI_FAMILIES["linux"]))
    _set_fonts(root, family)
    try:
        import sv_ttk
    except ImportError:
        _tune_clam(root)
    else:
        sv_ttk.set_theme("light", root)
        _retune_sun_valley_fonts(root, family)
    style = ttk.Style(root)
    # Label colours are given per widget (foreground=PALETTE.muted…): with sv-ttk a style's
    # foreground does not reach ttk labels (checked with sv-ttk 2.6.1 on Tk 8.6.13).
    style.configure("Title.TLabel", font="SocketChatTitle")
    style.configure("Header.TLabel", font="SocketChatHeader")
    root.configure(background=style.lookup("TFrame", "background") or PALETTE.background)
    return PALETTE


def _pick_family(root: tk.Misc, wanted: tuple[str, ...]) -> str:
    installed = {name.lower(): name for name in tkfont.families(root)}
    for name in wanted:
        if name.lower() in installed:
            return installed[name.lower()]
    return tkfont.nametofont("TkDefaultFont", root).actual("family")


def _set_fonts(root: tk.Misc, family: str) -> None:
    # Sizes in points (positive numbers) so they follow the screen's DPI scaling.
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont", "TkCaptionFont"):
        tkfont.nametofont(name, root).configure(family=family, size=_BODY_POINTS)
    tkfont.nametofont("TkSmallCaptionFont", root).configure(family=family, size=_BODY_POINTS - 1)
    mono = _pick_family(root, _MONO_FAMILIES)
    tkfont.nametofont("TkFixedFont", root).configure(family=mono, size=_BODY_POINTS)
    _font(root, "SocketChatTitle", family=family, size=_BODY_POINTS + 6, weight="bold")
    _font(root, "SocketChatHeader", family=family, size=_BODY_POINTS + 2, weight="bold")
    _font(root, "SocketChatBold", family=family, size=_BODY_POINTS, weight="bold")
    _font(root, "SocketChatSmall", family=family, size=_BODY_POINTS - 1)
    _font(root, "SocketChatItalic", family=family, size=_BODY_POINTS, slant="italic")
    _font(root, "SocketChatMono", family=mono, size=_BODY_POINTS)


_Weight = Literal["normal", "bold"]


class _FontOptions(TypedDict, total=False):
    # The options _set_fonts gives; one left out keeps the font's current (or Tk's default).
    family: str
    size: int
    weight: _Weight
    slant: Literal["roman", "italic"]


def _font(root: tk.Misc, name: str, **options: Unpack[_FontOptions]) -> None:
    try:
        tkfont.nametofont(name, root).configure(**options)
    except tk.TclError:
        # Keep the Font object alive: tkinter deletes a named font when its creator is collected.
        fonts = root.__dict__.setdefault("_socketchat_fonts", [])
        fonts.append(tkfont.Font(root, name=name, **options))


def _retune_sun_valley_fonts(root: tk.Misc, family: str) -> None:
    # sv-ttk asks for "Segoe UI Variable" in pixels: absent on Windows 10 and Linux, and pixel
    # sizes do not grow with DPI. Same roles, the platform's font, sizes in points.
    sizes: dict[str, tuple[int, _Weight]] = {
        "SunValleyCaptionFont": (_BODY_POINTS - 1, "normal"),
        "SunValleyBodyFont": (_BODY_POINTS, "normal"),
        "SunValleyBodyStrongFont": (_BODY_POINTS, "bold"),
        "SunValleyBodyLargeFont": (_BODY_POINTS + 3, "normal"),
        "SunValleySubtitleFont": (_BODY_POINTS + 4, "bold"),
        "SunValleyTitleFont": (_BODY_POINTS + 8, "bold"),
    }
    for name, (size, weight) in sizes.items():
        try:
            tkfont.nametofont(name, root).configure(family=family, size=size, weight=weight)
        except tk.TclError:
            continue  # a future sv-ttk without this font: keep its default


def _tune_clam(root: tk.Misc) -> None:
    # Fallback when sv-ttk is missing: clam with flatter, lighter colours.
    style = ttk.Style(root)
    style.theme_use("clam")
    style.configure(".", background=PALETTE.background, foreground=PALETTE.text)
    style.configure("TButton", padding=(10, 4))
    style.configure("Accent.TButton", foreground="#ffffff", background=PALETTE.accent)
    style.map("Accent.TButton", background=[("active", "#1a73c7"), ("disabled", "#9bbbd9")])
    style.configure("TEntry", padding=4)
