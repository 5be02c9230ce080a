"""A relay on its own event loop in a background daemon thread ("Host a room", tests).

::

    keys, secret = create_owned_room(password, identity)  # scrypt; the host owns the room
    relay = RelayThread(secret, RelayConfig(port=7777))
    port = relay.start()   # returns once listening; OSError (e.g. EADDRINUSE) raised here
    ...                    # the host's own client connects to 127.0.0.1:port like anyone else
    relay.stop()           # members get GOODBYE ROOM_CLOSED; the thread is joined

Who owns the room is settled before the relay exists: an owned room's id is derived from its
owner's key, and the id is the scrypt salt, so the owner is chosen where the keys are derived
(:func:`net.relay.create_owned_room`, or ``RoomSecret.from_room_keys(keys, genesis=…)``). A
:class:`RoomSecret` without a genesis is a room without an owner.

Nothing here touches Tk: the GUI calls start() and stop() from its own thread (start takes a
few milliseconds; the slow part of hosting, scrypt, happens before, in RoomSecret).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable
from typing import TypeVar

from net.proto import Reason
from net.relay.config import RelayConfig
from net.relay.roomfile import RoomSecret
from net.relay.server import Relay, RelayStats

T = TypeVar("T")
_START_TIMEOUT = 30.0


class RelayThread:
    """Runs one :class:`net.relay.Relay` in a daemon thread. Start once, stop once.

    ``host`` and ``port`` override the config's, as a convenience for "Host a room" (``host``
    as in :attr:`RelayConfig.host`: ``""`` for every address, IPv4 and IPv6).
    """

    def __init__(
        self,
        secret: RoomSecret,
        config: RelayConfig | None = None,
        *,
        host: str | tuple[str, ...] | None = None,
        port: int | None = None,
    ) -> None:
        config = config or RelayConfig()
        if host is not None:
            config = dataclasses.replace(config, host=host)
        if port is not None:
            config = dataclasses.replace(config, port=port)
        self.relay = Relay(secret, config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stopped = False
        self.port = 0

    def start(self) -> int:
        """Start listening and return the port; re-raises the listener's OSError here."""
        if self._thread is not None:
            raise RuntimeError("a RelayThread can be started once")
        self._thread = threading.Thread(target=self._run, name="socketchat-relay", daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT):
            raise TimeoutError("the relay did not start in time")
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error
        return self.port

    def stop(self, timeout: float = 10.0, *, reason: Reason = Reason.ROOM_CLOSED) -> None:
        """Close the room and join the thread. Idempotent. Members are told ``reason``:
        ROOM_CLOSED by default (the host closed its room: their apps offer Rejoin rather than
        retry by themselves, since a hosted room comes back only when its host hosts it)."""
        if self._stopped:
            return
        self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.relay.stop(reason), loop)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    def call(self, function: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``function`` on the relay's loop and return its result (for tests and stats)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the relay is not running")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def _call() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

        loop.call_soon_threadsafe(_call)
        return future.result(timeout)

    def stats(self) -> RelayStats:
        """A snapshot of the relay's counts, taken on its loop."""
        return self.call(self.relay.stats)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            try:
                self.port = loop.run_until_complete(self.relay.start())
            except BaseException as exc:  # OSError mostly; re-raised in start()'s thread
                self._start_error = exc
                return
            finally:
                self._started.set()
            loop.run_forever()
        finally:
            _cancel_leftovers(loop)
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
