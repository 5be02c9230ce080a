"""Asking the router for a port mapping with UPnP IGD, through ``miniupnpc`` (pinned).

``miniupnpc`` is the MiniUPnP project's own client library (the same project as the
``miniupnpd`` daemon that many routers run), with wheels for Windows and Linux on PyPI; its
Python module is a thin C extension over ``libminiupnpc``: SSDP discovery, then SOAP calls to
the router's WANIPConnection service. Every call blocks (discovery waits ``discover_ms``), so
:class:`UpnpMethod` runs on a worker thread.

If the module cannot be imported (a Python without a wheel and no compiler), UPnP is reported
as unavailable and NAT-PMP/PCP are still tried.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from net.reach.mapping import Lease, MapError

DESCRIPTION = "SocketChat room"
_DISCOVER_MS = 2000
# Error texts miniupnpc raises (strupnperror): a router that takes only permanent mappings
# (IGD v1, error 725), and a port another computer already holds (718).
_ONLY_PERMANENT = "OnlyPermanentLeasesSupported"
_CONFLICT = "ConflictInMappingEntry"


class UpnpMethod:
    """UPnP IGD: discover the router, map TCP ``internal_port`` to this machine's LAN address."""

    name = "UPnP IGD"

    def __init__(self, *, discover_ms: int = _DISCOVER_MS, description: str = DESCRIPTION) -> None:
        self._discover_ms = discover_ms
        self._description = description
        self._lock = threading.Lock()  # one libminiupnpc call at a time on our UPnP object
        self._upnp: Any = None
        self._router = ""

    def map(self, *, internal_port: int, external_port: int, lifetime: int) -> Lease:
        with self._lock:
            try:
                return self._map(internal_port, external_port, lifetime)
            except MapError:
                self._upnp = None  # discover again next time: the router may have restarted
                raise

    def _map(self, internal_port: int, external_port: int, lifetime: int) -> Lease:
        upnp = self._igd()
        lan = str(upnp.lanaddr)
        external = self._external_address(upnp)
        try:
            granted = self._add(upnp, external_port, lan, internal_port, lifetime)
        except MapError as error:
            if _CONFLICT not in str(error):
                raise
            # Another computer holds this port on the router: let it pick one (IGD v2).
            try:
                port = int(
                    upnp.addanyportmapping(
                        external_port,
                        "TCP",
                        lan,
                        internal_port,
                        self._description,
                        "",
                        lifetime,
                    )
                )
            except Exception as any_error:  # miniupnpc raises plain Exception
                raise MapError(
                    f"port {external_port} is taken on the router by another computer, "
                    f"and it offered no other ({any_error})",
                    answered=True,
                ) from any_error
            granted = (port, lifetime)
        port, lease_seconds = granted
        return Lease(
            method=self.name,
            router=self._router,
            external_address=external,
            external_port=port,
            internal_port=internal_port,
            lifetime=lease_seconds,
        )

    def renew(self, lease: Lease) -> Lease:
        """UPnP has no renewal: the same AddPortMapping again extends the lease."""
        with self._lock:
            try:
                return self._renew(lease)
            except MapError:
                self._upnp = None
                raise

    def _renew(self, lease: Lease) -> Lease:
        upnp = self._igd()
        port, lifetime = self._add(
            upnp, lease.external_port, str(upnp.lanaddr), lease.internal_port, lease.lifetime
        )
        return Lease(
            method=self.name,
            router=self._router,
            external_address=self._external_address(upnp) or lease.external_address,
            external_port=port,
            internal_port=lease.internal_port,
            lifetime=lifetime,
        )

    def unmap(self, lease: Lease) -> None:
        with self._lock:
            upnp = self._igd()
            try:
                upnp.deleteportmapping(lease.external_port, "TCP", "")
            except Exception as error:  # miniupnpc raises plain Exception
                message = f"the router would not remove the mapping ({error})"
                raise MapError(message, answered=True) from error

    # -- plumbing ---------------------------------------------------------------------------

    def _igd(self) -> Any:
        """The selected Internet Gateway Device, discovered once per method object."""
        if self._upnp is not None:
            return self._upnp
        try:
            import miniupnpc
        except ImportError as error:
            raise MapError(
                "UPnP is not available (miniupnpc is not installed)", answered=False
            ) from error
        upnp = miniupnpc.UPnP()
        upnp.discoverdelay = self._discover_ms
        try:
            found = upnp.discover()
        except Exception as error:  # miniupnpc raises plain Exception
            raise MapError(f"UPnP discovery failed ({error})", answered=False) from error
        if not found:
            raise MapError("no UPnP router answered", answered=False)
        try:
            control_url = str(upnp.selectigd())
        except Exception as error:
            raise MapError(f"no usable UPnP router ({error})", answered=False) from error
        self._router = urlsplit(control_url).hostname or control_url
        self._upnp = upnp
        return upnp

    def _external_address(self, upnp: Any) -> str:
        try:
            return str(upnp.externalipaddress() or "")
        except Exception:  # the mapping may still work; the panel then says it does not know
            return ""

    def _add(
        self, upnp: Any, external_port: int, lan: str, internal_port: int, lifetime: int
    ) -> tuple[int, int]:
        """AddPortMapping; a router that takes only permanent mappings gets one (lifetime 0)."""
        for lease_seconds in (lifetime, 0) if lifetime else (0,):
            try:
                upnp.addportmapping(
                    external_port, "TCP", lan, internal_port, self._description, "", lease_seconds
                )
            except Exception as error:  # miniupnpc raises plain Exception
                if _ONLY_PERMANENT in str(error) and lease_seconds:
                    continue
                raise MapError(
                    f"the router refused the mapping ({error})", answered=True
                ) from error
            return external_port, self._granted_lifetime(upnp, external_port, lease_seconds)
        raise AssertionError("unreachable")  # pragma: no cover

    def _granted_lifetime(self, upnp: Any, external_port: int, asked: int) -> int:
        """What the router says is left of the lease (it may shorten what we asked for)."""
        try:
            entry = upnp.getspecificportmapping(external_port, "TCP")
        except Exception:
            return asked
        if isinstance(entry, tuple) and len(entry) >= 5 and isinstance(entry[4], int):
            remaining = entry[4]
            if asked and 0 < remaining < asked:
                return remaining
        return asked
