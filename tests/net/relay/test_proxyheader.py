"""The PROXY protocol v2 parser (net.relay.proxyheader): headers built here byte by byte from
the spec (haproxy.org proxy-protocol.txt, section 2.2), not with the module's own constants."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from net.relay.proxyheader import (
    BadHeader,
    HeaderFault,
    NeedMore,
    ProxyHeader,
    is_trusted,
    parse_proxy_header,
    parse_trusted,
)

SIG = bytes.fromhex("0d0a0d0a000d0a515549540a")


def header(ver_cmd: int, fam: int, block: bytes, *, length: int | None = None) -> bytes:
    size = len(block) if length is None else length
    return SIG + bytes([ver_cmd, fam]) + struct.pack("!H", size) + block


def tcp4(src: str, sport: int, dst: str = "10.0.0.11", dport: int = 7777) -> bytes:
    block = (
        ipaddress.IPv4Address(src).packed
        + ipaddress.IPv4Address(dst).packed
        + struct.pack("!HH", sport, dport)
    )
    return header(0x21, 0x11, block)


def tcp6(src: str, sport: int, dst: str = "2001:db8::11", dport: int = 7777) -> bytes:
    block = (
        ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + struct.pack("!HH", sport, dport)
    )
    return header(0x21, 0x21, block)


HELLO = b"\x00\x01client hello bytes"


# -- what is accepted ------------------------------------------------------------------------


def test_tcp4_gives_the_client_address_and_the_bytes_after_are_the_clients() -> None:
    raw = tcp4("203.0.113.7", 40123)
    assert len(raw) == 28
    result = parse_proxy_header(raw + HELLO)
    assert result == ProxyHeader(source=("203.0.113.7", 40123), length=28)
    assert (raw + HELLO)[result.length :] == HELLO


def test_tcp6_gives_the_client_address() -> None:
    raw = tcp6("2001:db8:1:2::7", 443)
    assert len(raw) == 52
    assert parse_proxy_header(raw) == ProxyHeader(source=("2001:db8:1:2::7", 443), length=52)


def test_an_ipv4_mapped_ipv6_source_counts_as_ipv4() -> None:
    result = parse_proxy_header(tcp6("::ffff:198.51.100.9", 5000))
    assert isinstance(result, ProxyHeader)
    assert result.source == ("198.51.100.9", 5000)


def test_local_is_the_proxys_own_connection_and_its_block_is_ignored() -> None:
    # HAProxy's health checks: LOCAL, UNSPEC, no addresses.
    assert parse_proxy_header(header(0x20, 0x00, b"")) == ProxyHeader(source=None, length=16)
    # A LOCAL with an address block (and a family byte we would refuse under PROXY) still
    # means "the proxy itself": the spec says to discard the block.
    block = bytes(12)
    result = parse_proxy_header(header(0x20, 0x11, block) + HELLO)
    assert result == ProxyHeader(source=None, length=28)


def test_unspec_and_unix_stand_for_the_proxy() -> None:
    assert parse_proxy_header(header(0x21, 0x00, b"")) == ProxyHeader(source=None, length=16)
    unix = header(0x21, 0x31, b"/run/haproxy.sock".ljust(108, b"\0") + bytes(108))
    assert parse_proxy_header(unix) == ProxyHeader(source=None, length=16 + 216)


def test_tlvs_after_the_addresses_are_skipped() -> None:
    tlvs = bytes([0x01, 0x00, 0x02]) + b"h2" + bytes([0x04, 0x00, 0x03]) + b"\0\0\0"
    block = ipaddress.IPv4Address("203.0.113.7").packed + bytes(4) + struct.pack("!HH", 1, 2) + tlvs
    raw = header(0x21, 0x11, block)
    assert parse_proxy_header(raw + HELLO) == ProxyHeader(
        source=("203.0.113.7", 1), length=len(raw)
    )


# -- incomplete ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [tcp4("203.0.113.7", 1), tcp6("2001:db8::1", 2)])
def test_every_truncation_needs_more_and_the_whole_parses(raw: bytes) -> None:
    for cut in range(len(raw)):
        assert parse_proxy_header(raw[:cut]) == NeedMore(), cut
    assert isinstance(parse_proxy_header(raw), ProxyHeader)


def test_a_bytearray_buffer_parses_and_can_grow_afterwards() -> None:
    buffer = bytearray(tcp4("203.0.113.7", 9)[:20])
    assert parse_proxy_header(buffer) == NeedMore()
    buffer += tcp4("203.0.113.7", 9)[20:] + HELLO  # no view of it was kept
    assert parse_proxy_header(buffer) == ProxyHeader(source=("203.0.113.7", 9), length=28)


# -- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x02",  # a SocketChat client's own first bytes
        b"GET / HTTP/1.1\r\n",
        b"\r\n\r\n\x00\r\nQUIX\n" + bytes(8),  # wrong signature, late
        b"\xff",
        bytes(64),
    ],
)
def test_garbage_is_refused_as_soon_as_it_shows(raw: bytes) -> None:
    assert parse_proxy_header(raw) == BadHeader(HeaderFault.NOT_PROXY)


def test_a_version_1_text_header_is_refused_as_such() -> None:
    line = b"PROXY TCP4 203.0.113.7 10.0.0.11 40123 7777\r\n"
    assert parse_proxy_header(line + HELLO) == BadHeader(HeaderFault.VERSION_1)
    assert parse_proxy_header(b"PROX") == NeedMore()  # the deadline ends a stall there
    assert parse_proxy_header(b"PROXIMA") == BadHeader(HeaderFault.NOT_PROXY)


@pytest.mark.parametrize("version", [0x0, 0x1, 0x3, 0xF])
def test_other_versions_are_refused(version: int) -> None:
    raw = SIG + bytes([version << 4 | 0x1])
    assert parse_proxy_header(raw) == BadHeader(HeaderFault.BAD_VERSION)


def test_unknown_commands_families_and_datagrams_are_refused() -> None:
    assert parse_proxy_header(SIG + b"\x22") == BadHeader(HeaderFault.BAD_COMMAND)
    assert parse_proxy_header(SIG + b"\x21\x13") == BadHeader(HeaderFault.BAD_FAMILY)
    assert parse_proxy_header(SIG + b"\x21\x41") == BadHeader(HeaderFault.BAD_FAMILY)
    assert parse_proxy_header(SIG + b"\x21\x12") == BadHeader(HeaderFault.DATAGRAM)
    assert parse_proxy_header(SIG + b"\x21\x22") == BadHeader(HeaderFault.DATAGRAM)


def test_a_length_past_the_bound_is_refused_before_it_is_waited_for() -> None:
    announced = SIG + b"\x21\x11" + struct.pack("!H", 65535)
    assert parse_proxy_header(announced) == BadHeader(HeaderFault.TOO_LONG)
    just = SIG + b"\x21\x11" + struct.pack("!H", 512 - 16)
    assert parse_proxy_header(just) == NeedMore()  # exactly the bound: allowed
    over = SIG + b"\x21\x11" + struct.pack("!H", 512 - 15)
    assert parse_proxy_header(over) == BadHeader(HeaderFault.TOO_LONG)
    # The spec's own cap is the most a caller may allow.
    spec = parse_proxy_header(announced, limit=16 + 65535)
    assert spec == NeedMore()
    with pytest.raises(ValueError):
        parse_proxy_header(announced, limit=16 + 65536)


@pytest.mark.parametrize(("fam", "short"), [(0x11, 11), (0x21, 35), (0x31, 215)])
def test_a_length_too_short_for_the_addresses_is_refused(fam: int, short: int) -> None:
    raw = header(0x21, fam, bytes(short))
    assert parse_proxy_header(raw + HELLO) == BadHeader(HeaderFault.SHORT_ADDRESSES)
    # ...even before the block has come (nothing is read past what the length allows).
    assert parse_proxy_header(raw[:16]) == BadHeader(HeaderFault.SHORT_ADDRESSES)


# -- trusted peers ---------------------------------------------------------------------------


def test_trusted_addresses_and_networks() -> None:
    trusted = parse_trusted("127.0.0.1, 10.0.0.0/8,2001:db8::/32")
    assert is_trusted("127.0.0.1", trusted)
    assert is_trusted("10.200.3.4", trusted)
    assert is_trusted("::ffff:10.1.1.1", trusted)  # what a dual-stack socket reports
    assert is_trusted("2001:db8::5", trusted)
    assert not is_trusted("127.0.0.2", trusted)
    assert not is_trusted("11.0.0.1", trusted)
    assert not is_trusted("", trusted)
    assert not is_trusted("not an address", trusted)
    assert not is_trusted("127.0.0.1", ())


@pytest.mark.parametrize("text", ["", "127.0.0.1,", "haproxy.local", "10.0.0.1/8", "10.0.0.0/33"])
def test_trusted_lists_refuse_anything_but_addresses_and_networks(text: str) -> None:
    with pytest.raises(ValueError):
        parse_trusted(text)
