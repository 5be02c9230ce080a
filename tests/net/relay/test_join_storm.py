"""A join storm against a real relay with its default limits: everyone gets in.

What a relay restart with a full room looks like: hundreds of members connect at once, each
from its own address. Every hello is sent before any answer is read, so every handshake slot is
taken and the rest must wait in the relay's queue (QUEUED) rather than be refused. The clients
are protocol cores on non-blocking sockets driven by one selector loop here, so they really are
all in flight together.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net import proto
from net.proto import ClientProtocol
from net.relay import RelayConfig

STORM = 300
TIMEOUT = 60.0


@dataclass
class _Joiner:
    name: str
    sock: socket.socket
    core: ClientProtocol
    queued: list[proto.Queued] = field(default_factory=list)
    welcomed: proto.Welcomed | None = None
    arrivals: list[str] = field(default_factory=list)  # MemberArrived names, in order

    def pump(self) -> None:
        """Hand the core's output to the socket (small: it fits the socket buffer)."""
        data = self.core.data_to_send()
        if data:
            self.sock.sendall(data)


def _source(n: int) -> str:
    """A loopback address of its own for joiner ``n``: 127.0.1.1, 127.0.1.2 …"""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def _connect(port: int, n: int, keys: RoomKeys, relay_key: bytes) -> _Joiner:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((_source(n), 0))
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    name = f"m{n}"
    core = ClientProtocol(
        username=name, identity=Identity.generate(), keys=keys, expected_relay_key=relay_key
    )
    return _Joiner(name, sock, core)


def _read(joiner: _Joiner) -> None:
    try:
        data = joiner.sock.recv(1 << 20)
    except BlockingIOError:
        return
    if data:
        joiner.core.receive_data(data)
    else:
        joiner.core.receive_eof()
    for event in joiner.core.events_received():
        match event:
            case proto.Queued():
                joiner.queued.append(event)
            case proto.Welcomed():
                joiner.welcomed = event
            case proto.MemberArrived(member=member):
                joiner.arrivals.append(member.name)
            case proto.Refused() | proto.AuthenticationFailed() | proto.ProtocolViolation():
                raise AssertionError(f"{joiner.name} was turned away: {event}")
            case proto.GoodbyeReceived() | proto.ConnectionClosed():
                raise AssertionError(f"{joiner.name} lost its connection: {event}")
            case _:
                pass
    joiner.pump()


def test_hundreds_of_simultaneous_joins_all_get_in_with_the_default_limits(
    relays, room_keys, relay_identity
) -> None:
    defaults = RelayConfig()
    relay = relays.start(
        max_members=STORM,
        # The defaults: stated here so that the test says what it relies on.
        max_handshakes=defaults.max_handshakes,
        max_queued=defaults.max_queued,
        presence_delay=defaults.presence_delay,
    )
    joiners = [
        _connect(relays.port, n, room_keys, relay_identity.signing_public) for n in range(STORM)
    ]
    started = time.monotonic()
    try:
        for joiner in joiners:  # every hello out before any answer is read
            joiner.core.initiate()
            joiner.pump()
        with selectors.DefaultSelector() as selector:
            for joiner in joiners:
                selector.register(joiner.sock, selectors.EVENT_READ, joiner)

            def everyone_sees_everyone() -> bool:
                return all(len(j.core.members) == STORM for j in joiners)

            while not everyone_sees_everyone():
                assert time.monotonic() - started < TIMEOUT, "the storm did not settle"
                for key, _ in selector.select(0.5):
                    _read(key.data)
        elapsed = time.monotonic() - started

        # Everyone got in, and the handshake slots overflowed into the queue, in order.
        assert all(j.welcomed is not None for j in joiners)
        positions = sorted(j.queued[0].position for j in joiners if j.queued)
        assert len(positions) >= STORM - defaults.max_handshakes
        # Each was told its place in line when it queued: the line's length then. On a quiet
        # machine every hello queues before a slot frees (1, 2, 3 …); under load a slot may
        # free meanwhile and a later arrival is told a place an earlier one was told. Either
        # way nobody is told a place further back than the number queued before it.
        assert positions[0] == 1
        assert all(position <= rank for rank, position in enumerate(positions, start=1))
        stats = relay.stats()
        assert (stats.handshakes, stats.queued) == (0, 0)
        assert len(stats.members) == STORM

        # Presence is news exactly once: each member learns of every member its WELCOME did
        # not list, once, and never of itself.
        for joiner in joiners:
            assert joiner.welcomed is not None
            listed = {member.name for member in joiner.welcomed.members}
            assert joiner.name not in joiner.arrivals
            assert len(joiner.arrivals) == len(set(joiner.arrivals))
            assert set(joiner.arrivals) == {j.name for j in joiners} - listed

        # Coalesced: at most one presence broadcast per presence delay, not one per join.
        windows = elapsed / defaults.presence_delay
        assert stats.broadcasts <= windows + 2, (stats.broadcasts, elapsed)
        assert stats.broadcasts < STORM / 3
    finally:
        for joiner in joiners:
            joiner.sock.close()
