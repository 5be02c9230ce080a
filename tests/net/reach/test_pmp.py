"""PmpMethod over real UDP sockets on 127.0.0.1 against a scripted fake router (a thread):
PCP, the fall-back to NAT-PMP, renewals with the same nonce, removal, and what happens when
nobody answers or the answers are garbage."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from net.reach.mapping import MapError
from net.reach.pmp import NoAnswer, PmpExchange, PmpMethod

SHORT = (0.05, 0.1, 0.2)  # the retransmission schedule, shortened for tests
Answer = Callable[[bytes], list[bytes]]


class FakeRouter:
    """Answers each datagram with what ``answer(request)`` returns (possibly nothing)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests.append(data)
            for reply in self.answer(data):
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def router() -> Iterator[Callable[[Answer], FakeRouter]]:
    made: list[FakeRouter] = []

    def make(answer: Answer) -> FakeRouter:
        fake = FakeRouter(answer)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()


def pcp_server(request: bytes, *, result: int = 0, external: bytes = b"\xc6\x33\x64\x09") -> bytes:
    """A PCP MAP answer to ``request`` (echoing nonce, protocol and ports)."""
    lifetime = struct.unpack_from("!I", request, 4)[0]
    nonce, protocol, internal, suggested = struct.unpack_from("!12sB3xHH", request, 24)
    header = struct.pack("!BBBBII12x", 2, 0x81, 0, result, lifetime, 1)
    address = bytes(10) + b"\xff\xff" + external
    return header + struct.pack("!12sB3xHH16s", nonce, protocol, internal, suggested, address)


def natpmp_server(request: bytes) -> list[bytes]:
    """A NAT-PMP-only router: PCP gets "unsupported version"."""
    if request[0] == 2:
        return [bytes.fromhex("0081 0001 00000001")]
    if request[1] == 0:
        return [bytes.fromhex("0080 0000 00000001 cb007107")]
    internal, external, lifetime = struct.unpack_from("!HHI", request, 4)
    return [struct.pack("!BBHIHHI", 0, 130, 0, 1, internal, external, lifetime)]


def method(fake: FakeRouter, **kwargs) -> PmpMethod:
    return PmpMethod("127.0.0.1", port=fake.port, schedule=SHORT, **kwargs)


def test_pcp_map_renew_and_unmap(router):
    fake = router(lambda request: [pcp_server(request)])
    pmp = method(fake, nonce=lambda size: b"N" * size)
    lease = pmp.map(internal_port=7777, external_port=7777, lifetime=3600)
    assert (lease.method, lease.router) == ("PCP", "127.0.0.1")
    assert lease.external_address == "198.51.100.9"
    assert (lease.external_port, lease.lifetime, lease.token) == (7777, 3600, b"N" * 12)
    renewed = pmp.renew(lease)
    assert renewed == lease
    pmp.unmap(lease)
    nonces = [request[24:36] for request in fake.requests]
    assert nonces == [b"N" * 12] * 3  # renewal and removal reuse the mapping's nonce
    assert struct.unpack_from("!I", fake.requests[-1], 4)[0] == 0  # removal: lifetime 0
    # The client address field is our own address on the socket (127.0.0.1, IPv4-mapped).
    assert fake.requests[0][8:24] == bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1])


def test_a_natpmp_only_router_gets_natpmp_requests(router):
    fake = router(natpmp_server)
    pmp = method(fake)
    lease = pmp.map(internal_port=7777, external_port=7777, lifetime=600)
    assert (lease.method, lease.external_address, lease.lifetime) == ("NAT-PMP", "203.0.113.7", 600)
    pmp.unmap(lease)
    assert [request[:2] for request in fake.requests] == [
        b"\x02\x01",  # PCP MAP: "unsupported version"
        b"\x00\x00",  # NAT-PMP external address
        b"\x00\x02",  # NAT-PMP map TCP
        b"\x00\x02",  # ... and its removal
    ]
    assert fake.requests[-1][4:] == struct.pack("!HHI", 7777, 0, 0)


def test_a_refusal_says_which_code_and_that_a_router_answered(router):
    fake = router(lambda request: [pcp_server(request, result=2)])
    with pytest.raises(MapError, match="NOT_AUTHORIZED") as info:
        method(fake).map(internal_port=7777, external_port=7777, lifetime=600)
    assert info.value.answered


def test_garbage_and_foreign_answers_are_skipped_until_the_real_one(router):
    def answer(request: bytes) -> list[bytes]:
        wrong_nonce = bytearray(pcp_server(request))
        wrong_nonce[24] ^= 0xFF
        return [b"", b"\x02", b"junk" * 300, bytes(wrong_nonce), pcp_server(request)]

    fake = router(answer)
    lease = method(fake).map(internal_port=7777, external_port=7777, lifetime=600)
    assert lease.method == "PCP" and len(fake.requests) == 1


def test_a_silent_router_costs_the_schedule_per_protocol_then_says_no_answer(router):
    fake = router(lambda request: [])
    started = time.monotonic()
    with pytest.raises(MapError, match="neither PCP nor NAT-PMP") as info:
        method(fake).map(internal_port=7777, external_port=7777, lifetime=600)
    elapsed = time.monotonic() - started
    assert not info.value.answered
    assert len(fake.requests) == 6  # three PCP tries, then three NAT-PMP address requests
    assert 2 * sum(SHORT) - 0.05 <= elapsed < 2 * sum(SHORT) + 2


def test_nothing_on_the_port_stops_at_once():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    pmp = PmpMethod("127.0.0.1", port=port, schedule=(5.0, 5.0))
    started = time.monotonic()
    with pytest.raises(MapError, match="nothing answers") as info:
        pmp.map(internal_port=7777, external_port=7777, lifetime=600)
    assert not info.value.answered
    assert time.monotonic() - started < 4.0  # the ICMP "port unreachable", not the schedule


def test_no_gateway_means_nothing_to_ask(monkeypatch):
    monkeypatch.setattr("net.reach.pmp.default_gateways", lambda: [])
    with pytest.raises(MapError, match="no default gateway") as info:
        PmpMethod().map(internal_port=7777, external_port=7777, lifetime=600)
    assert not info.value.answered


def test_exchange_retransmits_on_its_schedule(router):
    fake = router(lambda request: [])
    with (
        PmpExchange("127.0.0.1", port=fake.port, schedule=SHORT) as exchange,
        pytest.raises(NoAnswer, match="no answer"),
    ):
        exchange.ask(b"\x00\x00", lambda data: data)
    assert fake.requests == [b"\x00\x00"] * len(SHORT)
