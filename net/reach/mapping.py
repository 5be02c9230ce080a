"""What every port-mapping method returns or raises: a :class:`Lease` or a :class:`MapError`.

The methods (``upnp.py``: UPnP IGD; ``pmp.py``: PCP, then NAT-PMP) are interchangeable
:class:`MappingMethod` objects; ``portmap.py`` tries them in turn, renews the lease and removes
it. All their calls block (network round trips of up to a few seconds): call them from a worker
thread, never from the Tk thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A port mapping the router granted: ``external_address:external_port`` on the router
    reaches ``internal_port`` on this machine, for ``lifetime`` seconds (0: until removed)."""

    method: str  # "UPnP IGD", "PCP" or "NAT-PMP": how it was asked for
    router: str  # the router's address (or UPnP control URL's host), for the log and the panel
    external_address: str  # "" if the router would not say
    external_port: int
    internal_port: int
    lifetime: int
    token: bytes = field(default=b"", repr=False)  # what renewing and removing need (PCP nonce)


class MapError(Exception):
    """A method could not map the port. ``answered`` is False when no router answered at all
    (nothing to talk to), True when one answered and refused or failed (its words in the
    message)."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


class MappingMethod(Protocol):
    """One way of asking a router for a port mapping. Blocking calls; one worker at a time."""

    name: str

    def map(self, *, internal_port: int, external_port: int, lifetime: int) -> Lease:
        """Ask for (or renew) a mapping; :class:`MapError` if it cannot be had."""

    def renew(self, lease: Lease) -> Lease:
        """Extend ``lease`` before it runs out; the router may answer with another lifetime."""

    def unmap(self, lease: Lease) -> None:
        """Remove ``lease``'s mapping; :class:`MapError` if the router did not confirm."""
