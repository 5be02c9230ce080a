"""The look: Sun Valley (sv-ttk) light or dark, readable fonts in points, colours for plain Tk
widgets, and the zoom of the conversation.

Call :func:`apply_theme` on the root before building any widget, and again to switch between
light and dark (``gui/system_theme.py`` says which one the system prefers). ttk widgets follow
the theme by themselves; plain Tk widgets (the message list, the message entry, the member
list, menus, tooltips) take their colours from the returned :class:`Palette`, which
:func:`current_palette` also hands to dialogs built later. :func:`set_zoom` scales the fonts of
the conversation and the compose box only (``SocketChatMessage`` and its bold, small and
italic siblings); the rest of the window keeps its size.
"""

from __future__ import annotations

import contextlib
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
    border: str = "#d0d0d0"  # the compose box's outline when it does not have the focus
    mention: str = "#fff1b8"  # behind "@you" in others' messages
    link: str = "#005fb8"
    warning_surface: str = "#fdecea"  # behind the key-change banner (warning text on it)
    info_surface: str = "#e8f1fb"  # behind the connection banner while reconnecting (text on it)
    # Sender names get one of these colours, picked from the name, so a busy room stays
    # readable; the dark palette has lighter ones of the same hues.
    names: tuple[str, ...] = (
        "#8e44ad",
        "#c0392b",
        "#16a085",
        "#d35400",
        "#2c7be5",
        "#7f6b00",
        "#b0306a",
        "#2e7d32",
    )
    dark: bool = False


LIGHT = Palette()
# Colours chosen against sv-ttk's dark background (#1c1c1c); every text colour keeps a
# contrast ratio of at least 4.5:1 on the surface (checked in tests/gui/test_theme.py).
DARK = Palette(
    background="#1c1c1c",
    surface="#242424",
    text="#f0f0f0",
    muted="#a8a8a8",
    accent="#4cc2ff",
    pending="#9a9a9a",
    notice="#bdbdbd",
    warning="#ff8f85",
    good="#6ccb5f",
    divider="#8c8c8c",
    selection="#264f78",
    border="#4a4a4a",
    mention="#5c4a00",
    link="#6cb8ff",
    warning_surface="#3d2220",
    info_surface="#1d2b3a",
    names=(
        "#c39bd3",
        "#f1948a",
        "#48c9b0",
        "#f0a868",
        "#7fb0ff",
        "#d4c04a",
        "#e884b5",
        "#7fcf84",
    ),
    dark=True,
)
PALETTE = LIGHT  # the default, for code and tests that build widgets without an app
NAME_COLOURS = LIGHT.names
ZOOM_MIN, ZOOM_MAX = -3, 12  # points added to the conversation's font size

# Families tried in order for the body text; the first installed one wins.
_UI_FAMILIES = {
    "win32": ("Segoe UI",),
    "darwin": ("SF Pro Text", "Helvetica Neue"),
    "linux": ("Ubuntu", "Cantarell", "Noto Sans", "DejaVu Sans", "Liberation Sans"),
}
_MONO_FAMILIES = ("Cascadia Mono", "Consolas", "Ubuntu Mono", "DejaVu Sans Mono", "Noto Sans Mono")
_BODY_POINTS = 10


def apply_theme(root: tk.Tk, *, dark: bool = False, zoom: int = 0) -> Palette:
    """Load the light or dark theme and the fonts on ``root``; return the palette for plain Tk
    widgets. Call again to switch: ttk widgets follow, plain ones need the new palette."""
    palette = DARK if dark else LIGHT
    family = _pick_family(root, _UI_FAMILIES.get(sys.platform, _UI_FAMILIES["linux"]))
    _set_fonts(root, family)
    set_zoom(root, zoom)
    try:
        import sv_ttk
    except ImportError:
        _tune_clam(root, palette)
    else:
        sv_ttk.set_theme("dark" if dark else "light", root)
        _retune_sun_valley_fonts(root, family)
    style = ttk.Style(root)
    # Label colours are given per widget (foreground=palette.muted…): with sv-ttk a style's
    # foreground does not reach ttk labels (checked with sv-ttk 2.6.1 on Tk 8.6.13).
    style.configure("Title.TLabel", font="SocketChatTitle")
    style.configure("Header.TLabel", font="SocketChatHeader")
    # Small buttons inside a line of the conversation (Retry and Copy of a message not sent).
    style.configure("Inline.TButton", padding=(6, 0), font="SocketChatSmall")
    # sv-ttk colours the ttk root style and recolours plain Tk widgets (tk_setPalette, which
    # changes every colour still at Tk's default) when ttk announces a theme change, some time
    # later. Do it now, so the palette's colours given from here on are not taken for defaults
    # and overwritten (measured: a message list drawn in #ffffff came out #fafafa).
    with contextlib.suppress(tk.TclError):  # no sv-ttk, or a version without the procedure
        root.tk.call("configure_colors")
    root.configure(background=style.lookup("TFrame", "background") or palette.background)
    # Plain Tk widgets made from now on (menus, list boxes, tooltips) start in these colours.
    for pattern, value in (
        ("*Menu.background", palette.surface),
        ("*Menu.foreground", palette.text),
        ("*Menu.activeBackground", palette.selection),
        ("*Menu.activeForeground", palette.text),
        ("*Menu.disabledForeground", palette.muted),
        ("*Menu.relief", "flat"),
        ("*Listbox.background", palette.surface),
        ("*Listbox.foreground", palette.text),
    ):
        root.option_add(pattern, value)
    root.__dict__["_socketchat_palette"] = palette
    return palette


def colour_menu(menu: tk.Menu, palette: Palette) -> None:
    """Colour ``menu`` in ``palette`` (menus are not ttk widgets: the theme does not reach
    them). Call again on a theme switch."""
    menu.configure(
        background=palette.surface,
        foreground=palette.text,
        activebackground=palette.selection,
        activeforeground=palette.text,
        disabledforeground=palette.muted,
        selectcolor=palette.text,
    )


def themed_menu(parent: tk.Misc, palette: Palette) -> tk.Menu:
    """A pop-up menu (no tear-off) in ``palette``'s colours."""
    menu = tk.Menu(parent, tearoff=False)
    colour_menu(menu, palette)
    return menu


def current_palette(widget: tk.Misc) -> Palette:
    """The palette :func:`apply_theme` last set on ``widget``'s root (light before that)."""
    palette = widget.nametowidget(".").__dict__.get("_socketchat_palette")
    return palette if isinstance(palette, Palette) else LIGHT


def clamp_zoom(zoom: int) -> int:
    """``zoom`` brought into the range the app allows."""
    return max(ZOOM_MIN, min(ZOOM_MAX, zoom))


def set_zoom(root: tk.Misc, zoom: int) -> int:
    """Scale the conversation's fonts (message list and compose box) by ``zoom`` points;
    returns the zoom actually used. Widgets using those named fonts redraw by themselves."""
    zoom = clamp_zoom(zoom)
    family = tkfont.nametofont("TkDefaultFont", root).actual("family")
    size = _BODY_POINTS + zoom
    _font(root, "SocketChatMessage", family=family, size=size)
    _font(root, "SocketChatBold", family=family, size=size, weight="bold")
    _font(root, "SocketChatSmall", family=family, size=max(6, size - 1))
    _font(root, "SocketChatItalic", family=family, size=size, slant="italic")
    return zoom


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
    _font(root, "SocketChatMono", family=mono, size=_BODY_POINTS)
    # Safety codes: digits to read aloud, large and in a font where 1, l, 0 and O differ.
    _font(root, "SocketChatCode", family=mono, size=_BODY_POINTS + 5)


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


def _tune_clam(root: tk.Misc, palette: Palette) -> None:
    # Fallback when sv-ttk is missing: clam with flatter colours from the palette.
    style = ttk.Style(root)
    style.theme_use("clam")
    style.configure(".", background=palette.background, foreground=palette.text)
    style.configure("TButton", padding=(10, 4))
    style.configure("Accent.TButton", foreground="#ffffff", background=palette.accent)
    style.map("Accent.TButton", background=[("active", "#1a73c7"), ("disabled", "#9bbbd9")])
    style.configure("TEntry", padding=4)
