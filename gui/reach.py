"""What the invite panel says about reaching a hosted room, and the services behind it.

No Tk here: :class:`ReachState` collects what is known (the scope, the router's answer, the
first connection from outside, the announcement) and the functions below turn it into the
sentences the invite panel shows, so tests read them without a display. The app updates the
state on the Tk thread from events that worker threads put on the pump (:class:`OutsideSeen`,
:class:`Announced`, :class:`RoomsFound` and ``net.reach``'s port-mapping events).

:class:`ReachServices` says which network services the app may use. :meth:`ReachServices.real`
(what ``python main.py`` uses) asks the router, announces and browses; the default,
:meth:`ReachServices.off`, does none of it, so an ``App`` made by a test never sends multicast
or talks to a router unless the test hands it fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from net.reach import (
    FoundRoom,
    Lease,
    PortMapEvent,
    PortMapFailed,
    PortMapLost,
    PortMapped,
    PortUnmapped,
    Reachability,
    Scope,
    judge,
)

INSTALL_DOC = "INSTALL.md, “Hosting a room for people outside your network”"


@dataclass(frozen=True)
class OutsideSeen:
    """The first connection from outside the local networks reached the room (at ``at``)."""

    peer: str
    at: str  # "14:02"


@dataclass(frozen=True)
class Announced:
    """The room is announced on the local network as ``name`` (or ``error`` says why not)."""

    name: str = ""
    error: str = ""


@dataclass(frozen=True)
class ForRoom:
    """An event about the hosted room whose state is ``room``. The app applies it only while
    that room is the one hosted (``room is app.reach``): events from a closed room are dropped
    without any generation counting."""

    room: ReachState
    event: PortMapEvent | OutsideSeen | Announced


@dataclass(frozen=True)
class RoomsFound:
    """The rooms announced on the local network right now (``error``: browsing failed)."""

    rooms: tuple[FoundRoom, ...]
    error: str = ""


class Startable(Protocol):
    def start(self) -> None: ...
    def stop(self, timeout: float = 10.0) -> None: ...


class Closable(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class ReachServices:
    """Factories for the network services around a hosted room (None: not used)."""

    mapper: Callable[[int, Callable[[PortMapEvent], None]], Startable] | None = None
    announcer: Callable[[str, int], Closable] | None = None
    browser: Callable[[Callable[[tuple[FoundRoom, ...]], None]], Closable] | None = None

    @classmethod
    def off(cls) -> ReachServices:
        return cls()

    @classmethod
    def real(cls) -> ReachServices:
        from net.reach import PortMapper, RoomAnnouncer, RoomBrowser

        return cls(mapper=PortMapper, announcer=RoomAnnouncer, browser=RoomBrowser)


@dataclass
class ReachState:
    """What is known about reaching the hosted room. Updated on the Tk thread only."""

    scope: Scope
    port: int
    asked_router: bool  # the person left "Ask the router" on, and the app can ask
    lan_address: str = ""  # this computer's address on the local network, for the texts
    lease: Lease | None = None
    failure: PortMapFailed | None = None
    lost: str = ""
    removed: bool = False
    outside_seen_at: str | None = None
    announced: Announced | None = None

    def apply(self, event: PortMapEvent | OutsideSeen | Announced) -> None:
        """Take in one event from a worker thread (through the pump)."""
        if isinstance(event, PortMapped):
            self.lease, self.failure, self.lost = event.lease, None, ""
        elif isinstance(event, PortMapFailed):
            self.lease, self.failure = None, event
        elif isinstance(event, PortMapLost):
            self.lost = event.reason
        elif isinstance(event, PortUnmapped):
            self.lease, self.removed = None, True
        elif isinstance(event, OutsideSeen):
            self.outside_seen_at = self.outside_seen_at or event.at
        elif isinstance(event, Announced):
            self.announced = event

    @property
    def public_address(self) -> str:
        """The router's internet address with the mapped port's host part, or ""."""
        return self.lease.external_address if self.lease is not None else ""

    @property
    def public_port(self) -> int:
        return self.lease.external_port if self.lease is not None else self.port


def router_text(state: ReachState) -> str:
    """One or two sentences about the router and the port, for "everyone" rooms."""
    port = state.port
    here = f" ({state.lan_address})" if state.lan_address else ""
    by_hand = (
        f"Forward TCP port {port} to this computer{here} in your router's settings, "
        f"and allow SocketChat through the firewall if asked: see {INSTALL_DOC}."
    )
    if state.scope is Scope.NETWORK:
        return "Only this network can join: connections from the internet are refused."
    if state.scope is Scope.COMPUTER:
        return "Only this computer can join (127.0.0.1 and ::1)."
    if not state.asked_router:
        return f"The router was not asked to open the port. {by_hand}"
    if state.lease is not None:
        lease = state.lease
        where = lease.external_address or "your internet address"
        text = (
            f"Your router opened port {lease.external_port} ({lease.method}): friends "
            f"elsewhere join at {where}, port {lease.external_port}. It closes with the room."
        )
        if state.lost:
            text += f" The last renewal failed ({state.lost}); trying again."
        return text
    if state.failure is not None:
        if not state.failure.answered:
            return (
                "No router answered the request to open the port (UPnP, NAT-PMP, PCP): it "
                f"may have them turned off, or there is none. {by_hand}"
            )
        reasons = "; ".join(state.failure.reasons)
        return (
            f"Your router would not open the port ({reasons}). Turn on UPnP or NAT-PMP in "
            f"its settings, or: {by_hand} A router that is itself behind another NAT (a "
            "second router, or the provider's carrier-grade NAT) refuses this way too; then "
            "only a relay on a server with a public address helps (RELAY.md)."
        )
    if state.removed:
        return "The port mapping was removed."
    return f"Asking your router to open port {port}…"


def reachability(state: ReachState) -> Reachability | None:
    """The verdict for "everyone" rooms (None for the other scopes, and while asking)."""
    if state.scope is not Scope.EVERYONE:
        return None
    asking = state.asked_router and state.lease is None and state.failure is None
    if asking and not state.removed and state.outside_seen_at is None:
        return None  # still asking the router: nothing to say yet
    return judge(lease=state.lease, outside_seen_at=state.outside_seen_at)


def announce_text(state: ReachState) -> str:
    if state.announced is None:
        return ""
    if state.announced.error:
        return f"Could not announce the room on this network ({state.announced.error})."
    return "Announced on this network: computers here list it under “Rooms on this network”."
