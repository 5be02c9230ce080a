"""The connection banner: one row above the conversation that says how the connection stands.

The chat window owns one :class:`ConnectionBanner` and tells it what the client reported;
nothing about connecting ever becomes a line of its own per attempt in the conversation.

- connected: the banner is gone;
- the connection was lost and the client waits before trying again (``Disconnected``):
  "Reconnecting in 7 s…" counting down once a second (driven by ``after()``, read from an
  injectable clock), with **Retry now**; when the wait is over it says "Connecting…", never
  "Reconnecting in 0 s";
- an attempt is under way (``Connecting``): "Connecting…"; in the relay's queue: "Reconnecting:
  number 3 in line…";
- the client stopped for good (``Failed``): the reason, in the warning colours, with the
  buttons the window chooses (:meth:`ConnectionBanner.failed`: Rejoin, Back to rooms, Trust the
  new relay and connect).

Call :meth:`waiting`, :meth:`connecting`, :meth:`queued`, :meth:`failed` or :meth:`hide` on the
Tk thread; :meth:`destroy` cancels the countdown. The plain functions :func:`countdown_text`
and :func:`next_tick_ms` hold the arithmetic, tested without a display.
"""

from __future__ import annotations

import enum
import math
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from gui.theme import PALETTE, Palette

CONNECTING = "Connecting…"
RETRY_NOW = "Retry now"
REJOIN = "Rejoin"
BACK_TO_ROOMS = "Back to rooms"

#: (label, command) of a button in the banner.
Action = tuple[str, Callable[[], None]]


class LinkState(enum.Enum):
    """What the banner shows."""

    CONNECTED = "connected"  # hidden
    WAITING = "waiting"  # counting down to the next attempt
    CONNECTING = "connecting"
    QUEUED = "queued"
    FAILED = "failed"


def countdown_text(remaining: float) -> str | None:
    """The banner's words ``remaining`` seconds before the next attempt, or None once the wait
    is over (the banner then says "Connecting…"): whole seconds, rounded up, so the last second
    reads "1 s" and "0 s" is never shown."""
    seconds = math.ceil(remaining)
    if seconds <= 0:
        return None
    return f"Reconnecting in {seconds} s…"


def next_tick_ms(remaining: float) -> int:
    """When the countdown's text next changes: the moment ``remaining`` drops to the next
    whole second (a few milliseconds after, so that the text has changed by then)."""
    fraction = remaining - (math.ceil(remaining) - 1)
    return max(10, int(fraction * 1000) + 5)


class ConnectionBanner(tk.Frame):
    """Grid this above the conversation once, then call :meth:`hide`: from then on it shows
    and hides itself (``grid`` / ``grid_remove`` keep the grid options)."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        palette: Palette = PALETTE,
        on_retry_now: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(master, padx=14, pady=6)
        self._palette = palette
        self._on_retry_now = on_retry_now
        self._clock = clock
        self.state = LinkState.CONNECTED
        self._retry_at: float | None = None
        self._after_id: str | None = None
        self.columnconfigure(0, weight=1)
        self.text = tk.StringVar(self, "")
        self.label = tk.Label(
            self,
            textvariable=self.text,
            anchor="w",
            justify="left",
            wraplength=560,
            font="TkDefaultFont",
        )
        self.label.grid(row=0, column=0, sticky="w")
        self._buttons_frame = tk.Frame(self)
        self._buttons_frame.grid(row=0, column=1, sticky="e", padx=(8, 0))
        #: The buttons shown now, by label (tests and the window's keyboard shortcut use it).
        self.buttons: dict[str, ttk.Button] = {}
        self._colour()

    # -- what the client reported ---------------------------------------------------------

    def waiting(self, retry_in: float) -> None:
        """The connection is lost; the client tries again in ``retry_in`` seconds."""
        self._retry_at = self._clock() + max(0.0, float(retry_in))
        self._set(LinkState.WAITING, "", self._retry_action())
        self.tick()

    def connecting(self) -> None:
        """An attempt is under way (or the person pressed Retry now / Rejoin)."""
        self._stop_countdown()
        self._set(LinkState.CONNECTING, CONNECTING, ())

    def queued(self, position: int) -> None:
        """The relay let others in first; we are number ``position`` in its line."""
        self._stop_countdown()
        self._set(LinkState.QUEUED, f"Reconnecting: number {position} in line…", ())

    def failed(self, text: str, actions: Sequence[Action]) -> None:
        """The client stopped for good: ``text`` and the buttons ``actions``, left to right."""
        self._stop_countdown()
        self._set(LinkState.FAILED, text, actions)

    def hide(self) -> None:
        """Connected (again): the banner goes."""
        self._stop_countdown()
        self._set(LinkState.CONNECTED, "", ())

    def retry_now(self) -> None:
        """The Retry now button: the client tries at once; the banner says so meanwhile."""
        if self.state is not LinkState.WAITING or self._on_retry_now is None:
            return
        self.connecting()
        self._on_retry_now()

    def press_first(self) -> bool:
        """The window's shortcut (Ctrl+R): press the first button shown, if any."""
        for button in self.buttons.values():
            button.invoke()
            return True
        return False

    @property
    def shown(self) -> bool:
        return self.state is not LinkState.CONNECTED

    # -- look ------------------------------------------------------------------------------

    def apply_palette(self, palette: Palette) -> None:
        self._palette = palette
        self._colour()

    def _colour(self) -> None:
        p = self._palette
        failed = self.state is LinkState.FAILED
        surface = p.warning_surface if failed else p.info_surface
        self.configure(background=surface)
        self._buttons_frame.configure(background=surface)
        self.label.configure(background=surface, foreground=p.warning if failed else p.text)

    # -- internals -------------------------------------------------------------------------

    def _retry_action(self) -> tuple[Action, ...]:
        if self._on_retry_now is None:
            return ()
        return ((RETRY_NOW, self.retry_now),)

    def _set(self, state: LinkState, text: str, actions: Sequence[Action]) -> None:
        same_buttons = self.state is state and list(self.buttons) == [a[0] for a in actions]
        self.state = state
        if text:
            self.text.set(text)
        if not same_buttons:
            focused = self._focused_button()
            for button in self.buttons.values():
                button.destroy()
            self.buttons = {}
            for column, (label, command) in enumerate(actions):
                button = ttk.Button(self._buttons_frame, text=label, command=command)
                button.grid(row=0, column=column, padx=(8 if column else 0, 0))
                self.buttons[label] = button
            if focused and self.buttons:
                # The keyboard stays in the banner when its buttons change under it.
                next(iter(self.buttons.values())).focus_set()
        self._colour()
        if state is LinkState.CONNECTED:
            self.grid_remove()
        else:
            self.grid()

    def _focused_button(self) -> bool:
        try:
            focus = self.focus_get()
        except (KeyError, tk.TclError):
            return False
        return focus is not None and focus in self.buttons.values()

    def tick(self) -> None:
        """Read the clock and say what it means; the ``after()`` timer calls this once a
        second while counting down (a test that moves its clock calls it too)."""
        if self._after_id is not None:
            self.after_cancel(self._after_id)
        self._after_id = None
        if self.state is not LinkState.WAITING or self._retry_at is None:
            return
        remaining = self._retry_at - self._clock()
        words = countdown_text(remaining)
        if words is None:
            # The client's own clock decides when it tries; until its Connecting arrives the
            # banner says what is about to happen, and Retry now is moot.
            self._retry_at = None
            self._set(LinkState.CONNECTING, CONNECTING, ())
            return
        self.text.set(words)
        self._after_id = self.after(next_tick_ms(remaining), self.tick)

    def _stop_countdown(self) -> None:
        self._retry_at = None
        if self._after_id is not None:
            self.after_cancel(self._after_id)
            self._after_id = None

    def destroy(self) -> None:
        self._stop_countdown()
        super().destroy()
