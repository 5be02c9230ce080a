"""The PROXY protocol, version 2 (binary), as a trusted proxy such as HAProxy sends it.

A relay behind HAProxy sees every member come from HAProxy's address, so its per-address
limits (silent connections, handshakes, the queue's share, wrong passwords) would lump every
client together. With ``send-proxy-v2`` HAProxy starts each connection to the relay with a
header naming the client's address; ``main.py relay --trust-proxy ADDR`` makes the relay read
it from those addresses, and only from them (anyone else could claim any address).

Without I/O: :func:`parse_proxy_header` takes the bytes received so far and answers
:class:`ProxyHeader` (the client's address, or None for the proxy's own, and how many bytes
the header took: what follows is the client's first bytes), :class:`NeedMore` or
:class:`BadHeader`. The driver (``net.relay.member``) feeds it until it answers, under the
pre-hello deadline. Spec: https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt
(section 2.2). Version 1 (the text header, ``PROXY TCP4 …``) is refused: HAProxy sends either,
and one binary format is less to get wrong (docs/DECISIONS.md 39).

Every length is checked before anything it announces is read, and a header longer than
``limit`` (512 bytes by default: the largest address block is 216 bytes, and we read no TLVs)
is refused before it is waited for.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

#: The 12 bytes every version 2 header starts with.
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_FIXED = 16  # signature, version and command, family and transport, length (u16)
#: What the spec allows (16 + a u16 length).
SPEC_MAX_BYTES = _FIXED + 0xFFFF
#: What we wait for at most: addresses only, no TLVs of any size worth keeping.
MAX_HEADER_BYTES = 512
_V1_START = b"PROXY "

_LOCAL = 0x0
_PROXY = 0x1
_TCP4 = 0x11
_TCP6 = 0x21
#: The family and transport bytes the spec defines, with the size of each one's address
#: block; the others must be refused. UNSPEC and the UNIX ones name no network address: the
#: proxy's own address stands in for them.
_ADDRESS_BYTES = {0x00: 0, _TCP4: 12, 0x12: 12, _TCP6: 36, 0x22: 36, 0x31: 216, 0x32: 216}
_DATAGRAM = (0x12, 0x22)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyHeader:
    """A complete, valid header: ``source`` is the client's (address, port), or None when
    the proxy's own address stands (a LOCAL connection: the proxy's health check; an UNSPEC
    or UNIX one). ``length``: the header's bytes; the client's stream starts after them."""

    source: tuple[str, int] | None
    length: int


@dataclass(frozen=True, slots=True)
class NeedMore:
    """No fault yet, but the header is not complete: feed it more (the same bytes and what
    came since)."""


class HeaderFault(enum.Enum):
    """Why a header is refused (the value is the log's wording; no peer ever sees it)."""

    NOT_PROXY = "no PROXY protocol header"
    VERSION_1 = "a PROXY protocol version 1 (text) header; only version 2 is supported"
    BAD_VERSION = "a PROXY protocol header of an unknown version"
    BAD_COMMAND = "a PROXY protocol header with an unknown command"
    BAD_FAMILY = "a PROXY protocol header with an unknown address family or transport"
    DATAGRAM = "a PROXY protocol header for a datagram (UDP) connection"
    TOO_LONG = "a PROXY protocol header longer than this relay accepts"
    SHORT_ADDRESSES = "a PROXY protocol header too short for its addresses"


@dataclass(frozen=True, slots=True)
class BadHeader:
    """Not a header we accept: close the connection without a word."""

    fault: HeaderFault


def parse_proxy_header(
    data: bytes | bytearray | memoryview, *, limit: int = MAX_HEADER_BYTES
) -> ProxyHeader | NeedMore | BadHeader:
    """Read a PROXY v2 header at the start of ``data`` (everything received so far).

    Call again with more bytes on :class:`NeedMore`. A fault is reported as soon as the bytes
    received show it (a wrong first byte needs no more), so a client that is not a proxy is
    not waited for.
    """
    if not _FIXED <= limit <= SPEC_MAX_BYTES:
        raise ValueError(f"limit must be between {_FIXED} and {SPEC_MAX_BYTES}")
    view = bytes(data[:limit])  # a header is never longer; a copy of at most 512 bytes
    head = view[: len(SIGNATURE)]
    if not SIGNATURE.startswith(head):
        start = head[: len(_V1_START)]
        if _V1_START.startswith(start):  # "PROXY ": say it is version 1, not just garbage
            return BadHeader(HeaderFault.VERSION_1) if start == _V1_START else NeedMore()
        return BadHeader(HeaderFault.NOT_PROXY)
    fault = _early_fault(view)
    if fault is not None:
        return fault
    if len(view) < _FIXED:
        return NeedMore()
    length = _FIXED + int.from_bytes(view[14:16], "big")
    if length > limit:
        return BadHeader(HeaderFault.TOO_LONG)
    command, family = view[12] & 0x0F, view[13]
    if command == _PROXY and length - _FIXED < _ADDRESS_BYTES[family]:
        return BadHeader(HeaderFault.SHORT_ADDRESSES)  # checked before waiting for them
    if len(view) < length:
        return NeedMore()
    if command == _LOCAL or family not in (_TCP4, _TCP6):
        # LOCAL: the proxy speaking for itself; its address block (if any) is ignored, as
        # the spec says. UNSPEC and UNIX: no network address to count by.
        return ProxyHeader(source=None, length=length)
    # TLVs after the addresses are skipped: the length covers them, and we read none.
    return ProxyHeader(source=_source(view, family), length=length)


def _early_fault(view: bytes) -> BadHeader | None:
    """A fault in the version, command or family bytes, if they have come."""
    if len(view) > 12:
        version, command = view[12] >> 4, view[12] & 0x0F
        if version != 2:
            return BadHeader(HeaderFault.BAD_VERSION)
        if command not in (_LOCAL, _PROXY):
            return BadHeader(HeaderFault.BAD_COMMAND)
        if len(view) > 13 and command == _PROXY:
            if view[13] not in _ADDRESS_BYTES:
                return BadHeader(HeaderFault.BAD_FAMILY)
            if view[13] in _DATAGRAM:  # a relay serves streams only
                return BadHeader(HeaderFault.DATAGRAM)
    return None


def _source(view: bytes, family: int) -> tuple[str, int]:
    """The source address and port of a TCP4 or TCP6 address block (its size was checked).
    An IPv4-mapped IPv6 address counts as the IPv4 address, as a dual-stack socket's does."""
    start = _FIXED
    if family == _TCP4:
        address = str(ipaddress.IPv4Address(view[start : start + 4]))
        port = int.from_bytes(view[start + 8 : start + 10], "big")
        return address, port
    six = ipaddress.IPv6Address(view[start : start + 16])
    port = int.from_bytes(view[start + 32 : start + 34], "big")
    mapped = six.ipv4_mapped
    return (str(mapped) if mapped is not None else str(six)), port


# -- which peers are trusted ---------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(text: str) -> tuple[Network, ...]:
    """``127.0.0.1,10.0.0.0/8,::1`` → networks (an address is a network of one).
    ``ValueError`` in plain words for anything else (a name, host bits set, an empty item)."""
    networks = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError("an empty address in the list")
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or network (10.0.0.0/8)") from None
    return tuple(networks)


def is_trusted(host: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``host`` (a peer's address; IPv4-mapped IPv6 counts as IPv4) is in one of the
    ``networks``. Anything unparsable is not."""
    if not networks or not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
