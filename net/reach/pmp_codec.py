"""NAT-PMP (RFC 6886) and PCP (RFC 6887) messages, sans I/O: bytes in, typed values out.

Only what a host needs to open one TCP port on its router: NAT-PMP's external-address and
map requests, and PCP's MAP opcode (no options sent; options in answers are walked with their
lengths checked and otherwise ignored). Encoding functions build requests; decoding functions
take a datagram that arrived on the client's socket and return a frozen result, or raise
:class:`PmpDecodeError` for anything malformed, truncated, oversized or not an answer to the
request given. Every length is checked before a field is read. The driver (``pmp.py``) sends,
retransmits and checks that an answer came from the gateway; this module never sees a socket.

Why our own: no maintained Python library speaks PCP, and the one NAT-PMP package on PyPI
(``py-natpmp``, last released 2023) does its own socket I/O and finds the gateway by running
``netstat``/``route`` and parsing their output. The two formats are small, fixed layouts.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

PMP_PORT = 5351  # the server's port, for both protocols
NATPMP_VERSION = 0
PCP_VERSION = 2
MAX_DATAGRAM = 1100  # RFC 6887 §7: PCP messages are at most 1100 bytes; NAT-PMP's are smaller

PROTOCOL_TCP = 6  # PCP's protocol field (IANA protocol number)
_NATPMP_OP_ADDRESS = 0
_NATPMP_OP_MAP_TCP = 2
_NATPMP_RESPONSE = 128
_PCP_OP_MAP = 1
_PCP_RESPONSE_BIT = 0x80
_PCP_HEADER = 24
_PCP_MAP_BODY = 36
_PCP_OPTION_HEADER = 4
NONCE_SIZE = 12


class PmpDecodeError(ValueError):
    """A datagram that is not a well-formed answer to our request (drop it, keep waiting)."""


class NatPmpResult(enum.IntEnum):
    """NAT-PMP result codes (RFC 6886 §3.5)."""

    SUCCESS = 0
    UNSUPPORTED_VERSION = 1
    NOT_AUTHORIZED = 2  # "refused": the router has mapping turned off
    NETWORK_FAILURE = 3  # e.g. the router has no external address yet
    OUT_OF_RESOURCES = 4
    UNSUPPORTED_OPCODE = 5


class PcpResult(enum.IntEnum):
    """PCP result codes (RFC 6887 §7.4)."""

    SUCCESS = 0
    UNSUPP_VERSION = 1
    NOT_AUTHORIZED = 2
    MALFORMED_REQUEST = 3
    UNSUPP_OPCODE = 4
    UNSUPP_OPTION = 5
    MALFORMED_OPTION = 6
    NETWORK_FAILURE = 7
    NO_RESOURCES = 8
    UNSUPP_PROTOCOL = 9
    USER_EX_QUOTA = 10
    CANNOT_PROVIDE_EXTERNAL = 11
    ADDRESS_MISMATCH = 12
    EXCESSIVE_REMOTE_PEERS = 13


def result_name(code: int, codes: type[enum.IntEnum]) -> str:
    """``NOT_AUTHORIZED`` for a known code, ``result 42`` for one a newer server may send."""
    try:
        return codes(code).name
    except ValueError:
        return f"result {code}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NatPmpAddress:
    """A NAT-PMP external-address answer."""

    result: int
    epoch: int  # the server's "seconds since start of epoch"
    address: str  # "" unless result is SUCCESS


@dataclass(frozen=True, slots=True, kw_only=True)
class NatPmpMapping:
    """A NAT-PMP map answer (lifetime 0 with a 0 external port: a deletion was confirmed)."""

    result: int
    epoch: int
    internal_port: int
    external_port: int
    lifetime: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PcpMapping:
    """A PCP MAP answer. ``lifetime`` is the lease granted (on an error, how long the error
    holds); ``external_address`` is text, IPv4 unwrapped from its IPv4-mapped form."""

    result: int
    lifetime: int
    epoch: int
    nonce: bytes
    internal_port: int
    external_port: int
    external_address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsupportedVersion:
    """The server answered in another protocol version's format that it does not speak ours:
    a NAT-PMP-only server answering PCP (``version`` 0), or the reverse."""

    version: int


# -- NAT-PMP ----------------------------------------------------------------------------------


def natpmp_address_request() -> bytes:
    """Ask for the router's external IPv4 address (2 bytes)."""
    return struct.pack("!BB", NATPMP_VERSION, _NATPMP_OP_ADDRESS)


def natpmp_map_request(*, internal_port: int, external_port: int, lifetime: int) -> bytes:
    """Map TCP ``internal_port`` (``external_port`` is a suggestion; ``lifetime`` seconds).
    A deletion is ``external_port=0, lifetime=0`` (RFC 6886 §3.4)."""
    _check_port(internal_port, allow_zero=False)
    _check_port(external_port, allow_zero=True)
    _check_u32(lifetime)
    return struct.pack(
        "!BBHHHI", NATPMP_VERSION, _NATPMP_OP_MAP_TCP, 0, internal_port, external_port, lifetime
    )


def decode_natpmp_address(data: bytes) -> NatPmpAddress | UnsupportedVersion:
    """Decode an answer to :func:`natpmp_address_request`."""
    result, epoch = _natpmp_header(data, _NATPMP_OP_ADDRESS)
    if result == NatPmpResult.UNSUPPORTED_VERSION:
        return UnsupportedVersion(version=NATPMP_VERSION)
    if result != NatPmpResult.SUCCESS:
        return NatPmpAddress(result=result, epoch=epoch, address="")
    if len(data) < 12:
        raise PmpDecodeError(f"a NAT-PMP address answer is 12 bytes, not {len(data)}")
    address = str(ipaddress.IPv4Address(data[8:12]))
    return NatPmpAddress(result=result, epoch=epoch, address=address)


def decode_natpmp_map(data: bytes, *, internal_port: int) -> NatPmpMapping | UnsupportedVersion:
    """Decode an answer to :func:`natpmp_map_request` for ``internal_port``."""
    result, epoch = _natpmp_header(data, _NATPMP_OP_MAP_TCP)
    if result == NatPmpResult.UNSUPPORTED_VERSION:
        return UnsupportedVersion(version=NATPMP_VERSION)
    if len(data) < 16:
        if result != NatPmpResult.SUCCESS and len(data) >= 8:
            # Some servers send only the header with an error; nothing else is needed.
            return NatPmpMapping(
                result=result, epoch=epoch, internal_port=internal_port, external_port=0, lifetime=0
            )
        raise PmpDecodeError(f"a NAT-PMP map answer is 16 bytes, not {len(data)}")
    internal, external, lifetime = struct.unpack_from("!HHI", data, 8)
    if internal != internal_port:
        raise PmpDecodeError(f"an answer for port {internal}, not {internal_port}")
    return NatPmpMapping(
        result=result,
        epoch=epoch,
        internal_port=internal,
        external_port=external,
        lifetime=lifetime,
    )


def _natpmp_header(data: bytes, opcode: int) -> tuple[int, int]:
    """(result, epoch) from a NAT-PMP answer header, after every check that applies to it."""
    _check_size(data)
    if len(data) >= 2 and data[0] == PCP_VERSION:
        raise PmpDecodeError("a PCP message where a NAT-PMP answer was expected")
    if len(data) < 8:
        raise PmpDecodeError(f"a NAT-PMP answer has at least 8 bytes, not {len(data)}")
    version, op, result, epoch = struct.unpack_from("!BBHI", data, 0)
    if version != NATPMP_VERSION:
        raise PmpDecodeError(f"NAT-PMP version {version}")
    if op != _NATPMP_RESPONSE + opcode:
        raise PmpDecodeError(f"opcode {op} does not answer opcode {opcode}")
    return result, epoch


# -- PCP --------------------------------------------------------------------------------------


def pcp_map_request(
    *,
    client_address: str,
    nonce: bytes,
    internal_port: int,
    external_port: int,
    lifetime: int,
    external_address: str = "",
) -> bytes:
    """A PCP MAP request for TCP ``internal_port`` (RFC 6887 §11.1).

    ``client_address`` is this host's own address on the socket towards the server (the
    server compares it with the packet's source to detect a NAT in between). ``nonce`` is 12
    random bytes, kept for renewing and deleting the mapping. A deletion is ``lifetime=0``.
    """
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"the mapping nonce is {NONCE_SIZE} bytes")
    _check_port(internal_port, allow_zero=False)
    _check_port(external_port, allow_zero=True)
    _check_u32(lifetime)
    client = _address_field(client_address)
    suggested = _address_field(external_address or _unspecified_like(client_address))
    header = struct.pack("!BBHI16s", PCP_VERSION, _PCP_OP_MAP, 0, lifetime, client)
    body = struct.pack("!12sB3xHH16s", nonce, PROTOCOL_TCP, internal_port, external_port, suggested)
    return header + body


def decode_pcp_map(
    data: bytes, *, nonce: bytes, internal_port: int
) -> PcpMapping | UnsupportedVersion:
    """Decode an answer to :func:`pcp_map_request` with ``nonce`` for ``internal_port``."""
    _check_size(data)
    if len(data) >= 4 and data[0] == NATPMP_VERSION:
        # A NAT-PMP-only server answers a PCP request with its own "unsupported version"
        # (RFC 6887 §9): version 0, an answer's opcode (128 + the request's), result 1.
        if data[1] & _NATPMP_RESPONSE and data[2:4] == b"\x00\x01":
            return UnsupportedVersion(version=NATPMP_VERSION)
        raise PmpDecodeError("a NAT-PMP message where a PCP answer was expected")
    if len(data) < _PCP_HEADER:
        raise PmpDecodeError(f"a PCP answer has at least {_PCP_HEADER} bytes, not {len(data)}")
    if len(data) % 4:
        raise PmpDecodeError("a PCP message is a whole number of 32-bit words")
    version, op, _reserved, result, lifetime, epoch = struct.unpack_from("!BBBBII", data, 0)
    if not op & _PCP_RESPONSE_BIT:
        raise PmpDecodeError("a PCP request, not an answer")
    if op & ~_PCP_RESPONSE_BIT != _PCP_OP_MAP:
        raise PmpDecodeError(f"PCP opcode {op & ~_PCP_RESPONSE_BIT} does not answer MAP")
    if result == PcpResult.UNSUPP_VERSION:
        return UnsupportedVersion(version=version)
    if version != PCP_VERSION:
        raise PmpDecodeError(f"PCP version {version}")
    if len(data) < _PCP_HEADER + _PCP_MAP_BODY:
        if result != PcpResult.SUCCESS:
            # An error answer to a request the server could not parse may carry no body.
            return PcpMapping(
                result=result,
                lifetime=lifetime,
                epoch=epoch,
                nonce=nonce,
                internal_port=internal_port,
                external_port=0,
                external_address="",
            )
        raise PmpDecodeError(f"a PCP MAP answer has at least 60 bytes, not {len(data)}")
    got_nonce, protocol, internal, external, address = struct.unpack_from(
        "!12sB3xHH16s", data, _PCP_HEADER
    )
    if got_nonce != nonce:
        raise PmpDecodeError("the answer's nonce is not our request's")
    if protocol != PROTOCOL_TCP or internal != internal_port:
        raise PmpDecodeError(f"an answer for protocol {protocol} port {internal}")
    _walk_options(data, _PCP_HEADER + _PCP_MAP_BODY)
    return PcpMapping(
        result=result,
        lifetime=lifetime,
        epoch=epoch,
        nonce=got_nonce,
        internal_port=internal,
        external_port=external,
        external_address=_address_text(address) if result == PcpResult.SUCCESS else "",
    )


def _walk_options(data: bytes, offset: int) -> None:
    """Check that the options after ``offset`` tile the rest of the message exactly."""
    while offset < len(data):
        if len(data) - offset < _PCP_OPTION_HEADER:
            raise PmpDecodeError("a PCP option header is cut short")
        (length,) = struct.unpack_from("!H", data, offset + 2)
        padded = (length + 3) & ~3
        if padded > len(data) - offset - _PCP_OPTION_HEADER:
            raise PmpDecodeError("a PCP option runs past the end of the message")
        offset += _PCP_OPTION_HEADER + padded


def _address_field(text: str) -> bytes:
    """16 bytes: an IPv6 address, or an IPv4 address in its IPv4-mapped form."""
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv4Address):
        return b"\x00" * 10 + b"\xff\xff" + address.packed
    return address.packed


def _address_text(field: bytes) -> str:
    address = ipaddress.IPv6Address(field)
    mapped = address.ipv4_mapped
    return str(mapped) if mapped is not None else str(address)


def _unspecified_like(text: str) -> str:
    # "No preference" is ::ffff:0.0.0.0 for IPv4 and :: for IPv6 (RFC 6887 §11.1).
    return "0.0.0.0" if ipaddress.ip_address(text).version == 4 else "::"  # noqa: S104


# -- checks -------------------------------------------------------------------------------------


def _check_size(data: bytes) -> None:
    if len(data) > MAX_DATAGRAM:
        raise PmpDecodeError(f"{len(data)} bytes is more than any answer has")


def _check_port(port: int, *, allow_zero: bool) -> None:
    if not (0 if allow_zero else 1) <= port <= 0xFFFF:
        raise ValueError(f"port {port} is out of range")


def _check_u32(value: int) -> None:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise ValueError(f"{value} does not fit in 32 bits")
