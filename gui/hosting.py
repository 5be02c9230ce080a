"""Starting a room for "Host a room", off the Tk thread, and finding this machine's addresses.

:func:`start_room_in_background` derives the room keys (scrypt: most of a second) and starts a
:class:`net.relay.RelayThread` in a worker thread, then puts :class:`RoomStarted` or
:class:`RoomFailed` on the pump. The app then connects its own client to 127.0.0.1 with the
same keys: one code path for hosts and joiners, and scrypt runs once. Given this device's
identity as ``owner``, the room is *owned* by it (``net.relay.create_owned_room``: the room id
comes from the owner's signed genesis), so the host can appoint admins and remove members.

Nothing here touches Tk.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from crypto.genesis import RoomSettings
from crypto.identity import Identity
from crypto.kdf import SALT_SIZE, SCRYPT_N, RoomKeys, derive_room_keys
from net.relay import RelayConfig, RelayThread, RoomSecret, create_owned_room


@dataclass(frozen=True)
class RoomStarted:
    """The relay listens on ``port``; connect the host's client with ``keys``. ``relay_key``
    is the new room's relay key: the app pins it for 127.0.0.1:``port`` so that its own client
    expects exactly this relay (a room hosted earlier on the same port had another key)."""

    relay: RelayThread
    keys: RoomKeys
    port: int
    relay_key: bytes = b""


@dataclass(frozen=True)
class RoomFailed:
    """The room could not start; ``error`` is usually an OSError from binding the port."""

    error: BaseException
    port: int


@dataclass
class RoomStarter:
    """Handle on a room being started; :meth:`cancel` if the person gives up or quits."""

    thread: threading.Thread
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self, timeout: float = 10.0) -> None:
        """Stop waiting for the room; a relay that starts anyway is stopped by the worker."""
        self.cancelled.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)


def start_room_in_background(
    password: str,
    port: int,
    put: Callable[[object], None],
    *,
    bind_host: str | tuple[str, ...] = "",
    accept_peer: Callable[[str], bool] | None = None,
    kdf_cost: int | None = None,
    owner: Identity | None = None,
    history_for_newcomers: bool = True,
) -> RoomStarter:
    """Start deriving keys and the relay in a worker; the outcome arrives through ``put``.

    ``put`` is the pump's thread-safe put. ``bind_host`` and ``accept_peer`` are the
    relay's ``RelayConfig.host`` and ``accept_peer`` (from ``net.reach.listen_plan``: ``""``
    is every address, IPv4 and IPv6). ``owner`` (this device's identity) owns the new room;
    without it the room has no owner. ``history_for_newcomers`` is the owned room's setting
    (signed into its genesis): False, new members see only what is sent after they join; a
    room without an owner always shares its history. ``kdf_cost`` is for tests only (a cheap
    scrypt).
    """
    cancelled = threading.Event()

    def run() -> None:
        try:
            if owner is not None:
                settings = RoomSettings.HISTORY_FOR_NEWCOMERS
                if not history_for_newcomers:
                    settings = RoomSettings(0)
                keys, secret = create_owned_room(
                    password, owner, settings=settings, n=kdf_cost or SCRYPT_N
                )
            else:
                keys = derive_room_keys(
                    password, room_id=secrets.token_bytes(SALT_SIZE), n=kdf_cost or SCRYPT_N
                )
                secret = RoomSecret.from_room_keys(keys)
            config = RelayConfig(host=bind_host, port=port, accept_peer=accept_peer)
            relay = RelayThread(secret, config)
            if cancelled.is_set():
                return
            actual_port = relay.start()
        except Exception as error:  # reported to the person, who can fix the port and retry
            put(RoomFailed(error=error, port=port))
            return
        if cancelled.is_set():
            relay.stop()  # nobody is waiting for this room any more
            return
        put(RoomStarted(relay=relay, keys=keys, port=actual_port, relay_key=secret.relay_key))

    thread = threading.Thread(target=run, name="socketchat-host", daemon=True)
    starter = RoomStarter(thread=thread, cancelled=cancelled)
    thread.start()
    return starter


def lan_addresses() -> list[str]:
    """This machine's addresses that friends on the same network can use, best first.

    The first is the IPv4 address of the default route, found by "connecting" a UDP socket to
    a documentation address (192.0.2.1, RFC 5737): connect() on UDP only picks a route and a
    source address, it sends no packet. Then the host name's own IPv4 addresses, then the
    IPv6 address of the default IPv6 route found the same way (2001:db8::1, RFC 3849), if
    there is one. Loopback and link-local addresses are left out.
    """
    found: list[str] = []
    found.extend(_route_source(socket.AF_INET, "192.0.2.1"))
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        infos = []
    found.extend(str(info[4][0]) for info in infos)
    found.extend(_route_source(socket.AF_INET6, "2001:db8::1"))
    usable = []
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        if text not in usable:
            usable.append(text)
    return usable


def _route_source(family: int, documentation_address: str) -> list[str]:
    """The source address this machine would use towards ``documentation_address``."""
    try:
        probe = socket.socket(family, socket.SOCK_DGRAM)
    except OSError:
        return []  # no such family here
    try:
        probe.connect((documentation_address, 9))
        return [str(probe.getsockname()[0])]
    except OSError:
        return []  # no route at all: offline
    finally:
        probe.close()
