"""The relay's listening sockets: one dual-stack socket by default, or the addresses asked for.

:func:`open_listeners` turns :attr:`RelayConfig.host <net.relay.config.RelayConfig.host>` into
bound, listening sockets for :class:`net.relay.Relay` to serve:

* ``""`` (the default): every interface, IPv4 and IPv6. One IPv6 socket on ``::`` with
  ``IPV6_V6ONLY`` off where the OS allows it (Linux, Windows, macOS: IPv4 peers then arrive as
  ``::ffff:a.b.c.d``, which the relay reads as plain IPv4); where it does not, two sockets,
  ``0.0.0.0`` and ``::``; on a machine without IPv6, ``0.0.0.0`` alone.
* one address or name (``127.0.0.1``, ``::1``, ``0.0.0.0``, ``::``, ``relay.example.org``):
  every address it resolves to. An IPv6 socket here is IPv6 only (``--bind ::`` means IPv6).
* several (a tuple): each of them, all on the same port.

With port 0 the system picks a free port for the first socket and the others take the same
one (asyncio's ``create_server`` would give each socket its own). Nothing here is asyncio: the
sockets are handed to ``loop.create_server(sock=...)``.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Sequence

ALL_INTERFACES = ""  # RelayConfig.host for "every interface, IPv4 and IPv6"
# Port 0 with several sockets: a port free for one family may be taken for another; try again.
_PORT_ZERO_TRIES = 8


def describe_hosts(host: str | Sequence[str]) -> str:
    """How a ``host`` setting reads in a log line: ``all addresses, IPv4 and IPv6``, ``::1``…"""
    hosts = (host,) if isinstance(host, str) else tuple(host)
    if not hosts or hosts == (ALL_INTERFACES,):
        return "all addresses, IPv4 and IPv6"
    return ", ".join(format_host(one) for one in hosts)


def format_host(host: str) -> str:
    """``[::1]`` for an IPv6 literal (as in ``[::1]:7777``), the host itself otherwise."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def open_listeners(host: str | Sequence[str], port: int, backlog: int) -> list[socket.socket]:
    """Bind and listen; return the sockets (all on one port). OSError if any cannot bind."""
    hosts = (host,) if isinstance(host, str) else tuple(host)
    wanted = [one for one in hosts if one != ALL_INTERFACES]
    everything = not wanted
    tries = _PORT_ZERO_TRIES if port == 0 else 1
    for attempt in range(tries):
        try:
            if everything:
                return _dual_stack(port, backlog)
            return _bind_each(_resolve(wanted, port), port, backlog)
        except OSError as error:
            if port != 0 or error.errno != errno.EADDRINUSE or attempt == tries - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _dual_stack(port: int, backlog: int) -> list[socket.socket]:
    if socket.has_dualstack_ipv6():
        return [
            socket.create_server(
                ("::", port), family=socket.AF_INET6, backlog=backlog, dualstack_ipv6=True
            )
        ]
    if not _ipv6_available():
        return [socket.create_server(("0.0.0.0", port), backlog=backlog)]  # noqa: S104
    return _bind_each(
        [(socket.AF_INET, ("0.0.0.0", port)), (socket.AF_INET6, ("::", port, 0, 0))],  # noqa: S104
        port,
        backlog,
    )


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    probe.close()
    return True


def _resolve(hosts: Sequence[str], port: int) -> list[tuple[int, tuple[object, ...]]]:
    """Every (family, sockaddr) the hosts name, without duplicates, in the order given."""
    found: list[tuple[int, tuple[object, ...]]] = []
    for host in hosts:
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        infos = socket.getaddrinfo(
            bare, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
        for family, _type, _proto, _name, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            entry = (int(family), tuple(sockaddr))
            if entry not in found:
                found.append(entry)
    return found


def _bind_each(
    addresses: Sequence[tuple[int, tuple[object, ...]]], port: int, backlog: int
) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    chosen = port
    try:
        for family, sockaddr in addresses:
            address = (sockaddr[0], chosen, *sockaddr[2:])
            sock = socket.create_server(address, family=family, backlog=backlog)
            sockets.append(sock)
            if chosen == 0:
                chosen = sock.getsockname()[1]
    except BaseException:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        raise
    return sockets
