"""A running program whose output lines are collected by a thread and awaited with deadlines.

Shared by the end-to-end tests (``main.py`` from source) and the packaged-binary smoke tests.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

TIMEOUT = 60.0  # generous: a one-file build unpacks itself first, and CI machines are slow


class Proc:
    """``command`` started with pipes; :meth:`wait_line` waits for a matching output line."""

    def __init__(self, command: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            cwd=cwd,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._eof = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._new.put(line.rstrip("\n"))
        self._eof.set()

    def wait_line(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait for a line matching ``pattern`` among the lines not matched yet."""
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                self.lines.remove(line)
                return match
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self._eof.is_set() and self._new.empty()):
                raise AssertionError(
                    f"no line matching {pattern!r} (exit {self.popen.poll()}); saw {self.lines!r}"
                )
            try:
                line = self._new.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if match := regex.search(line):
                return match
            self.lines.append(line)

    def all_output(self) -> list[str]:
        """Every line not matched yet, including those still queued."""
        while True:
            try:
                self.lines.append(self._new.get_nowait())
            except queue.Empty:
                return self.lines

    def say(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text + "\n")
        self.popen.stdin.flush()

    def end_input(self) -> int:
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        return self.popen.wait(timeout=TIMEOUT)

    def stop(self) -> None:
        if self.popen.poll() is None and sys.platform == "win32":
            # A one-file build runs the program in a child process: end the whole tree.
            subprocess.run(
                ["taskkill", "/T", "/F", "/PID", str(self.popen.pid)],
                capture_output=True,
                check=False,
            )
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def kill(self) -> None:
        """End the program at once, without letting it clean up (a crash, a power cut)."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=TIMEOUT)
