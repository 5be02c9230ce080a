"""Rooms found on the local network: mDNS/DNS-SD announcements with ``zeroconf`` (pinned).

A hosted room (and a headless relay started with ``--announce``) registers one service of
type :data:`SERVICE_TYPE`: the instance name is the room's label ("alice's room"), the SRV
record carries this machine's name and the port, the A/AAAA records its addresses, and the TXT
record only ``v=1``. Never a secret: no password, no room id, no key — anyone on the network
can read it.

:class:`RoomBrowser` lists what others announce. Everything in an announcement was chosen by
another machine on the network and is hostile text: labels and host names are cut to
:data:`MAX_LABEL` / :data:`MAX_HOST_NAME` characters here (the GUI then shows them through
``gui.safetext.display_name``, which marks invisible and control characters), addresses are
parsed with :mod:`ipaddress` and used only if they parse, ports must be 1-65535, and at most
:data:`MAX_ROOMS` rooms are kept. A listed room is only a claim: joining it still runs the
password handshake, which gives a fake room nothing to guess the password with.

All calls block for a moment (socket setup, the multicast probe before a name is claimed):
call them from a worker thread. ``on_change`` is called on zeroconf's browser thread.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from net.reach.scope import IPNetwork, interface_networks

if TYPE_CHECKING:
    from zeroconf import ServiceListener

SERVICE_TYPE = "_socketchat._tcp.local."
MAX_LABEL = 63  # a DNS label's limit in bytes; characters here, cut again by the GUI
MAX_HOST_NAME = 63
MAX_ROOMS = 32
_RESOLVE_MS = 1500  # one announcement that never resolves holds the browser this long
_HOST_LABEL = re.compile(r"[^A-Za-z0-9-]+")


@dataclass(frozen=True)
class FoundRoom:
    """One announced room, as the login window lists it. ``label`` and ``host_name`` are
    capped but otherwise as announced (hostile: show them through ``gui.safetext``);
    ``address`` parsed and re-printed, so it is safe to put in the Host field."""

    key: str  # the service name, unique on the network
    label: str
    host_name: str
    address: str
    port: int


def room_label(username: str) -> str:
    """The label a hosted room announces: ``alice's room``."""
    return cut(f"{username}'s room", MAX_LABEL)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (the last one an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def announce_addresses() -> list[str]:
    """This machine's addresses worth announcing: not loopback, not IPv6 link-local."""
    import ifaddr

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            raw = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
            try:
                address = ipaddress.ip_address(raw)
            except ValueError:
                continue
            if address.is_loopback or address.is_unspecified or address.is_multicast:
                continue
            if address.version == 6 and address.is_link_local:
                continue
            if str(address) not in found:
                found.append(str(address))
    return found


def _server_name() -> str:
    """This machine's name as a ``.local.`` host name (letters, digits and hyphens only)."""
    name = _HOST_LABEL.sub("-", socket.gethostname().split(".")[0]).strip("-")[:63]
    return f"{name or 'socketchat-host'}.local."


class RoomAnnouncer:
    """Announce one room until :meth:`close`. ``start`` and ``close`` block: use a worker."""

    def __init__(self, label: str, port: int, *, addresses: Sequence[str] | None = None) -> None:
        self.label = cut(label.replace(".", " ").strip() or "SocketChat room", MAX_LABEL)
        self.port = port
        self._addresses = list(addresses) if addresses is not None else None
        self._zeroconf: Any = None
        self._info: Any = None
        self._lock = threading.Lock()
        self.name = ""  # the service name finally registered (zeroconf renames on conflict)

    def start(self) -> None:
        """Claim the name and announce (about 1.5 s: probing first). OSError if impossible."""
        from zeroconf import IPVersion, ServiceInfo, Zeroconf

        addresses = self._addresses if self._addresses is not None else announce_addresses()
        info = ServiceInfo(
            SERVICE_TYPE,
            f"{_dns_safe(self.label)}.{SERVICE_TYPE}",
            port=self.port,
            parsed_addresses=addresses,
            properties={"v": "1"},
            server=_server_name(),
        )
        with self._lock:
            zeroconf = Zeroconf(ip_version=IPVersion.All)
            try:
                zeroconf.register_service(info, allow_name_change=True)
            except BaseException:
                zeroconf.close()
                raise
            self._zeroconf, self._info = zeroconf, info
            self.name = info.name

    def close(self) -> None:
        """Say goodbye on the network (so browsers drop the room at once) and stop."""
        with self._lock:
            zeroconf, info, self._zeroconf, self._info = self._zeroconf, self._info, None, None
            if zeroconf is None:
                return
            try:
                zeroconf.unregister_service(info)
            finally:
                zeroconf.close()


def _dns_safe(label: str) -> str:
    # An instance name is one DNS label: at most 63 bytes of UTF-8, and no dot inside.
    encoded = label.encode("utf-8")[:MAX_LABEL]
    return encoded.decode("utf-8", errors="ignore") or "SocketChat room"


def pick_address(addresses: Sequence[str], local: Sequence[IPNetwork] = ()) -> str:
    """The address to put in the Host field: one inside ``local`` (our own subnets) first,
    then IPv4, then global or unique-local IPv6, then link-local IPv6 with its zone, each in
    the order announced; "" if none parses. Loopback, unspecified and multicast addresses are
    never picked (a room elsewhere cannot be on our loopback)."""
    ranked: list[tuple[int, int, str]] = []
    for index, text in enumerate(addresses):
        bare, _percent, zone = str(text).partition("%")
        try:
            address = ipaddress.ip_address(bare)
        except ValueError:
            continue
        if address.is_loopback or address.is_unspecified or address.is_multicast:
            continue
        if address.version == 6 and address.is_link_local:
            if zone and re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", zone):
                ranked.append((3, index, f"{address}%{zone}"))
            continue
        if any(address in network for network in local):
            ranked.append((0, index, str(address)))
        else:
            ranked.append((1 if address.version == 4 else 2, index, str(address)))
    return min(ranked)[2] if ranked else ""


def found_room(name: str, info: Any, local: Sequence[IPNetwork] = ()) -> FoundRoom | None:
    """A :class:`FoundRoom` from a resolved ``ServiceInfo``; None if it is unusable.
    ``local``: this machine's subnets, whose addresses are preferred."""
    if not name.endswith("." + SERVICE_TYPE):
        return None
    port = info.port
    if not isinstance(port, int) or not 1 <= port <= 65535:
        return None
    address = pick_address([str(a) for a in info.parsed_scoped_addresses()], local)
    if not address:
        return None
    label = name[: -len(SERVICE_TYPE) - 1]
    server = str(info.server or "")
    return FoundRoom(
        key=cut(name, 300),
        label=cut(label, MAX_LABEL),
        host_name=cut(server.removesuffix("."), MAX_HOST_NAME),
        address=address,
        port=port,
    )


class RoomBrowser:
    """Browse for rooms until :meth:`close`; ``on_change(rooms)`` gets the whole list, sorted
    by label, each time it changes (called on zeroconf's thread)."""

    def __init__(
        self,
        on_change: Callable[[tuple[FoundRoom, ...]], None],
        *,
        local: Callable[[], Sequence[IPNetwork]] | None = None,
    ) -> None:
        self._on_change = on_change
        self._local = local or interface_networks
        self._rooms: dict[str, FoundRoom] = {}
        self._lock = threading.Lock()
        self._zeroconf: Any = None
        self._browser: Any = None
        self._closed = False

    def start(self) -> None:
        """Open the multicast sockets and start browsing. OSError if the network refuses."""
        from zeroconf import IPVersion, ServiceBrowser, Zeroconf

        zeroconf = Zeroconf(ip_version=IPVersion.All)
        with self._lock:
            if self._closed:
                zeroconf.close()
                return
            self._zeroconf = zeroconf
            # Duck-typed: zeroconf calls add_service, update_service and remove_service.
            listener = cast("ServiceListener", self)
            self._browser = ServiceBrowser(zeroconf, SERVICE_TYPE, listener=listener)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            zeroconf, browser, self._zeroconf, self._browser = (
                self._zeroconf,
                self._browser,
                None,
                None,
            )
        if browser is not None:
            browser.cancel()
        if zeroconf is not None:
            zeroconf.close()

    @property
    def rooms(self) -> tuple[FoundRoom, ...]:
        with self._lock:
            return tuple(sorted(self._rooms.values(), key=lambda room: (room.label, room.key)))

    # -- zeroconf's listener interface (its browser thread) ----------------------------------

    def add_service(self, zc: Any, type_: str, name: str) -> None:
        self._resolve(zc, type_, name)

    def update_service(self, zc: Any, type_: str, name: str) -> None:
        self._resolve(zc, type_, name)

    def remove_service(self, zc: Any, type_: str, name: str) -> None:
        del zc, type_
        with self._lock:
            changed = self._rooms.pop(name, None) is not None
        if changed:
            self._on_change(self.rooms)

    def _resolve(self, zc: Any, type_: str, name: str) -> None:
        with self._lock:
            if self._closed or (name not in self._rooms and len(self._rooms) >= MAX_ROOMS):
                return
        info = zc.get_service_info(type_, name, timeout=_RESOLVE_MS)
        try:
            local = self._local()
        except OSError:
            local = []
        room = found_room(name, info, local) if info is not None else None
        with self._lock:
            if self._closed:
                return
            old = self._rooms.get(name)
            if room is None:
                changed = self._rooms.pop(name, None) is not None
            else:
                self._rooms[name] = room
                changed = old != room
        if changed:
            self._on_change(self.rooms)
