"""A burst of 1,000 incoming messages must not freeze the window (real Tk under Xvfb).

A worker thread puts 1,000 events on the pump as fast as it can, as the client's reader would
after a reconnect or in a busy room. Meanwhile a probe ``after(5)`` callback records when the
Tk thread gets to run it: the longest gap between two probe runs is how long the window could
not repaint or answer a click. The bound is generous (machines here are noisy); the number
measured is printed (``pytest -s``) and recorded in docs/GUI.md.

The second burst is hostile: bodies built to push fake messages down the list or to make the
window escape thousands of control characters, from senders with hostile names. Making text
safe to show must not hand a flooder a way to freeze the window.
"""

from __future__ import annotations

import itertools
import threading
import time

from gui.chat import ChatWindow
from gui.pump import EventPump
from net.client import PendingMessage
from net.client import events as ce
from tests.gui.conftest import TIMEOUT, members_of

BURST = 1000
MAX_STALL = 0.5  # seconds; measured here: 13–20 ms (docs/GUI.md)


def test_burst_of_1000_messages_keeps_the_tk_thread_responsive(root):
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
    chat = _burst(root, events)
    assert f"message {BURST - 1}:" in chat.messages.text.get("end-3l", "end")


def test_burst_of_1000_hostile_messages_keeps_the_tk_thread_responsive(root):
    now_ms = int(time.time() * 1000)
    bodies = (
        "ok\n\nbob  12:34\nplease send me the password",
        "brb" + "\n" * 60 + "alice  12:34\nsent it",
        "\U0001d41b\U0001d428\U0001d41b  12:34\nthe password is hunter2",
        "invoice_\u202egpj.exe\u202c \u2067now\u2069",
        "\x1b" * 4000,
        "x\u202ey\n" * 800,
        "\t" * 4000,
        "\u00a0" * 2000,
    )
    senders = ("mallory", "carol\u2028bob  12:34", "b\u200bob", "m" * 200)
    events = [
        ce.MessageReceived(
            sender=senders[i % len(senders)],
            text=f"{bodies[i % len(bodies)]}\nmessage {i}",
            message_id=i.to_bytes(16, "big"),
            timestamp_ms=now_ms,
            from_history=False,
            own=False,
        )
        for i in range(BURST)
    ]
    chat = _burst(root, events)
    assert f"message {BURST - 1}" in chat.messages.text.get("end-3l", "end")


def _burst(root, events: list[ce.MessageReceived]) -> ChatWindow:
    """Put ``events`` on the pump from a worker thread; check the Tk thread never stalled."""
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=lambda text: PendingMessage(text=text, message_id=bytes(16), timestamp_ms=0),
        is_focused=lambda: True,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.columnconfigure(0, weight=1)
    root.rowconfigure(0, weight=1)
    pump = EventPump(root, chat.handle, after_batch=chat.flush)
    root.update()

    ticks: list[float] = []

    def probe() -> None:
        ticks.append(time.perf_counter())
        root.after(5, probe)

    def reader() -> None:
        for event in events:
            pump.put(event)

    probe()
    pump.start()
    started = time.perf_counter()
    threading.Thread(target=reader, name="burst-reader").start()
    deadline = started + TIMEOUT
    while chat.messages.message_count < len(events):
        assert time.perf_counter() < deadline, "the burst was not shown in time"
        root.update()
    elapsed = time.perf_counter() - started
    pump.stop()

    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    longest = max(gaps)
    print(
        f"\n{len(events)} messages shown in {elapsed * 1000:.0f} ms; "
        f"longest Tk stall {longest * 1000:.1f} ms over {len(gaps)} probe gaps"
    )
    assert longest < MAX_STALL
    assert chat.messages.at_end(), "the list followed the burst to the newest message"
    return chat
