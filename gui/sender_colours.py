"""Each sender's colour in the conversation: their name in it, and a tint of it behind their bodies.

The colour comes from the sender's identity key, never the name (:func:`key_colour`), so two
members whose names look alike still look different; your own messages are in the accent
colour. :meth:`SenderColours.colour` is the one place it is chosen. Each colour gets a name tag
and a tint tag in the list's ``tk.Text``, made on first use and named after the light theme's
colour, so a theme switch (:meth:`SenderColours.recolour`) recolours the same tags.

The message list (``gui/messages.py``) owns one :class:`SenderColours`; only the Tk thread
calls it. :func:`name_colour` and :func:`key_colour` touch no widget.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import TYPE_CHECKING

from gui.theme import PALETTE, Palette

if TYPE_CHECKING:
    from gui.messages import MessageList

_TINT = 0.12  # how much of the sender's colour goes into the tint behind their bodies


def name_colour(name: str, palette: Palette = PALETTE) -> str:
    """A stable colour for ``name`` (the same on every machine and every run). Only for text
    without an identity key; senders are coloured by :func:`key_colour`."""
    return palette.names[zlib.crc32(name.encode("utf-8")) % len(palette.names)]


def key_colour(key: bytes, palette: Palette = PALETTE) -> str:
    """A stable colour for the identity key ``key``: the same on every machine and every run,
    whatever name the key's owner uses (a hash of the key picks one of the name colours)."""
    digest = hashlib.sha256(b"SocketChat name colour|" + bytes(key)).digest()
    return palette.names[int.from_bytes(digest[:4], "big") % len(palette.names)]


class SenderColours:
    """The senders' name and tint tags in ``messages.text``, in ``messages.palette``."""

    def __init__(self, messages: MessageList) -> None:
        self._messages = messages
        self._coloured: set[str] = set()  # colours whose name and tint tags exist

    def colour(self, key: bytes, *, own: bool, palette: Palette | None = None) -> str:
        """The one place a sender's colour is chosen, from their identity ``key`` (never the
        name); their name and their bodies' tint follow it. Your own messages are in the
        accent colour."""
        palette = palette or self._messages.palette
        return palette.accent if own else key_colour(key, palette)

    def tags(self, key: bytes, own: bool) -> tuple[str, str]:
        """The name tag and the body tint tag for a sender's colour, made on first use. Tags
        are named after the light theme's colour, so a theme switch recolours the same tags."""
        light = self.colour(key, own=own, palette=PALETTE)
        name_tag, tint_tag = f"name{light}", f"tint{light}"
        text = self._messages.text
        if light not in self._coloured:
            self._coloured.add(light)
            colour = self.colour(key, own=own)
            tint = self._tint(colour)
            text.tag_configure(name_tag, foreground=colour)
            # The right margin (wide windows) stays the list's own colour: the tint ends where
            # the text wraps.
            text.tag_configure(
                tint_tag,
                background=tint,
                lmargincolor=tint,
                rmargincolor=self._messages.palette.surface,
            )
            # Lowest priority: selection, markers and the pending grey are drawn over them.
            text.tag_lower(tint_tag)
            text.tag_lower(name_tag)
        return name_tag, tint_tag

    def recolour(self, palette: Palette) -> None:
        """A theme switch to ``palette`` (already ``messages.palette``): every sender's tags."""
        text = self._messages.text
        # A sender's tags are named after their light colour; the same tag gets the dark one.
        for colour in self._coloured:
            index = _colour_index(colour)
            shown = palette.names[index] if index is not None else palette.accent
            tint = self._tint(shown)
            text.tag_configure(f"name{colour}", foreground=shown)
            text.tag_configure(
                f"tint{colour}", background=tint, lmargincolor=tint, rmargincolor=palette.surface
            )

    def _tint(self, colour: str) -> str:
        red, green, blue = (value / 257 for value in self._messages.winfo_rgb(colour))
        back = [value / 257 for value in self._messages.winfo_rgb(self._messages.palette.surface)]
        mixed = (
            round(base + (value - base) * _TINT)
            for value, base in zip((red, green, blue), back, strict=True)
        )
        return "#{:02x}{:02x}{:02x}".format(*mixed)


def _colour_index(colour: str) -> int | None:
    """Which of the name colours ``colour`` is (tags are named after the light palette's)."""
    from gui.theme import LIGHT

    try:
        return LIGHT.names.index(colour)
    except ValueError:
        return None
