"""This machine's default IPv4 gateway: where NAT-PMP and PCP requests go (RFC 6886 §3.1).

Linux: read ``/proc/net/route`` (:func:`parse_proc_net_route` is a pure function, tested on
sample tables). Windows: ask the routing table with ``GetBestRoute`` from ``iphlpapi.dll``
(through ctypes; not run on this project's Linux machines). Elsewhere: no answer, and NAT-PMP
and PCP are skipped (UPnP finds its router by multicast and needs no gateway).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from pathlib import Path

_RTF_UP = 0x1
_RTF_GATEWAY = 0x2


def default_gateways() -> list[str]:
    """The default gateways' IPv4 addresses, best first; empty if none can be found."""
    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/net/route").read_text(encoding="ascii", errors="replace")
        except OSError:
            return []
        return parse_proc_net_route(text)
    if sys.platform == "win32":
        return _windows_gateway()
    return []


def parse_proc_net_route(text: str) -> list[str]:
    """Default routes' gateways from ``/proc/net/route``, lowest metric first.

    Columns: Iface Destination Gateway Flags RefCnt Use Metric Mask … with addresses as
    8 hex digits in host byte order (little-endian on every machine Linux runs this on).
    Malformed lines are skipped.
    """
    found: list[tuple[int, str]] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination = int(fields[1], 16)
            gateway = int(fields[2], 16)
            flags = int(fields[3], 16)
            metric = int(fields[6])
            mask = int(fields[7], 16)
        except ValueError:
            continue
        if destination or mask or not gateway or gateway > 0xFFFF_FFFF:
            continue
        if flags & (_RTF_UP | _RTF_GATEWAY) != _RTF_UP | _RTF_GATEWAY:
            continue
        address = str(ipaddress.IPv4Address(struct.pack("<I", gateway)))
        if all(address != known for _, known in found):
            found.append((metric, address))
    return [address for _, address in sorted(found, key=lambda item: item[0])]


def _windows_gateway() -> list[str]:  # pragma: no cover - Windows only
    import ctypes

    row = (ctypes.c_uint32 * 14)()  # MIB_IPFORWARDROW: fourteen DWORDs, next hop the fourth
    probe = "192.0.2.1"  # any off-link address: only the routing table is read, nothing is sent
    destination = struct.unpack("=I", socket.inet_aton(probe))[0]
    try:
        iphlpapi = ctypes.WinDLL("iphlpapi.dll")  # type: ignore[attr-defined,unused-ignore]
        status = iphlpapi.GetBestRoute(destination, 0, ctypes.byref(row))
    except (AttributeError, OSError):
        return []
    if status != 0 or row[3] == 0:
        return []
    gateway = socket.inet_ntoa(struct.pack("=I", row[3]))
    return [] if gateway == probe else [gateway]  # the probe itself: on-link, no gateway
