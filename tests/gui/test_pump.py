"""The queue → after() pump, with a recording fake in place of a Tk widget (no display)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from gui.pump import EventPump


class FakeWidget:
    """Records after()/after_cancel() calls instead of running a Tk event loop."""

    def __init__(self) -> None:
        self.scheduled: dict[str, Callable[[], object]] = {}
        self.cancelled: list[str] = []
        self._next = 0

    def after(self, _ms: int, callback: Callable[[], object]) -> str:
        self._next += 1
        after_id = f"after#{self._next}"
        self.scheduled[after_id] = callback
        return after_id

    def after_cancel(self, after_id: str) -> None:
        self.cancelled.append(after_id)
        self.scheduled.pop(after_id, None)

    def fire(self) -> None:
        _after_id, callback = self.scheduled.popitem()
        callback()


def test_drains_a_bounded_number_per_tick_in_order():
    widget = FakeWidget()
    seen: list[int] = []
    batches: list[int] = []
    pump = EventPump(
        widget, seen.append, after_batch=lambda: batches.append(len(seen)), max_per_tick=100
    )
    for number in range(250):
        pump.put(number)
    pump.start()
    widget.fire()
    assert seen == list(range(100))
    widget.fire()
    widget.fire()
    assert seen == list(range(250))
    assert batches == [100, 200, 250]
    widget.fire()  # an empty tick does not call after_batch
    assert batches == [100, 200, 250]


def test_put_from_other_threads():
    widget = FakeWidget()
    seen: list[int] = []
    pump = EventPump(widget, seen.append)
    threads = [
        threading.Thread(target=lambda base=base: [pump.put(base + i) for i in range(50)])
        for base in range(0, 200, 50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pump.drain(limit=1000) == 200
    assert sorted(seen) == list(range(200))


def test_stop_cancels_the_pending_tick():
    widget = FakeWidget()
    pump = EventPump(widget, lambda _e: None)
    pump.start()
    assert len(widget.scheduled) == 1
    pump.stop()
    assert widget.scheduled == {}
    assert widget.cancelled == ["after#1"]
    assert not pump.running


def test_a_failing_handler_does_not_stop_the_pump():
    widget = FakeWidget()
    flushed: list[bool] = []
    handled: list[int] = []

    def handler(event: int) -> None:
        handled.append(event)
        if event == 1:
            raise RuntimeError("bad event")

    pump = EventPump(widget, handler, after_batch=lambda: flushed.append(True))
    pump.put(1)
    pump.put(2)
    pump.start()
    with pytest.raises(RuntimeError):
        widget.fire()
    assert flushed == [True]
    assert len(widget.scheduled) == 1, "the next tick is scheduled anyway"
    widget.fire()
    assert handled == [1, 2], "the event after the bad one is still handled"
    assert pump.pending() == 0
