"""Where the relay listens: the dual-stack default, explicit addresses, IPv6 joins over ::1, and
``accept_peer`` turning connections away unheard. Everything stays on loopback.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

import pytest

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.client import ChatClient
from net.client import events as ce
from net.relay import RelayConfig, RelayThread
from net.relay.listen import ALL_INTERFACES, describe_hosts, format_host, open_listeners
from net.relay.member import format_peer, peer_host
from net.relay.roomfile import RoomSecret
from tests.net.relay.support import RelayFactory, wait_until

TIMEOUT = 15.0


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")


def _close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _accepts(family: int, host: str, port: int) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            probe.connect((host, port))
    except OSError:
        return False
    return True


# -- open_listeners -------------------------------------------------------------------------


@needs_ipv6
def test_the_default_listens_on_ipv4_and_ipv6_on_one_port() -> None:
    sockets = open_listeners(ALL_INTERFACES, 0, 16)
    try:
        port = sockets[0].getsockname()[1]
        assert all(sock.getsockname()[1] == port for sock in sockets)
        assert _accepts(socket.AF_INET, "127.0.0.1", port)
        assert _accepts(socket.AF_INET6, "::1", port)
        if socket.has_dualstack_ipv6():
            assert len(sockets) == 1
            sock = sockets[0]
            assert sock.family == socket.AF_INET6
            assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
    finally:
        _close_all(sockets)


@needs_ipv6
def test_several_addresses_share_the_port_the_system_picked() -> None:
    sockets = open_listeners(("127.0.0.1", "::1"), 0, 16)
    try:
        assert [sock.family for sock in sockets] == [socket.AF_INET, socket.AF_INET6]
        port = sockets[0].getsockname()[1]
        assert sockets[1].getsockname()[1] == port
        assert _accepts(socket.AF_INET, "127.0.0.1", port)
        assert _accepts(socket.AF_INET6, "::1", port)
    finally:
        _close_all(sockets)


@needs_ipv6
def test_an_explicit_ipv6_address_is_ipv6_only_and_brackets_are_accepted() -> None:
    # The IPv4 port of the same number is held here (bound, not listening), so that no other
    # listener of a busy test run can answer on it: a connection there reaches the relay's
    # socket or nothing.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        sockets = open_listeners("[::1]", port, 16)
        try:
            (sock,) = sockets
            assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
            assert not _accepts(socket.AF_INET, "127.0.0.1", port)
            assert _accepts(socket.AF_INET6, "::1", port)
        finally:
            _close_all(sockets)


def test_one_ipv4_address_binds_only_it() -> None:
    sockets = open_listeners("127.0.0.1", 0, 16)
    try:
        (sock,) = sockets
        assert sock.family == socket.AF_INET
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        _close_all(sockets)


def test_a_taken_port_fails_and_leaves_no_socket_open() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            open_listeners(("127.0.0.1",), port, 16)


def test_descriptions_for_log_lines() -> None:
    assert describe_hosts(ALL_INTERFACES) == "all addresses, IPv4 and IPv6"
    assert describe_hosts(()) == "all addresses, IPv4 and IPv6"
    assert describe_hosts(("127.0.0.1", "::1")) == "127.0.0.1, [::1]"
    assert format_host("::1") == "[::1]"
    assert format_host("[::1]") == "[::1]"
    assert format_host("example.org") == "example.org"


def test_peer_addresses_unwrap_ipv4_mapped_ipv6() -> None:
    assert peer_host(("::ffff:192.0.2.7", 5000, 0, 0)) == "192.0.2.7"
    assert format_peer(("::ffff:192.0.2.7", 5000, 0, 0)) == "192.0.2.7:5000"
    assert format_peer(("2001:db8::1", 5000, 0, 0)) == "[2001:db8::1]:5000"
    assert format_peer(("127.0.0.1", 5000)) == "127.0.0.1:5000"
    assert peer_host(None) == ""
    assert format_peer(None) == "unknown peer"


# -- the relay ------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[ce.ClientEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: ce.ClientEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, match: Callable[[ce.ClientEvent], bool]) -> ce.ClientEvent:
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event; got {self.events!r}")
                self._cond.wait(remaining)


def _join(host: str, port: int, name: str, keys: RoomKeys) -> tuple[ChatClient, Recorder]:
    recorder = Recorder()
    client = ChatClient(
        host=host,
        port=port,
        username=name,
        keys=keys,
        on_event=recorder,
        identity=Identity.generate(),
    )
    client.start()
    return client, recorder


@needs_ipv6
def test_a_client_joins_over_ipv6_and_one_over_ipv4_on_the_dual_stack_default(
    room_keys: RoomKeys,
) -> None:
    relay = RelayThread(RoomSecret.from_room_keys(room_keys), RelayConfig(port=0))
    port = relay.start()
    clients = []
    try:
        for host, name in (("::1", "six"), ("127.0.0.1", "four")):
            client, recorder = _join(host, port, name, room_keys)
            clients.append(client)
            recorder.wait_for(lambda e: isinstance(e, ce.Joined))
        assert sorted(relay.stats().members) == ["four", "six"]
        clients[0].send("over IPv6")
        # The IPv4 member's source is plain IPv4, not ::ffff:127.0.0.1 (login limits and logs).
        sources = relay.call(lambda: sorted(m.source for m in relay.relay._connections))
        assert sources == ["127.0.0.1", "::/64"]
    finally:
        for client in clients:
            client.close()
        relay.stop()


@needs_ipv6
def test_a_relay_on_both_loopbacks_takes_ipv6_joins(room_keys: RoomKeys) -> None:
    relay = RelayThread(
        RoomSecret.from_room_keys(room_keys), RelayConfig(host=("127.0.0.1", "::1"), port=0)
    )
    port = relay.start()
    try:
        assert [address for address, _ in relay.relay.addresses] == ["127.0.0.1", "::1"]
        client, recorder = _join("::1", port, "six", room_keys)
        try:
            recorder.wait_for(lambda e: isinstance(e, ce.Joined))
        finally:
            client.close()
    finally:
        relay.stop()


def test_accept_peer_sees_the_address_and_a_refused_peer_is_closed_unheard(
    relays: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def refuse_all(address: str) -> bool:
        seen.append(address)
        return False

    relays.start(accept_peer=refuse_all)
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    for _ in range(3):
        # Closed, and not a byte sent back (a reset is the kernel's way of saying so when the
        # relay closed before the handshake bytes were read).
        with (
            socket.create_connection(("127.0.0.1", relays.port), timeout=TIMEOUT) as sock,
            contextlib.suppress(ConnectionResetError),
        ):
            assert sock.recv(100) == b""
    assert seen == ["127.0.0.1"] * 3
    wait_until(lambda: relays.relays[0].stats().connections == 0, what="connections closed")
    lines = [r.getMessage() for r in caplog.records if "not from a network" in r.getMessage()]
    assert len(lines) == 1, lines  # one line per source, however many tries


def test_accept_peer_true_lets_members_in(relays: RelayFactory) -> None:
    seen: list[str] = []

    def accept(address: str) -> bool:
        seen.append(address)
        return True

    relays.start(accept_peer=accept)
    relays.member("alice")
    assert seen == ["127.0.0.1"]
