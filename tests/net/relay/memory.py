"""The real relay without sockets: a client core wired to a :class:`Relay`'s own
:class:`MemberConnection` through an in-memory asyncio transport.

:class:`MemoryTransport` keeps asyncio's flow-control contract (as ``_SelectorSocketTransport``
does): ``write`` appends to a buffer and calls ``pause_writing()`` once the buffer passes the
high-water mark the protocol set; ``resume_writing()`` once a read by the peer brings it down
to the low-water mark; ``close()`` waits for the buffer to drain, ``abort()`` does not. The peer
reads only when the test says so (:meth:`MemoryTransport.take`), so a member that never reads
is exactly that, whatever the kernel's socket buffers would have been.

:class:`RawPeer` is the same with the bare client core of tests/net/raw_client.py, for frames
the test writes itself (SHARES, WANT) and what the relay sends back, recorded as it came.

Run inside the relay's event loop (``asyncio.run`` in the test); ``await asyncio.sleep(0)``
lets the relay's scheduled work (coalesced broadcasts, timers) run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net import proto
from net.proto import DEFAULT_ROOM, ClientProtocol, ClientState
from net.relay.member import MemberConnection
from net.relay.server import Relay
from tests.net.raw_client import RawClient

_DEFAULT_HIGH = 64 * 1024  # asyncio's default high-water mark


class MemoryTransport(asyncio.Transport):
    """The relay's side of one connection; the peer's side is :meth:`feed` and :meth:`take`."""

    def __init__(self, protocol: asyncio.Protocol, *, peer: tuple[str, int]) -> None:
        super().__init__(extra={"peername": peer, "socket": None})
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()  # written by the relay, not yet read by the peer
        self._inbound = bytearray()  # sent by the peer while the relay was not reading
        self._high = _DEFAULT_HIGH
        self._low = _DEFAULT_HIGH // 4
        self._reading = True
        self._writing_paused = False
        self._closing = False
        self._lost = False
        self.peak = 0  # the most bytes this connection ever held unread
        self.pauses = 0  # how often pause_writing() was called

    # -- what the relay calls ----------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._lost:
            return
        self._buffer += data
        self.peak = max(self.peak, len(self._buffer))
        if len(self._buffer) > self._high and not self._writing_paused:
            self._writing_paused = True
            self.pauses += 1
            self._protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = _DEFAULT_HIGH if low is None else 4 * low
        if low is None:
            low = high // 4
        self._high, self._low = high, low

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._loop.call_soon(self._connection_lost)

    def abort(self) -> None:
        self._buffer.clear()
        self._closing = True
        self._loop.call_soon(self._connection_lost)

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if not self._reading:
            self._reading = True
            self._loop.call_soon(self._deliver)

    def is_reading(self) -> bool:
        return self._reading and not self._closing

    def can_write_eof(self) -> bool:
        return False

    # -- what the peer does ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """The peer sends ``data``; the relay receives it now unless it stopped reading."""
        self._inbound += data
        self._deliver()

    def take(self) -> bytes:
        """The peer reads everything written so far."""
        data, self._buffer = bytes(self._buffer), bytearray()
        if self._writing_paused and len(self._buffer) <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()
        if self._closing and not self._lost:
            self._loop.call_soon(self._connection_lost)
        return data

    def unread(self) -> bytes:
        """What the relay has written and the peer has not read (the peer still reads none)."""
        return bytes(self._buffer)

    @property
    def lost(self) -> bool:
        """True once the relay's protocol was told the connection is gone."""
        return self._lost

    def _deliver(self) -> None:
        if self._reading and not self._closing and self._inbound:
            data, self._inbound = bytes(self._inbound), bytearray()
            self._protocol.data_received(data)

    def _connection_lost(self) -> None:
        if not self._lost:
            self._lost = True
            self._protocol.connection_lost(None)


class MemoryPeer:
    """One member (or would-be member): a :class:`ClientProtocol` connected to ``relay`` (a
    started :class:`Relay`) through a :class:`MemoryTransport`. Create inside the loop.

    ``identity``: a new one unless given (the same identity is the same member to the relay).
    """

    def __init__(
        self,
        relay: Relay,
        name: str,
        keys: RoomKeys,
        *,
        port: int = 50000,
        identity: Identity | None = None,
        room_id: bytes = DEFAULT_ROOM,
    ) -> None:
        self.identity = identity if identity is not None else Identity.generate()
        self.proto = ClientProtocol(
            username=name, identity=self.identity, keys=keys, room_id=room_id
        )
        self.connection = MemberConnection(relay)
        self.transport = MemoryTransport(self.connection, peer=("127.0.0.1", port))
        self.connection.connection_made(self.transport)
        self.events: list[proto.Event] = []

    def send(self) -> None:
        """Send what the client core has queued."""
        data = self.proto.data_to_send()
        if data:
            self.transport.feed(data)

    def read(self) -> list[proto.Event]:
        """Read what the relay wrote; return the new events (also kept in ``events``)."""
        data = self.transport.take()
        if data:
            self.proto.receive_data(data)
        new = self.proto.events_received()
        self.events += new
        return new

    async def run_until(
        self, predicate: Callable[[proto.Event], bool], rounds: int = 50
    ) -> proto.Event:
        """Initiate if not yet done, then send and read until an event matches ``predicate``;
        AssertionError if none does within ``rounds`` loop iterations."""
        if self.proto.state is ClientState.IDLE:
            self.proto.initiate()
        for _ in range(rounds):
            self.send()
            await asyncio.sleep(0)
            for event in self.read():
                if predicate(event):
                    return event
        raise AssertionError(f"nothing matched; events: {self.events}")

    async def join(self, rounds: int = 50) -> proto.Welcomed:
        """Handshake and join, reading as needed; raise AssertionError if not welcomed."""
        event = await self.run_until(
            lambda e: isinstance(e, proto.Welcomed | proto.GoodbyeReceived | proto.Refused),
            rounds,
        )
        if not isinstance(event, proto.Welcomed):
            raise AssertionError(f"not welcomed: {event}; events: {self.events}")
        return event


class RawPeer:
    """One member through a :class:`MemoryTransport`, with :class:`RawClient` as its core:
    ``client.send_*`` queues, :meth:`send` writes, :meth:`read` takes what the relay wrote.
    ``kwargs`` go to :class:`RawClient` (``identity=``, ``tag=``, ``join=``)."""

    def __init__(
        self, relay: Relay, name: str, keys: RoomKeys, *, port: int = 50000, **kwargs: Any
    ) -> None:
        self.client = RawClient(name, keys, **kwargs)
        self.connection = MemberConnection(relay)
        self.transport = MemoryTransport(self.connection, peer=("127.0.0.1", port))
        self.connection.connection_made(self.transport)

    @property
    def signing_key(self) -> bytes:
        return self.client.signing_key

    def send(self) -> None:
        data = self.client.data_to_send()
        if data:
            self.transport.feed(data)

    def read(self) -> None:
        data = self.transport.take()
        if data:
            self.client.receive_data(data)

    async def join(self, rounds: int = 50) -> None:
        """Handshake and join; AssertionError unless welcomed within ``rounds`` iterations."""
        self.client.initiate()
        for _ in range(rounds):
            self.send()
            await asyncio.sleep(0)
            self.read()
            if self.client.welcome is not None:
                return
            if self.client.closed:
                break
        raise AssertionError(f"not welcomed: {self.client.received}")
