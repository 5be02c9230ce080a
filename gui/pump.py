"""The only bridge from worker threads to Tk: a queue drained on an ``after()`` tick.

Worker threads (the client's reader, the host-a-room starter) call :meth:`EventPump.put` and
nothing else. The Tk thread drains at most ``max_per_tick`` events per tick, so a burst of
thousands of messages is spread over several ticks and the window keeps repainting and
answering clicks in between (Thonny's ``_poll_backend_messages``, IDLE's ``poll_subprocess``).
"""

from __future__ import annotations

import contextlib
import queue
import tkinter as tk
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class EventPump:
    """Create on the Tk thread, :meth:`start`, and :meth:`stop` before the root is destroyed.

    ``handler`` is called on the Tk thread for every event, in order. ``after_batch`` (optional)
    is called once after each non-empty batch: the place for work that need not happen per
    event, such as scrolling the message list to the end.
    """

    def __init__(
        self,
        widget: tk.Misc,
        handler: Handler,
        *,
        after_batch: Callable[[], None] | None = None,
        interval_ms: int = 25,
        max_per_tick: int = 100,
    ) -> None:
        self._widget = widget
        self.handler = handler
        self.after_batch = after_batch
        self.interval_ms = interval_ms
        self.max_per_tick = max_per_tick
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._after_id: str | None = None
        self._running = False

    def put(self, event: Any) -> None:
        """Hand ``event`` to the Tk thread. Safe from any thread; never touches Tk."""
        self._queue.put(event)

    def start(self) -> None:
        """Begin draining on the Tk thread every ``interval_ms``."""
        if not self._running:
            self._running = True
            self._schedule()

    def stop(self) -> None:
        """Cancel the pending tick. Events still queued are dropped with the pump."""
        self._running = False
        if self._after_id is not None:
            with contextlib.suppress(tk.TclError):  # the widget is already gone
                self._widget.after_cancel(self._after_id)
            self._after_id = None

    @property
    def running(self) -> bool:
        return self._running

    def pending(self) -> int:
        """Roughly how many events wait in the queue (for tests and diagnostics)."""
        return self._queue.qsize()

    def drain(self, limit: int | None = None) -> int:
        """Hand up to ``limit`` (default ``max_per_tick``) queued events to the handler now.

        Called by the tick; tests call it directly instead of waiting. Returns how many were
        handled. An exception in the handler propagates after ``after_batch`` has run, so one
        bad event is reported instead of silently stopping the pump.
        """
        limit = self.max_per_tick if limit is None else limit
        handled = 0
        try:
            while handled < limit:
                try:
                    event = self._queue.get_nowait()
                except queue.Empty:
                    break
                handled += 1
                self.handler(event)
        finally:
            if handled and self.after_batch is not None:
                self.after_batch()
        return handled

    def _schedule(self) -> None:
        self._after_id = self._widget.after(self.interval_ms, self._tick)

    def _tick(self) -> None:
        self._after_id = None
        if not self._running:
            return
        try:
            self.drain()
        finally:
            # Reschedule even if a handler raised (Tk reports the error through
            # report_callback_exception); a dead pump would freeze the chat silently.
            if self._running:
                self._schedule()
