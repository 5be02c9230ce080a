"""A relay behind a trusted proxy (``trust_proxy``): real sockets on 127.0.0.1, the PROXY v2
header written by hand as HAProxy's ``send-proxy-v2`` writes it.

From a trusted address the header's client address is the peer for admission, accept_peer
and the log; a connection from it without a valid header is closed without a byte; from any
other address a header is never read (it is just a bad hello).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
import time
from pathlib import Path

import pytest

from net import proto
from net.proto import Reason
from net.proto._messages import Refusal
from net.relay.proxyheader import parse_trusted
from tests.net.helpers import split_frames
from tests.net.relay.support import RelayFactory, wait_until
from tests.net.relay.test_relay_cli import LISTENING, PASSWORD, RelayProcess, run
from tests.net.wire import WireClient

pytestmark = pytest.mark.timeout(60)

TRUSTED = parse_trusted("127.0.0.1")
SIG = bytes.fromhex("0d0a0d0a000d0a515549540a")


def v2(source: str, port: int) -> bytes:
    """A PROXY v2 header for a TCP4 client at ``source:port`` (to 127.0.0.1:7777)."""
    block = ipaddress.IPv4Address(source).packed + bytes([127, 0, 0, 1])
    block += struct.pack("!HH", port, 7777)
    return SIG + b"\x21\x11" + struct.pack("!H", len(block)) + block


LOCAL = SIG + b"\x20\x00\x00\x00"


def connect(port: int, *, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):  # closed before reading what we sent
        while chunk := sock.recv(65536):
            data += chunk
    return data


def proxied(relays: RelayFactory, name: str, header: bytes) -> WireClient:
    """A client whose connection starts with ``header``, its hello right behind it."""
    client = relays.client(name, start=False)
    client.sock.sendall(header)
    client.proto.initiate()
    client.flush()
    return client


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_the_headers_address_is_the_member_s_in_the_log_and_for_accept_peer(
    relays: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    seen: list[str] = []

    def accept(address: str) -> bool:
        seen.append(address)
        return True

    relays.start(trust_proxy=TRUSTED, accept_peer=accept)
    alice = proxied(relays, "alice", v2("203.0.113.7", 40123))
    alice.join()
    assert seen == ["203.0.113.7"]  # never the proxy's 127.0.0.1
    wait_until(
        lambda: any("user alice (203.0.113.7:40123) connected" in m for m in messages(caplog)),
        what="the join logged with the client's address",
    )
    # The whole stream after the header is the client's: chat works as usual.
    bob = proxied(relays, "bob", v2("198.51.100.2", 5000))
    bob.join()
    alice.say("through the proxy")
    bob.hear("through the proxy")


def test_per_address_limits_count_the_headers_address(relays: RelayFactory) -> None:
    relay = relays.start(trust_proxy=TRUSTED, max_silent_per_source=2)
    held = [connect(relays.port) for _ in range(2)]
    try:
        for number, sock in enumerate(held):
            sock.sendall(v2("203.0.113.7", 1000 + number))
        wait_until(lambda: relay.stats().silent == 2, what="two silent clients")
        # A third from 203.0.113.7 is over its address's share: BUSY, as for a direct client.
        with connect(relays.port) as extra:
            extra.sendall(v2("203.0.113.7", 1002))
            (body,) = split_frames(read_to_eof(extra))
        refusal = Refusal.decode(body[1:])
        assert refusal.code is Reason.BUSY and "your address" in refusal.text
        # Everyone comes from the proxy's 127.0.0.1, yet another client is not held back.
        carol = proxied(relays, "carol", v2("203.0.113.8", 1))
        carol.join()
    finally:
        for sock in held:
            sock.close()


def test_local_counts_as_the_proxy_itself(relays: RelayFactory) -> None:
    seen: list[str] = []

    def accept(address: str) -> bool:
        seen.append(address)
        return True

    relays.start(trust_proxy=TRUSTED, accept_peer=accept)
    proxied(relays, "alice", LOCAL).join()
    assert seen == ["127.0.0.1"]


@pytest.mark.parametrize(
    "first",
    [
        b"",  # nothing at all: closed at the pre-hello deadline
        b"\x00\x01",  # a client's own hello, no header: a proxy without send-proxy-v2
        b"PROXY TCP4 203.0.113.7 127.0.0.1 1 7777\r\n",  # version 1: not supported
        SIG + b"\x21\x11\xff\xff",  # announces far more than a header needs
        SIG[:8],  # a header that never completes
    ],
)
def test_from_a_trusted_address_anything_but_a_header_is_closed_without_a_word(
    relays: RelayFactory, caplog: pytest.LogCaptureFixture, first: bytes
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    relay = relays.start(trust_proxy=TRUSTED, pre_hello_timeout=0.3)
    with connect(relays.port) as sock:
        if first:
            sock.sendall(first)
        assert read_to_eof(sock) == b""
    wait_until(lambda: relay.stats().connections == 0, what="the connection gone")
    assert relay.stats().silent == 0  # admission never saw it
    assert any("PROXY protocol" in m for m in messages(caplog))


def test_a_header_from_an_untrusted_address_is_never_read(
    relays: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    seen: list[str] = []

    def accept(address: str) -> bool:
        seen.append(address)
        return True

    relay = relays.start(trust_proxy=TRUSTED, accept_peer=accept)
    # 127.0.0.2 is loopback too, but not trusted: its "header" is a broken hello.
    spoofer = relays.client("mallory", source="127.0.0.2", start=False)
    spoofer.sock.sendall(v2("203.0.113.7", 1) + b"\x00" * 64)
    events = spoofer.wait_closed()
    assert not any(isinstance(event, proto.Welcomed) for event in events)
    assert seen == ["127.0.0.2"]
    wait_until(lambda: relay.stats().connections == 0, what="the connection gone")
    assert not any("203.0.113.7" in m for m in messages(caplog))
    # A direct client from an untrusted address joins as before, under its own address.
    relays.member("alice", source="127.0.0.3")
    assert seen == ["127.0.0.2", "127.0.0.3"]


def test_without_trust_proxy_nothing_changes(relays: RelayFactory) -> None:
    relays.start()
    relays.member("alice")  # from 127.0.0.1, no header, as ever


def test_the_command_refuses_a_trust_list_it_cannot_read(tmp_path: Path) -> None:
    result = run(
        "relay",
        "--port",
        "0",
        "--trust-proxy",
        "127.0.0.1,haproxy.local",
        cwd=tmp_path,
        SOCKETCHAT_PASSWORD=PASSWORD,
    )
    assert result.returncode == 2
    assert "--trust-proxy: 'haproxy.local' is not an address or network" in result.stderr
    assert "Deriving" not in result.stdout  # refused before any work


def test_the_command_says_whom_it_trusts(tmp_path: Path) -> None:
    relay = RelayProcess(
        "--trust-proxy",
        "127.0.0.1",
        "--trust-proxy",
        "10.0.0.0/8,::1",
        cwd=tmp_path,
        SOCKETCHAT_PASSWORD=PASSWORD,
    )
    try:
        relay.wait_line(
            r"trusting PROXY protocol v2 headers from 127\.0\.0\.1/32, 10\.0\.0\.0/8, ::1/128 only"
        )
        relay.wait_line(LISTENING)
    finally:
        relay.kill()


def test_the_silence_before_a_hello_counts_from_accept_not_from_the_header(
    relays: RelayFactory,
) -> None:
    # A header that comes late must not buy a connection a fresh pre-hello deadline: the
    # header is part of the silence the deadline bounds.
    relays.start(trust_proxy=TRUSTED, pre_hello_timeout=1.0, handshake_timeout=10.0)
    with connect(relays.port) as sock:
        accepted = time.monotonic()
        time.sleep(0.7)
        sock.sendall(v2("203.0.113.9", 40000))  # the header, and then nothing
        said = read_to_eof(sock)  # the relay's "no hello in time", then it closes
        closed = time.monotonic() - accepted
    assert b"in time" in said
    assert 0.9 <= closed < 1.5, closed  # a deadline restarted at the header ends at 1.7 s
