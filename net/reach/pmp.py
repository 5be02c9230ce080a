"""Asking the gateway for a port mapping with PCP (RFC 6887), falling back to NAT-PMP (RFC 6886).

:class:`PmpMethod` is a :class:`~net.reach.mapping.MappingMethod`: it sends a PCP MAP request
to the default gateway's UDP port 5351; a NAT-PMP-only router answers "unsupported version"
and gets the NAT-PMP request instead; a router that answers neither costs the retransmission
schedule once per protocol, and one that has nothing on port 5351 (an ICMP "port unreachable",
seen as a refused connection on the connected socket) stops the attempt at once.

Retransmissions: RFC 6886 asks for 250 ms doubling over nine tries (a minute); RFC 6887 for
three seconds and more. A person waits for this answer, so we send four times (0.25, 0.5, 1 and
2 s apart, 3.75 s in all) and then say no router answered. The socket is a connected UDP
socket: the kernel delivers only datagrams from the gateway's port 5351 (RFC 6886 §3.1's
source check), and every datagram is still checked and decoded by ``pmp_codec``; anything else
is dropped and the wait goes on until the deadline.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from net.reach.gateway import default_gateways
from net.reach.mapping import Lease, MapError
from net.reach.pmp_codec import (
    MAX_DATAGRAM,
    NONCE_SIZE,
    PMP_PORT,
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

T = TypeVar("T")
SCHEDULE = (0.25, 0.5, 1.0, 2.0)  # seconds to wait after each send


class NoAnswer(Exception):
    """Nothing decodable came back from the gateway in time (or its port is closed)."""


class PmpExchange:
    """One connected UDP socket to ``gateway:port``; :meth:`ask` sends and waits for an answer."""

    def __init__(
        self,
        gateway: str,
        *,
        port: int = PMP_PORT,
        schedule: Sequence[float] = SCHEDULE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schedule = tuple(schedule)
        self._clock = clock
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.connect((gateway, port))
        except OSError:
            self._sock.close()
            raise
        self.local_address = str(self._sock.getsockname()[0])

    def ask(self, request: bytes, decode: Callable[[bytes], T]) -> T:
        """Send ``request`` on the schedule until ``decode`` accepts an answer; NoAnswer."""
        for wait in self.schedule:
            try:
                self._sock.send(request)
            except OSError as error:
                raise NoAnswer(f"cannot send: {error.strerror or error}") from error
            deadline = self._clock() + wait
            while (remaining := deadline - self._clock()) > 0:
                self._sock.settimeout(remaining)
                try:
                    data = self._sock.recv(MAX_DATAGRAM + 1)
                except TimeoutError:
                    break
                except ConnectionRefusedError as error:  # ICMP port unreachable
                    raise NoAnswer("nothing answers on the router's port 5351") from error
                except OSError as error:
                    raise NoAnswer(f"cannot receive: {error.strerror or error}") from error
                try:
                    return decode(data)
                except PmpDecodeError:
                    continue  # not an answer to this request: keep waiting
        raise NoAnswer("no answer")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> PmpExchange:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class PmpMethod:
    """PCP, or NAT-PMP where the router speaks only that, towards the default gateway."""

    name = "NAT-PMP/PCP"

    def __init__(
        self,
        gateway: str | None = None,
        *,
        port: int = PMP_PORT,
        schedule: Sequence[float] = SCHEDULE,
        nonce: Callable[[int], bytes] = secrets.token_bytes,
        pcp: bool = True,
    ) -> None:
        self._pcp_first = pcp  # False: NAT-PMP only (tests; a router known to need it)
        self._gateway = gateway
        self._port = port
        self._schedule = tuple(schedule)
        self._nonce = nonce

    def map(self, *, internal_port: int, external_port: int, lifetime: int) -> Lease:
        gateway = self._find_gateway()
        return self._map(gateway, internal_port, external_port, lifetime, nonce=None)

    def renew(self, lease: Lease) -> Lease:
        """Ask again for the same mapping (PCP: with the same nonce, as RFC 6887 §11.2.1 asks)."""
        nonce = lease.token if lease.method == "PCP" else None
        return self._map(
            lease.router, lease.internal_port, lease.external_port, lease.lifetime, nonce=nonce
        )

    def _map(
        self,
        gateway: str,
        internal_port: int,
        external_port: int,
        lifetime: int,
        *,
        nonce: bytes | None,
    ) -> Lease:
        with self._exchange(gateway) as exchange:
            pcp_silent = False
            lease = None
            if self._pcp_first:
                try:
                    lease = self._pcp(
                        exchange, gateway, internal_port, external_port, lifetime, nonce
                    )
                except NoAnswer as error:
                    if "port 5351" in str(error):
                        raise MapError(f"{gateway}: {error}", answered=False) from error
                    pcp_silent = True
            if lease is not None:
                return lease
            try:
                return self._natpmp(exchange, gateway, internal_port, external_port, lifetime)
            except NoAnswer as error:
                what = "neither PCP nor NAT-PMP" if pcp_silent else "NAT-PMP"
                raise MapError(f"{gateway} answered {what}: {error}", answered=False) from error

    def unmap(self, lease: Lease) -> None:
        with self._exchange(lease.router) as exchange:
            try:
                if lease.method == "PCP":
                    request = pcp_map_request(
                        client_address=exchange.local_address,
                        nonce=lease.token,
                        internal_port=lease.internal_port,
                        external_port=lease.external_port,
                        lifetime=0,
                    )
                    pcp = exchange.ask(
                        request,
                        lambda data: decode_pcp_map(
                            data, nonce=lease.token, internal_port=lease.internal_port
                        ),
                    )
                    code = pcp.result if isinstance(pcp, PcpMapping) else -1
                    ok = code == PcpResult.SUCCESS
                    words = result_name(code, PcpResult)
                else:
                    request = natpmp_map_request(
                        internal_port=lease.internal_port, external_port=0, lifetime=0
                    )
                    pmp = exchange.ask(
                        request,
                        lambda data: decode_natpmp_map(data, internal_port=lease.internal_port),
                    )
                    code = pmp.result if isinstance(pmp, NatPmpMapping) else -1
                    ok = code == NatPmpResult.SUCCESS
                    words = result_name(code, NatPmpResult)
            except NoAnswer as error:
                raise MapError(f"{lease.router}: {error}", answered=False) from error
        if not ok:
            raise MapError(f"the router would not remove the mapping ({words})", answered=True)

    # -- the two protocols ------------------------------------------------------------------

    def _pcp(
        self,
        exchange: PmpExchange,
        gateway: str,
        internal_port: int,
        external_port: int,
        lifetime: int,
        nonce: bytes | None,
    ) -> Lease | None:
        """A PCP lease; None if the router speaks only NAT-PMP; NoAnswer; MapError."""
        nonce = nonce or self._nonce(NONCE_SIZE)
        request = pcp_map_request(
            client_address=exchange.local_address,
            nonce=nonce,
            internal_port=internal_port,
            external_port=external_port,
            lifetime=lifetime,
        )
        answer = exchange.ask(
            request, lambda data: decode_pcp_map(data, nonce=nonce, internal_port=internal_port)
        )
        if isinstance(answer, UnsupportedVersion):
            return None
        if answer.result != PcpResult.SUCCESS:
            words = result_name(answer.result, PcpResult)
            raise MapError(f"the router refused the mapping (PCP {words})", answered=True)
        return Lease(
            method="PCP",
            router=gateway,
            external_address=answer.external_address,
            external_port=answer.external_port,
            internal_port=internal_port,
            lifetime=answer.lifetime,
            token=nonce,
        )

    def _natpmp(
        self,
        exchange: PmpExchange,
        gateway: str,
        internal_port: int,
        external_port: int,
        lifetime: int,
    ) -> Lease:
        address = exchange.ask(natpmp_address_request(), decode_natpmp_address)
        if isinstance(address, UnsupportedVersion):
            raise MapError("the router speaks neither PCP nor NAT-PMP version 0", answered=True)
        if address.result != NatPmpResult.SUCCESS:
            raise _natpmp_refusal(address)
        answer = exchange.ask(
            natpmp_map_request(
                internal_port=internal_port, external_port=external_port, lifetime=lifetime
            ),
            lambda data: decode_natpmp_map(data, internal_port=internal_port),
        )
        if isinstance(answer, UnsupportedVersion):
            raise MapError("the router speaks neither PCP nor NAT-PMP version 0", answered=True)
        if answer.result != NatPmpResult.SUCCESS:
            raise _natpmp_refusal(answer)
        return Lease(
            method="NAT-PMP",
            router=gateway,
            external_address=address.address,
            external_port=answer.external_port,
            internal_port=internal_port,
            lifetime=answer.lifetime,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _find_gateway(self) -> str:
        if self._gateway is not None:
            return self._gateway
        gateways = default_gateways()
        if not gateways:
            raise MapError("this computer has no default gateway to ask", answered=False)
        return gateways[0]

    def _exchange(self, gateway: str) -> PmpExchange:
        try:
            return PmpExchange(gateway, port=self._port, schedule=self._schedule)
        except OSError as error:
            message = f"cannot reach {gateway}: {error.strerror or error}"
            raise MapError(message, answered=False) from error


def _natpmp_refusal(answer: NatPmpAddress | NatPmpMapping) -> MapError:
    words = result_name(answer.result, NatPmpResult)
    return MapError(f"the router refused the mapping (NAT-PMP {words})", answered=True)
