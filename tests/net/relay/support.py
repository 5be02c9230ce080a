"""Support for relay integration tests: relays on 127.0.0.1:0, a manual clock, waits.

Waits are on sockets or on conditions with deadlines, never bare sleeps standing in for
synchronisation. The fixtures built on these live in ``conftest.py`` next to this file.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crypto.kdf import RoomKeys
from net.proto._history import HistoryStore
from net.relay import Relay, RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.wire import WireClient

BASE = RelayConfig(host="127.0.0.1", port=0, close_timeout=1.0)


class ManualClock:
    """A clock that moves only when the test says so: the relay's (rate limits, login backoff)
    or a client's (handshake deadline, pings, reconnect backoff; call ``client.wake()`` after
    moving it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` (cheap, e.g. relay stats) until true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        pause.wait(0.01)


class RelayFactory:
    """Starts relays for one test and stops them all at teardown, with the clients."""

    def __init__(self, secret: RoomSecret, keys: RoomKeys) -> None:
        self.secret = secret
        self.keys = keys
        self.relays: list[RelayThread] = []
        self.clients: list[WireClient] = []
        self.port = 0

    def start(
        self,
        *,
        secret: RoomSecret | None = None,
        names_file: Path | None = None,
        room_file: Path | None = None,
        store: HistoryStore | None = None,
        **overrides: Any,
    ) -> RelayThread:
        """A relay for ``secret`` (the test's room unless given) with ``BASE`` and the
        ``overrides``; ``names_file`` keeps its name bindings there and ``room_file`` the
        room's actions, as ``main.py relay --room-file`` does; ``store`` keeps its messages
        (by default in memory, as many as the config's ``history``, which is also the most
        a WELCOME carries). Clients made from now on connect to it."""
        config = dataclasses.replace(BASE, **overrides)
        relay = RelayThread(secret or self.secret, config)
        if names_file is not None or room_file is not None or store is not None:
            # RelayThread has no such options: "Host a room" needs none.
            relay.relay = Relay(
                secret or self.secret,
                config,
                names_file=names_file,
                room_file=room_file,
                history=store,
            )
        self.port = relay.start()
        self.relays.append(relay)
        return relay

    def client(self, name: str, keys: RoomKeys | None = None, **kwargs: Any) -> WireClient:
        """A client of the last relay started, with the room's keys unless others are given;
        ``kwargs`` go to :class:`WireClient` (``identity=``, ``room_id=``, ``source=`` …)."""
        client = WireClient(self.port, name, keys or self.keys, **kwargs)
        self.clients.append(client)
        return client

    def member(self, name: str, **kwargs: Any) -> WireClient:
        """A client that has joined (its Welcomed is in ``events``); ``kwargs`` as for
        :meth:`client` (``identity=`` to join as a member seen before)."""
        client = self.client(name, **kwargs)
        client.join()
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for relay in self.relays:
            relay.stop()
