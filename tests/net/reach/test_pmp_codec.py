"""NAT-PMP (RFC 6886) and PCP (RFC 6887) messages: layouts byte by byte, answers decoded, and
malformed, truncated, oversized or foreign datagrams rejected with PmpDecodeError only."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from net.reach.pmp_codec import (
    MAX_DATAGRAM,
    NatPmpAddress,
    NatPmpMapping,
    NatPmpResult,
    PcpMapping,
    PcpResult,
    PmpDecodeError,
    UnsupportedVersion,
    decode_natpmp_address,
    decode_natpmp_map,
    decode_pcp_map,
    natpmp_address_request,
    natpmp_map_request,
    pcp_map_request,
    result_name,
)

NONCE = bytes(range(1, 13))
MAPPED_ZERO = bytes(10) + b"\xff\xff" + bytes(4)


def pcp_answer(
    *,
    result: int = 0,
    lifetime: int = 3600,
    epoch: int = 77,
    nonce: bytes = NONCE,
    protocol: int = 6,
    internal: int = 7777,
    external: int = 7777,
    address: bytes = bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 9]),
    options: bytes = b"",
    version: int = 2,
    opcode: int = 0x81,
) -> bytes:
    header = struct.pack("!BBBBII12x", version, opcode, 0, result, lifetime, epoch)
    body = struct.pack("!12sB3xHH16s", nonce, protocol, internal, external, address)
    return header + body + options


# -- requests --------------------------------------------------------------------------------


def test_natpmp_requests_byte_for_byte():
    assert natpmp_address_request() == b"\x00\x00"
    request = natpmp_map_request(internal_port=7777, external_port=7778, lifetime=3600)
    assert request == bytes.fromhex("0002 0000 1e61 1e62 00000e10")
    # Deletion: external port 0 and lifetime 0 (RFC 6886 §3.4).
    assert natpmp_map_request(internal_port=7777, external_port=0, lifetime=0)[-6:] == bytes(6)


def test_pcp_map_request_byte_for_byte():
    data = pcp_map_request(
        client_address="192.168.1.20",
        nonce=NONCE,
        internal_port=7777,
        external_port=7777,
        lifetime=3600,
    )
    assert len(data) == 60
    assert data[:4] == b"\x02\x01\x00\x00"  # version 2, request MAP, reserved
    assert data[4:8] == struct.pack("!I", 3600)
    assert data[8:24] == bytes(10) + b"\xff\xff" + bytes([192, 168, 1, 20])
    assert data[24:36] == NONCE
    assert data[36:40] == b"\x06\x00\x00\x00"  # TCP, reserved
    assert data[40:44] == struct.pack("!HH", 7777, 7777)
    assert data[44:60] == MAPPED_ZERO  # no preferred external address (::ffff:0.0.0.0)


def test_pcp_request_from_an_ipv6_client_uses_the_ipv6_unspecified_address():
    data = pcp_map_request(
        client_address="2001:db8::5", nonce=NONCE, internal_port=1, external_port=0, lifetime=0
    )
    assert data[8:24] == bytes.fromhex("20010db8000000000000000000000005")
    assert data[44:60] == bytes(16)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"internal_port": 0, "external_port": 1, "lifetime": 1},
        {"internal_port": 65536, "external_port": 1, "lifetime": 1},
        {"internal_port": 1, "external_port": -1, "lifetime": 1},
        {"internal_port": 1, "external_port": 1, "lifetime": 2**32},
    ],
)
def test_requests_refuse_values_that_do_not_fit(kwargs):
    with pytest.raises(ValueError):
        natpmp_map_request(**kwargs)
    with pytest.raises(ValueError):
        pcp_map_request(client_address="10.0.0.2", nonce=NONCE, **kwargs)


def test_pcp_request_needs_a_twelve_byte_nonce_and_an_address():
    with pytest.raises(ValueError):
        pcp_map_request(
            client_address="10.0.0.2", nonce=b"short", internal_port=1, external_port=1, lifetime=1
        )
    with pytest.raises(ValueError):
        pcp_map_request(
            client_address="router", nonce=NONCE, internal_port=1, external_port=1, lifetime=1
        )


# -- NAT-PMP answers -------------------------------------------------------------------------


def test_natpmp_address_answer():
    data = bytes.fromhex("0080 0000 00001234 c6336409")
    assert decode_natpmp_address(data) == NatPmpAddress(
        result=0, epoch=0x1234, address="198.51.100.9"
    )


def test_natpmp_address_error_answer_carries_no_address():
    data = bytes.fromhex("0080 0003 00000001")
    answer = decode_natpmp_address(data)
    assert answer == NatPmpAddress(result=NatPmpResult.NETWORK_FAILURE, epoch=1, address="")


def test_natpmp_map_answer():
    data = bytes.fromhex("0082 0000 00000005 1e61 1e62 00000e10")
    assert decode_natpmp_map(data, internal_port=7777) == NatPmpMapping(
        result=0, epoch=5, internal_port=7777, external_port=7778, lifetime=3600
    )


def test_natpmp_refusal_with_only_a_header_is_still_a_refusal():
    answer = decode_natpmp_map(bytes.fromhex("0082 0002 00000005"), internal_port=7777)
    assert isinstance(answer, NatPmpMapping) and answer.result == NatPmpResult.NOT_AUTHORIZED


def test_natpmp_unsupported_version():
    assert decode_natpmp_map(bytes.fromhex("0082 0001 00000005"), internal_port=1) == (
        UnsupportedVersion(version=0)
    )


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "at least 8 bytes"),
        (bytes.fromhex("0082 0000 0000"), "at least 8 bytes"),
        (bytes.fromhex("0082 0000 00000005 1e61"), "16 bytes"),
        (bytes.fromhex("0182 0000 00000005 1e61 1e62 00000e10"), "version 1"),
        (bytes.fromhex("0081 0000 00000005 1e61 1e62 00000e10"), "does not answer"),
        (bytes.fromhex("0002 0000 00000005 1e61 1e62 00000e10"), "does not answer"),
        (bytes.fromhex("0082 0000 00000005 1e62 1e62 00000e10"), "port 7778, not 7777"),
        (bytes.fromhex("0281 0000") + bytes(56), "PCP message"),
        (bytes.fromhex("0082 0000 00000005 1e61 1e62 00000e10") + bytes(MAX_DATAGRAM), "more"),
    ],
)
def test_natpmp_map_rejects_what_is_not_our_answer(data, words):
    with pytest.raises(PmpDecodeError, match=words):
        decode_natpmp_map(data, internal_port=7777)


def test_natpmp_address_answer_cut_short():
    with pytest.raises(PmpDecodeError, match="12 bytes"):
        decode_natpmp_address(bytes.fromhex("0080 0000 00001234 c633"))


# -- PCP answers -----------------------------------------------------------------------------


def test_pcp_map_answer():
    answer = decode_pcp_map(pcp_answer(), nonce=NONCE, internal_port=7777)
    assert answer == PcpMapping(
        result=0,
        lifetime=3600,
        epoch=77,
        nonce=NONCE,
        internal_port=7777,
        external_port=7777,
        external_address="198.51.100.9",
    )


def test_pcp_answer_with_an_ipv6_external_address_and_options():
    option = b"\x80\x00\x00\x05" + b"abcde" + b"\x00\x00\x00"  # one option, padded to 8 bytes
    answer = decode_pcp_map(
        pcp_answer(address=bytes.fromhex("20010db8" + "00" * 11 + "09"), options=option),
        nonce=NONCE,
        internal_port=7777,
    )
    assert isinstance(answer, PcpMapping) and answer.external_address == "2001:db8::9"


def test_pcp_error_answers():
    answer = decode_pcp_map(pcp_answer(result=2, lifetime=30), nonce=NONCE, internal_port=7777)
    assert isinstance(answer, PcpMapping)
    assert answer.result == PcpResult.NOT_AUTHORIZED and answer.external_address == ""
    # An error answer to a request the server could not parse may have the header only.
    short = pcp_answer(result=3)[:24]
    answer = decode_pcp_map(short, nonce=NONCE, internal_port=7777)
    assert isinstance(answer, PcpMapping) and answer.result == PcpResult.MALFORMED_REQUEST


def test_pcp_unsupported_version_from_a_pcp_or_a_natpmp_server():
    answer = decode_pcp_map(pcp_answer(result=1, version=1), nonce=NONCE, internal_port=7777)
    assert answer == UnsupportedVersion(version=1)
    # A NAT-PMP-only server answers in its own format (RFC 6887 §9).
    natpmp = bytes.fromhex("0081 0001 00000009")
    assert decode_pcp_map(natpmp, nonce=NONCE, internal_port=7777) == UnsupportedVersion(version=0)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "at least 24 bytes"),
        (pcp_answer()[:23], "at least 24 bytes"),
        (pcp_answer()[:59] + b"", "whole number"),
        (pcp_answer()[:56], "at least 60 bytes"),
        (pcp_answer(opcode=0x01), "a PCP request"),
        (pcp_answer(opcode=0x82), "does not answer MAP"),
        (pcp_answer(version=3), "PCP version 3"),
        (pcp_answer(nonce=bytes(12)), "nonce"),
        (pcp_answer(protocol=17), "protocol 17"),
        (pcp_answer(internal=80), "port 80"),
        (pcp_answer(options=b"\x80\x00"), "whole number"),
        (pcp_answer(options=b"\x80\x00\x00\x09abcd"), "runs past the end"),
        (pcp_answer(options=b"\x80\x00\x00\x04abcd\x00\x00"), "whole number"),
        (pcp_answer(options=b"\x80\x00\x00\x04abcd" + b"\x01\x00"), "whole number"),
        (pcp_answer(options=b"\x80\x00\x00\x00" + b"\x01\x00\xff\xff"), "runs past the end"),
        (pcp_answer(options=bytes(MAX_DATAGRAM)), "more than any answer"),
        (bytes.fromhex("0081 0002 00000009"), "NAT-PMP message"),
    ],
)
def test_pcp_rejects_what_is_not_our_answer(data, words):
    with pytest.raises(PmpDecodeError, match=words):
        decode_pcp_map(data, nonce=NONCE, internal_port=7777)


def test_result_names_include_codes_from_newer_servers():
    assert result_name(2, PcpResult) == "NOT_AUTHORIZED"
    assert result_name(200, NatPmpResult) == "result 200"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=1200))
def test_random_datagrams_never_raise_anything_but_a_decode_error(data):
    for decode in (
        lambda d: decode_pcp_map(d, nonce=NONCE, internal_port=7777),
        lambda d: decode_natpmp_map(d, internal_port=7777),
        decode_natpmp_address,
    ):
        with contextlib.suppress(PmpDecodeError):
            decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=64), st.integers(0, 59))
def test_mutated_pcp_answers_decode_or_fail_cleanly(tail, cut):
    data = pcp_answer()[:cut] + tail
    try:
        answer = decode_pcp_map(data, nonce=NONCE, internal_port=7777)
    except PmpDecodeError:
        return
    assert isinstance(answer, PcpMapping | UnsupportedVersion)
