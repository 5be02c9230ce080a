"""Is a room hosted "for everyone" reachable from the internet? Only evidence, never a guess.

SocketChat uses no server of its own or anyone else's, so nothing outside the home network
can test the port for us. What this machine can know for sure:

* **reachable** — a connection from an address outside every local network (the rule of
  ``scope.py``) reached the room. That is the proof: someone on the internet got through.
  :class:`OutsideWatcher` sits in the relay's ``accept_peer`` hook and notices the first one.
* **not reachable** — the router's own internet address, as it reported it with the mapping,
  is a private (RFC 1918) or shared (100.64.0.0/10, RFC 6598) address: another NAT sits in
  front of the router (a second router, or the provider's carrier-grade NAT), and the mapping
  opens only the first of the two. No one on the internet can reach that address.
* **could not check** — everything else, with what to do: ask someone outside (a phone on
  mobile data) to join; the line turns to "reachable" when they do.

What we do not do, and why: connecting from this machine to the public address and port
proves nothing either way. The connection turns around inside the router ("hairpin NAT"):
many routers do not support that, so a failure says nothing, and where it works it never
crossed the provider's network, so a success says nothing about the internet side either
(provider filtering, a carrier-grade NAT with a public-looking address, a firewall upstream).
"""

from __future__ import annotations

import enum
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass

from net.reach.mapping import Lease
from net.reach.scope import LocalNetworks, parse_address

# Addresses a router can have on its internet side that nobody on the internet can reach.
_NOT_REACHABLE_RANGES = tuple(
    ipaddress.ip_network(text)
    for text in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
    )
)


class Reach(enum.Enum):
    REACHABLE = "reachable from the internet"
    NOT_REACHABLE = "not reachable"
    UNKNOWN = "could not check"


@dataclass(frozen=True)
class Reachability:
    """The verdict and one or two sentences saying why and what to do."""

    reach: Reach
    detail: str


def behind_another_nat(external_address: str) -> bool:
    """The router's internet-side address is one that the internet cannot reach."""
    address = parse_address(external_address)
    if address is None:
        return False
    return any(address in network for network in _NOT_REACHABLE_RANGES)


def judge(*, lease: Lease | None, outside_seen_at: str | None) -> Reachability:
    """The verdict from what is known: the router's mapping (None if there is none) and
    when (``"14:02"``) a connection from outside first reached the room, if one did."""
    if outside_seen_at is not None:
        return Reachability(
            Reach.REACHABLE,
            f"A connection from outside your network reached the room at {outside_seen_at}.",
        )
    if lease is not None and lease.external_address and behind_another_nat(lease.external_address):
        return Reachability(
            Reach.NOT_REACHABLE,
            f"Your router's own internet address, {lease.external_address}, is a private or "
            "shared one: another router, or your provider's carrier-grade NAT, sits in front "
            "of it, and the port is open only on the first of the two. Ask the provider for a "
            "public address, or use a relay on a server (see RELAY.md).",
        )
    if lease is not None:
        return Reachability(
            Reach.UNKNOWN,
            "The router opened the port, but only a connection from outside your network "
            "proves it works (a test from this computer would turn around inside the router "
            "and prove nothing). Ask a friend outside, or a phone on mobile data, to join: "
            "this line changes when someone from outside connects.",
        )
    return Reachability(
        Reach.UNKNOWN,
        "No router opened the port. If you forwarded it by hand, ask a friend outside, or a "
        "phone on mobile data, to join: this line changes when someone from outside connects.",
    )


class OutsideWatcher:
    """A relay ``accept_peer`` hook that lets everyone in and notices the first peer from
    outside the local networks. ``on_outside(address)`` is called once, on the relay's loop
    thread (a GUI only puts an event on its pump)."""

    def __init__(
        self, on_outside: Callable[[str], None], *, networks: LocalNetworks | None = None
    ) -> None:
        self._on_outside = on_outside
        self._networks = networks or LocalNetworks()
        self._lock = threading.Lock()
        self.seen: str | None = None

    def __call__(self, peer: str) -> bool:
        if self.seen is None and not self._networks.accepts(peer):
            with self._lock:
                first = self.seen is None
                self.seen = peer
            if first:
                self._on_outside(peer)
        return True
