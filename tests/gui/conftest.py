"""Fixtures for the GUI tests.

Logic tests need no display. Widget tests take the ``root`` fixture: a real ``tk.Tk`` on the
display pytest-xvfb provides (it starts Xvfb for the session). Where no display can be had,
they skip and say why. Waiting is done by pumping Tk in a bounded loop on a condition
(:func:`pump_until`), never by sleeping for a guessed time.
"""

from __future__ import annotations

import contextlib
import gc
import time
import tkinter as tk
from collections.abc import Callable, Iterator

import pytest

TIMEOUT = 20.0  # generous: CI machines are slow; every wait is bounded by it
CHEAP = 2**10  # test-only scrypt cost, never used by the product


@pytest.fixture
def root() -> Iterator[tk.Tk]:
    try:
        window = tk.Tk(className="socketchat")
    except tk.TclError as error:
        pytest.skip(f"no display for Tk widgets ({error}); install Xvfb and pytest-xvfb")
    window.geometry("900x640+0+0")
    yield window
    with contextlib.suppress(tk.TclError):  # the test (or the app's close) destroyed it already
        window.update_idletasks()  # pending theme work must not run on a destroyed root
        window.destroy()
    # Collect the test's Tk variables here, on the main thread: collected later on a worker
    # thread (a relay's loop, say), their __del__ raises "main thread is not in main loop".
    gc.collect()


def pump_until(
    root: tk.Misc, condition: Callable[[], bool], timeout: float = TIMEOUT, what: str = "condition"
) -> None:
    """Run Tk's event loop until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        root.update()
        time.sleep(0.005)  # yield the CPU to the worker threads between event-loop passes


def text_of(widget: tk.Text) -> str:
    return widget.get("1.0", "end-1c")
