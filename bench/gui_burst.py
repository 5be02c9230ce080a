"""Scenario 5: the desktop app rendering a burst of 1,000 incoming messages.

``python -m bench.gui_burst`` (run by ``python -m bench`` in its own process) builds the real
chat window (:class:`gui.chat.ChatWindow` fed by :class:`gui.pump.EventPump`) and has a worker
thread do what the client's reader does in a busy room: feed real protocol v2 broadcasts
(1,000 messages, each signed and sealed by its sender's client core, 10 per broadcast; built
beforehand in memory, :mod:`bench.corepair`) to a real :class:`net.proto.ClientProtocol`, which
opens each one and verifies every signature, and put each verified message on the pump as a
MessageReceived, as fast as it can. It records (a) the time until all 1,000 are shown, (b) the
longest stall of the Tk thread, seen by a probe ``after(5)`` callback, and (c) the worker's time
inside the client core (opening and verifying). The baseline
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

    from bench.corepair import MemoryMember, MemoryRoom

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


_SENDERS = ("bob", "carol", "dave")
_PER_BROADCAST = 10  # messages the relay coalesces into one broadcast in this busy room


def build_burst() -> tuple[MemoryRoom, MemoryMember, list[bytes]]:
    """A v2 room in memory (:mod:`bench.corepair`): bob, carol and dave, then alice; and the
    broadcast frames that carry ``BURST`` messages to alice, each signed and sealed by its
    sender's own client core, attested by the room and sealed once under the broadcast key:
    the bytes alice's socket would receive. Built before the clock starts; so are the shares of
    the three senders' keys, which reach alice (and are opened by her client) with each
    sender's first message, as the relay hands them on before that message's broadcast."""
    from bench.corepair import MemoryRoom
    from crypto.kdf import RoomKeys

    keys = RoomKeys.from_master(os.urandom(32), room_id=os.urandom(16))  # no scrypt needed
    room = MemoryRoom(keys)
    for name in _SENDERS:
        room.join(name)
    alice, _ = room.join("alice")
    now_ms = int(time.time() * 1000)
    frames = []
    for i in range(BURST):
        text = f"message {i}: the quick brown fox 🦊 jumps over the dog"
        room.say(_SENDERS[i % len(_SENDERS)], [text], [i.to_bytes(16, "big")], now_ms)
        if (i + 1) % _PER_BROADCAST == 0 or i + 1 == BURST:
            frames.append(room.flush())
    return room, alice, frames


def measure_app(root: tk.Tk) -> tuple[float, float, float]:
    """(seconds to show the burst, longest Tk stall, worker seconds spent in the client core)
    with the real chat window, fed by a worker that opens real v2 broadcasts with alice's
    client core (every signature verified) and puts each message on the pump."""
    from gui.chat import ChatWindow
    from gui.pump import EventPump
    from net import proto
    from net.client import PendingMessage
    from net.client import events as ce
    from net.client.trust import Trust

    _room, alice, frames = build_burst()
    client = alice.client
    members = tuple(
        ce.Member(
            name=info.name, signing_key=info.signing_key, dh_key=info.dh_key, trust=Trust.KNOWN
        )
        for info in client.members.values()
    )
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members,
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        is_focused=lambda: True,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.update()
    pump = EventPump(root, chat.handle, after_batch=chat.flush)
    ticks: list[float] = []
    _probe(root, ticks)
    pump.start()
    core_seconds = [0.0]
    errors: list[str] = []

    def feed() -> None:
        # What the client's reader thread does: feed the core, turn each verified message into
        # the app's event, hand it to the pump. Anything but a verified message is an error.
        for frame in frames:
            t0 = time.perf_counter()
            client.receive_data(frame)
            events = client.events_received()
            core_seconds[0] += time.perf_counter() - t0
            for event in events:
                if not isinstance(event, proto.ChatOpened):
                    errors.append(repr(event))
                    return
                pump.put(
                    ce.MessageReceived(
                        sender=event.sender,
                        text=event.text,
                        message_id=event.message_id,
                        timestamp_ms=event.timestamp_ms,
                        from_history=False,
                        own=False,
                        sender_key=event.signing_key,
                        trust=Trust.KNOWN,
                    )
                )

    started = time.perf_counter()
    threading.Thread(target=feed, daemon=True).start()
    while chat.messages.message_count < BURST:
        if errors:
            raise RuntimeError(f"not a verified message: {errors[0]}")
        if time.perf_counter() - started > _TIMEOUT:
            raise RuntimeError("the burst was not shown in time")
        root.update()
    elapsed = time.perf_counter() - started
    ticks.append(time.perf_counter())
    pump.stop()
    chat.destroy()
    return elapsed, _longest_gap(ticks), core_seconds[0]


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

            from gui.theme import apply_theme

            root = tk.Tk()
            apply_theme(root)  # as the app does: its named fonts and colours
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
                "app_core": app[2],
                "plain_seconds": base[0],
                "plain_stall": base[1],
            }
        )
    )


if __name__ == "__main__":
    main()
