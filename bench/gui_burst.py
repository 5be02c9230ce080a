"""Scenario 5: the desktop app rendering a burst of 1,000 incoming messages.

``python -m bench.gui_burst`` (run by ``python -m bench`` in its own process) builds the real
chat window (:class:`gui.chat.ChatWindow` fed by :class:`gui.pump.EventPump`), has a worker
thread put 1,000 MessageReceived events on the pump as fast as it can — as the client's reader
does after a reconnect or in a busy room — and records (a) the time until all 1,000 are shown
and (b) the longest stall of the Tk thread, seen by a probe ``after(5)`` callback. The baseline
is a bare Tk ``Text`` widget given the same 1,000 lines in one callback: the naive way.

Without a display it starts a virtual one (Xvfb, via PyVirtualDisplay, as the GUI tests do);
prints one JSON line, or ``{"skipped": reason}``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tkinter as tk

BURST = 1000
_TIMEOUT = 60.0


@contextlib.contextmanager
def _display() -> Iterator[None]:
    if os.environ.get("DISPLAY"):
        yield
        return
    from pyvirtualdisplay import Display  # a dev requirement (pytest-xvfb)

    with Display(visible=False, size=(1280, 800)):
        yield


def _longest_gap(ticks: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(ticks)), default=0.0)


def _probe(root: tk.Tk, ticks: list[float]) -> None:
    ticks.append(time.perf_counter())
    root.after(5, _probe, root, ticks)


def measure_app(root: tk.Tk) -> tuple[float, float]:
    """(seconds to show the burst, longest Tk stall) with the real chat window."""
    from gui.chat import ChatWindow
    from gui.pump import EventPump
    from net.client import PendingMessage
    from net.client import events as ce

    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=("alice", "bob"),
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        is_focused=lambda: True,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.update()
    pump = EventPump(root, chat.handle, after_batch=chat.flush)
    now_ms = int(time.time() * 1000)
    events = [
        ce.MessageReceived(
            sender=("bob", "carol", "dave")[i % 3],
            text=f"message {i}: the quick brown fox 🦊 jumps over the dog",
            message_id=i.to_bytes(16, "big"),
            timestamp_ms=now_ms,
            from_history=False,
            own=False,
        )
        for i in range(BURST)
    ]
    ticks: list[float] = []
    _probe(root, ticks)
    pump.start()
    started = time.perf_counter()

    def feed() -> None:
        for event in events:
            pump.put(event)

    threading.Thread(target=feed, daemon=True).start()
    while chat.messages.message_count < BURST:
        if time.perf_counter() - started > _TIMEOUT:
            raise RuntimeError("the burst was not shown in time")
        root.update()
    elapsed = time.perf_counter() - started
    ticks.append(time.perf_counter())
    pump.stop()
    chat.destroy()
    return elapsed, _longest_gap(ticks)


def measure_plain_text(root: tk.Tk) -> tuple[float, float]:
    """The baseline: 1,000 lines into a bare Text widget in one callback."""
    import tkinter as tk

    text = tk.Text(root)
    text.grid(row=0, column=0, sticky="nsew")
    root.update()
    ticks: list[float] = []
    _probe(root, ticks)
    done = []

    def insert_all() -> None:
        for i in range(BURST):
            text.insert("end", f"bob  12:00  message {i}: the quick brown fox 🦊 jumps\n")
        text.see("end")
        done.append(time.perf_counter())

    started = time.perf_counter()
    root.after(0, insert_all)
    while not done:
        root.update()
    root.update()  # the repaint belongs to the burst
    elapsed = time.perf_counter() - started
    ticks.append(time.perf_counter())
    text.destroy()
    return elapsed, _longest_gap(ticks)


def main() -> None:
    try:
        with _display():
            import tkinter as tk

            root = tk.Tk()
            root.geometry("900x600")
            root.columnconfigure(0, weight=1)
            root.rowconfigure(0, weight=1)
            base = measure_plain_text(root)
            app = measure_app(root)
            root.destroy()
    except Exception as exc:  # no Tk, no Xvfb: report, do not fail the whole run
        print(json.dumps({"skipped": f"{type(exc).__name__}: {exc}"}))
        return
    print(
        json.dumps(
            {
                "app_seconds": app[0],
                "app_stall": app[1],
                "plain_seconds": base[0],
                "plain_stall": base[1],
            }
        )
    )


if __name__ == "__main__":
    main()
