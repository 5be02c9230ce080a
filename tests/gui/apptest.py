"""Helpers for the tests that run the whole app against a real relay and real clients.

The fixtures that build apps, relays and second members are in ``conftest.py`` (``make_app``,
``relay``, ``members``, ``keys``); these are the plain helpers they and the tests share.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gui.app import App
from net.client import events as ce
from tests.gui.conftest import TIMEOUT, pump_until, text_of

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


class Recorder:
    """Collects a second member's events (called from its worker thread)."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self._lock:
            self.events.append(event)

    def texts(self) -> list[str]:
        with self._lock:
            return [e.text for e in self.events if isinstance(e, ce.MessageReceived)]

    def has(self, event_type: type, **fields: object) -> bool:
        with self._lock:
            return any(
                isinstance(e, event_type) and all(getattr(e, k) == v for k, v in fields.items())
                for e in self.events
            )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def app_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("socketchat-") and t.is_alive()
    ]


def assert_no_app_threads() -> None:
    try:
        wait_for(lambda: not app_threads(), "the app's threads to end")
    except AssertionError:
        raise AssertionError(f"app threads still running: {app_threads()}") from None


def log_in(
    app: App, port: int, name: str, *, host: str = "127.0.0.1", password: str = PASSWORD
) -> None:
    assert app.login is not None
    fields = app.login.vars
    fields["host"].set(host)
    fields["port"].set(str(port))
    fields["password"].set(password)
    fields["username"].set(name)
    app.login.connect()


def chat_text(app: App) -> str:
    assert app.chat is not None
    return text_of(app.chat.messages.text)


def failure_after_login(app: App, root, port: int, name: str = "alice", **options) -> str:
    log_in(app, port, name, **options)
    pump_for_failure(app, root)
    assert app.login is not None
    return app.login.failure.get()


def pump_for_failure(app: App, root) -> None:
    pump_until(
        root,
        lambda: app.login is not None and app.login.failure.get() != "",
        what="a failure message",
    )
    assert app.login is not None
    assert not app.login.busy and app.chat is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def quiet(_title: str, _body: str) -> None:
    return None  # notifications are tested in test_notify.py


def start_relay_process(room_file: Path, port: int) -> tuple[subprocess.Popen[str], int]:
    """``main.py relay`` on 127.0.0.1; returns once it prints its listening line."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "relay",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--room-file",
            str(room_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    found: queue.SimpleQueue[int] = queue.SimpleQueue()

    def read_lines() -> None:
        # A thread, not select(): the text wrapper may buffer several lines at once.
        assert process.stdout is not None
        for line in process.stdout:
            if "listening on" in line:
                found.put(int(line.rsplit(":", 1)[1]))

    threading.Thread(target=read_lines, daemon=True).start()
    try:
        return process, found.get(timeout=TIMEOUT)
    except queue.Empty:
        process.kill()
        raise AssertionError("the relay process did not start") from None


class CutAfterConfirmation:
    """A TCP proxy to a relay that forwards the relay's first frame (its hello) and then, when
    the relay's next frame (its key confirmation) comes, drops the connection instead: the
    client's password check is interrupted after its own confirmation went out."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            relay = socket.create_connection(self.target)
            threading.Thread(target=self._up, args=(client, relay), daemon=True).start()
            threading.Thread(target=self._down, args=(relay, client), daemon=True).start()

    @staticmethod
    def _up(client: socket.socket, relay: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                relay.sendall(data)
        except OSError:
            pass

    def _down(self, relay: socket.socket, client: socket.socket) -> None:
        buffer = b""
        frames = 0
        try:
            while data := relay.recv(65536):
                buffer += data
                while len(buffer) >= 4:
                    size = int.from_bytes(buffer[:4], "big")
                    if len(buffer) < 4 + size:
                        break
                    frame, buffer = buffer[: 4 + size], buffer[4 + size :]
                    frames += 1
                    if frames >= 2:
                        self.cuts += 1
                        raise OSError("cut")
                    client.sendall(frame)
        except OSError:
            pass
        for sock in (client, relay):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
