"""Support for tests that run the real :class:`net.client.ChatClient` on 127.0.0.1.

Waiting is on recorded events with a deadline, never on sleeps. The client's timers (handshake
deadline, reconnect backoff, pings) run on an injected clock the test moves (then
``client.wake()``), so no test waits for them in real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.client import ChatClient
from net.client import events as ce
from tests.net.relay.support import ManualClock

TIMEOUT = 15.0
CHEAP = 2**10  # test-only scrypt cost
_E = TypeVar("_E")


class Recorder:
    """Collects a client's events; tests wait for the ones they expect."""

    def __init__(self) -> None:
        self.events: list[ce.ClientEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: ce.ClientEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(
        self, match: Callable[[ce.ClientEvent], bool], timeout: float = TIMEOUT
    ) -> Any:  # the matched event; its type is the one the predicate checked
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event; got {self.events!r}")
                self._cond.wait(remaining)

    def of(self, kind: type[_E]) -> list[_E]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def texts(self) -> list[str]:
        return [e.text for e in self.of(ce.MessageReceived)]


def is_(kind: type, **fields: Any) -> Callable[[ce.ClientEvent], bool]:
    """An event of ``kind`` whose fields equal ``fields`` (``members`` compares names)."""

    def match(event: ce.ClientEvent) -> bool:
        if not isinstance(event, kind):
            return False
        for name, value in fields.items():
            actual = getattr(event, name)
            if name == "members":
                actual = names(actual)
            if actual != value:
                return False
        return True

    return match


def nth(kind: type, n: int) -> Callable[[ce.ClientEvent], bool]:
    """The ``n``-th event of ``kind`` (1-based), for events that repeat (Disconnected, Joined)."""
    seen: list[ce.ClientEvent] = []

    def match(event: ce.ClientEvent) -> bool:
        if isinstance(event, kind) and not any(event is e for e in seen):
            seen.append(event)
        return len(seen) >= n and event is seen[n - 1]

    return match


def names(members: tuple[ce.Member, ...]) -> tuple[str, ...]:
    return tuple(member.name for member in members)


def advance_until(
    clock: ManualClock,
    client: ChatClient,
    events: Recorder,
    match: Callable[[ce.ClientEvent], bool],
    step: float,
) -> Any:
    """Move the client's clock by ``step`` and wake it until an event matches.

    For waits that announce no event when they start (the retries before the first join): a
    step that lands before the worker has fixed its deadline is simply followed by another.
    """
    deadline = time.monotonic() + TIMEOUT
    while True:
        clock.advance(step)
        client.wake()
        try:
            return events.wait_for(match, timeout=0.05)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def reconnect_after_backoff(
    clock: ManualClock, client: ChatClient, events: Recorder, n: int
) -> ce.Disconnected:
    """The ``n``-th Disconnected arrived: move the client's clock by the backoff it announced
    and wake it, so the next attempt starts now. Returns that Disconnected."""
    disconnected: ce.Disconnected = events.wait_for(nth(ce.Disconnected, n))
    clock.advance(disconnected.retry_in)
    client.wake()
    return disconnected


class ClientFactory:
    """Makes started ChatClients for one test (each with its own identity unless given one)
    and closes them all at teardown, checking that every worker thread stopped."""

    def __init__(self) -> None:
        self.made: list[ChatClient] = []

    def __call__(
        self,
        port: int,
        name: str,
        *,
        keys: RoomKeys | None = None,
        password: str | None = None,
        identity: Identity | None = None,
        start: bool = True,
        **options: Any,
    ) -> tuple[ChatClient, Recorder]:
        recorder = Recorder()
        client = ChatClient(
            host="127.0.0.1",
            port=port,
            username=name,
            on_event=recorder,
            keys=keys,
            password=password,
            identity=identity if identity is not None else Identity.generate(),
            kdf_cost=CHEAP,
            **options,
        )
        self.made.append(client)
        if start:
            client.start()
        return client, recorder

    def close(self) -> None:
        for client in self.made:
            client.close()
        for client in self.made:
            assert not client.is_alive(), "client thread did not stop"
