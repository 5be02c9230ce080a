"""Fixtures for the GUI tests.

Logic tests need no display. Widget tests take the ``root`` fixture: a real ``tk.Tk`` on the
display pytest-xvfb provides (it starts Xvfb for the session). Where no display can be had,
they skip and say why. Waiting is done by pumping Tk in a bounded loop on a condition
(:func:`pump_until`), never by sleeping for a guessed time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from gui.app import App
from gui.notify import DesktopNotifications
from net.client import ChatClient, Joined, Member, Trust
from net.relay import RelayConfig, RelayThread, RoomSecret

TIMEOUT = 20.0  # generous: CI machines are slow; every wait is bounded by it
CHEAP = 2**10  # test-only scrypt cost, never used by the product


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch) -> None:
    """No test ever reads or writes this machine's own identity and trust records: an app
    built without ``data_dir`` uses a folder of the test's own."""
    monkeypatch.setenv("SOCKETCHAT_DATA_DIR", str(tmp_path / "socketchat-data"))


@pytest.fixture
def root() -> Iterator[tk.Tk]:
    try:
        window = tk.Tk(className="socketchat")
    except tk.TclError as error:
        pytest.skip(f"no display for Tk widgets ({error}); install Xvfb and pytest-xvfb")
    window.geometry("900x640+0+0")
    # Tk keeps the clipboard for the whole process, past the root that filled it: an invite
    # copied by one test would fill the next test's login window (invites are read at start).
    window.clipboard_clear()
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


# -- identities for chat windows fed with events -------------------------------------------

ROOM_ID = bytes(range(16))
_IDENTITIES: dict[str, Identity] = {}


def identity_of(name: str) -> Identity:
    """One identity per name for the whole run (generating one costs a few milliseconds)."""
    if name not in _IDENTITIES:
        _IDENTITIES[name] = Identity.generate()
    return _IDENTITIES[name]


def member(name: str, trust: Trust = Trust.KNOWN, *, identity: Identity | None = None) -> Member:
    """A member as the client reports it: ``name`` with its identity keys and ``trust``."""
    identity = identity or identity_of(name)
    return Member(
        name=name, signing_key=identity.signing_public, dh_key=identity.dh_public, trust=trust
    )


def members_of(*names: str) -> tuple[Member, ...]:
    return tuple(member(name) for name in names)


def joined(
    *names: str, your_name: str = "alice", reconnected: bool = False, max_message_bytes: int = 4000
) -> Joined:
    return Joined(
        your_name=your_name,
        members=members_of(*names),
        reconnected=reconnected,
        max_message_bytes=max_message_bytes,
        room_id=ROOM_ID,
    )


# -- the whole app against a real relay (helpers in apptest.py) ------------------------------


@pytest.fixture(scope="module")
def keys() -> RoomKeys:
    from tests.gui.apptest import PASSWORD

    return derive_room_keys(PASSWORD, room_id=os.urandom(16), n=CHEAP)


@pytest.fixture
def relay(keys: RoomKeys) -> Iterator[RelayThread]:
    thread = RelayThread(RoomSecret.from_room_keys(keys), RelayConfig(host="127.0.0.1", port=0))
    thread.port = thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def members() -> Iterator[Callable[..., tuple[ChatClient, Any]]]:
    """``members(port, name, keys, identity=None)``: a real client joins as a second member;
    returns it and a recorder of its events."""
    from tests.gui.apptest import Recorder

    made: list[ChatClient] = []

    def make(
        port: int, name: str, keys: RoomKeys, *, identity: Identity | None = None
    ) -> tuple[ChatClient, Recorder]:
        recorder = Recorder()
        client = ChatClient(
            host="127.0.0.1",
            port=port,
            username=name,
            keys=keys,
            identity=identity or Identity.generate(),
            on_event=recorder,
            kdf_cost=CHEAP,
        )
        made.append(client)
        client.start()
        return client, recorder

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_app(root: tk.Tk, tmp_path: Path) -> Iterator[Callable[..., App]]:
    """Build the app on ``root`` with settings, identity and trust in ``tmp_path``."""
    from tests.gui.apptest import assert_no_app_threads, quiet

    apps: list[App] = []

    def make(**options: Any) -> App:
        options.setdefault("confirm", lambda *_: True)
        options.setdefault("system_dark", lambda: None)
        options.setdefault("notifications", DesktopNotifications(sender=quiet))
        options.setdefault("data_dir", tmp_path / "data")
        app = App(
            root,
            settings_dir=tmp_path / "settings",
            kdf_cost=CHEAP,
            bind_host="127.0.0.1",
            **options,
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
    assert_no_app_threads()
