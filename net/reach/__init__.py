"""Reaching a hosted room: who may connect, the router's port, and rooms found on the network.

Public face (what the app, ``main.py relay --announce`` and tests use)::

    from net.reach import Scope, listen_plan, PortMapper, judge, RoomAnnouncer, RoomBrowser

* ``scope`` — :class:`Scope` (everyone / this network / this computer) and
  :func:`listen_plan`: the relay's listening addresses and peer rule for each;
* ``portmap`` — :class:`PortMapper`: asks the router for a port mapping (``upnp``: UPnP IGD
  through miniupnpc; ``pmp``: PCP, then NAT-PMP, over ``pmp_codec``, a sans-I/O codec),
  renews it and removes it, in its own thread;
* ``reachability`` — :func:`judge`: "reachable from the internet", "not reachable" or "could
  not check", from evidence only; :class:`OutsideWatcher` notices the first peer from outside;
* ``discovery`` — :class:`RoomAnnouncer` and :class:`RoomBrowser`: mDNS/DNS-SD with zeroconf.

Nothing here imports Tk; every blocking call (router round trips, multicast setup) is meant for
a worker thread, and results come back through callbacks that a GUI turns into pump events.
zeroconf, miniupnpc and ifaddr are imported only when used.
"""

from __future__ import annotations

from net.reach.discovery import SERVICE_TYPE, FoundRoom, RoomAnnouncer, RoomBrowser, room_label
from net.reach.mapping import Lease, MapError
from net.reach.portmap import (
    PortMapEvent,
    PortMapFailed,
    PortMapLost,
    PortMapped,
    PortMapper,
    PortUnmapped,
)
from net.reach.reachability import OutsideWatcher, Reach, Reachability, judge
from net.reach.scope import (
    SCOPE_TEXTS,
    ListenPlan,
    LocalNetworks,
    Scope,
    is_local_address,
    listen_plan,
)

__all__ = [
    "SCOPE_TEXTS",
    "SERVICE_TYPE",
    "FoundRoom",
    "Lease",
    "ListenPlan",
    "LocalNetworks",
    "MapError",
    "OutsideWatcher",
    "PortMapEvent",
    "PortMapFailed",
    "PortMapLost",
    "PortMapped",
    "PortMapper",
    "PortUnmapped",
    "Reach",
    "Reachability",
    "RoomAnnouncer",
    "RoomBrowser",
    "Scope",
    "is_local_address",
    "judge",
    "listen_plan",
    "room_label",
]
