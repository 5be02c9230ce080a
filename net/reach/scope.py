"""Who may reach a hosted room: everyone, this network only, or this computer only.

:func:`listen_plan` turns the host dialog's choice into what the relay needs: the addresses to
listen on (``RelayConfig.host``), the peer rule (``RelayConfig.accept_peer``) and whether the
router should be asked to open the port.

"This network only" listens on every address, IPv4 and IPv6, and accepts a connection only if
the peer's address (an IPv4-mapped IPv6 address counts as its IPv4 address) is

1. loopback (127.0.0.0/8, ::1),
2. link-local (169.254.0.0/16, fe80::/10): only reachable from the same link,
3. private-use (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or unique-local (fc00::/7), or
4. inside the subnet of one of this computer's own interface addresses (an IPv6 home network
   uses global addresses from the provider's prefix; this covers it), read when the room
   starts and again at most every 30 seconds.

Everything else — public IPv4, global IPv6 outside our own prefixes, and the provider-side
shared range 100.64.0.0/10 (RFC 6598, carrier-grade NAT) — is closed unheard. Binding only to
the LAN addresses would not do this on its own: a port forwarded by the router (by hand, or a
mapping left from another program) delivers internet connections to the LAN address, with
their internet source address intact; that address is what the rule checks. What it cannot
tell apart: a router that rewrites the source of forwarded connections to its own LAN address
("NAT loopback" done with masquerading) makes them look local. The room password still guards
the room in that case; the scope keeps strangers from even trying it.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOCAL_RANGES: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "127.0.0.0/8",
        "::1/128",
        "169.254.0.0/16",
        "fe80::/10",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    )
)
_REFRESH_SECONDS = 30.0


class Scope(enum.Enum):
    """The host dialog's three choices."""

    EVERYONE = "everyone"
    NETWORK = "network"
    COMPUTER = "computer"


SCOPE_TEXTS: dict[Scope, tuple[str, str]] = {
    Scope.EVERYONE: (
        "Everyone who can reach this computer",
        "Friends on this network, and on the internet once the router lets them through.",
    ),
    Scope.NETWORK: (
        "This network only",
        "Home or office network: connections from the internet are refused.",
    ),
    Scope.COMPUTER: (
        "This computer only",
        "Listens on 127.0.0.1 and ::1: for testing, or several windows on one machine.",
    ),
}


@dataclass(frozen=True)
class ListenPlan:
    """What the relay needs for a scope (see :func:`listen_plan`)."""

    scope: Scope
    host: str | tuple[str, ...]  # RelayConfig.host
    accept_peer: Callable[[str], bool] | None  # RelayConfig.accept_peer
    may_map_port: bool  # only "everyone" asks the router to open the port


def listen_plan(scope: Scope, *, networks: LocalNetworks | None = None) -> ListenPlan:
    """The relay settings for ``scope``. ``networks`` is for tests (default: this machine's)."""
    if scope is Scope.COMPUTER:
        hosts = ("127.0.0.1", "::1") if ipv6_loopback_works() else ("127.0.0.1",)
        return ListenPlan(scope, hosts, None, False)
    if scope is Scope.NETWORK:
        rule = networks or LocalNetworks()
        return ListenPlan(scope, "", rule.accepts, False)
    return ListenPlan(scope, "", None, True)


def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or a record, without zone, IPv4-mapped unwrapped; None if bad."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_local_address(text: str, networks: Iterable[IPNetwork] = ()) -> bool:
    """The "this network only" rule (module docstring): loopback, link-local, private or
    unique-local, or inside one of ``networks`` (this computer's interface subnets)."""
    address = parse_address(text)
    if address is None:
        return False
    return any(address in network for network in (*LOCAL_RANGES, *networks))


def interface_networks() -> list[IPNetwork]:
    """The subnets of this computer's interface addresses (``ifaddr``), loopback included."""
    import ifaddr  # a dependency of zeroconf; pure Python

    found: list[IPNetwork] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            raw = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
            try:
                network = ipaddress.ip_network(f"{raw}/{ip.network_prefix}", strict=False)
            except ValueError:
                continue
            if network.prefixlen == 0:
                continue  # a /0 would make every address "local"
            if network not in found:
                found.append(network)
    return found


class LocalNetworks:
    """This computer's subnets, read again at most every 30 s; :meth:`accepts` is the rule.

    :meth:`accepts` runs on the relay's event loop for each new connection: it reads the
    interfaces at most once per refresh period, so a scan costs no more than that.
    """

    def __init__(
        self,
        read: Callable[[], list[IPNetwork]] = interface_networks,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = _REFRESH_SECONDS,
    ) -> None:
        self._read = read
        self._clock = clock
        self._refresh = refresh
        self._lock = threading.Lock()
        self._networks: list[IPNetwork] = []
        self._read_at: float | None = None

    def networks(self) -> list[IPNetwork]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._refresh:
                # On an error keep what we had: the fixed ranges still apply.
                with contextlib.suppress(OSError):
                    self._networks = self._read()
                self._read_at = now
            return list(self._networks)

    def accepts(self, peer: str) -> bool:
        address = parse_address(peer)
        if address is None:
            return False
        if any(address in network for network in LOCAL_RANGES):
            return True  # no need to read the interfaces
        return any(address in network for network in self.networks())


def ipv6_loopback_works() -> bool:
    """Whether ::1 can be bound (IPv6 can be off, or absent from the kernel)."""
    import socket

    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
