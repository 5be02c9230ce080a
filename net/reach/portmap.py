"""Keep a port open on the home router while a room is hosted "for everyone".

:class:`PortMapper` runs in its own daemon thread: it asks the router for a mapping with each
method in turn (UPnP IGD first, then PCP/NAT-PMP), renews the lease at half its lifetime,
and removes the mapping when :meth:`PortMapper.stop` is called (the room closes, the app
exits). What happens is told through ``on_event`` (called on the mapper's thread: a GUI only
puts the event on its pump):

* :class:`PortMapped` — a mapping exists (again after each renewal);
* :class:`PortMapFailed` — no method got one: ``answered`` False means no router answered at
  all (UPnP and NAT-PMP/PCP both off, or no router that speaks them);
* :class:`PortMapLost` — a renewal failed; the mapper keeps trying every minute;
* :class:`PortUnmapped` — removed (or the router did not confirm the removal: ``ok`` False).

Nothing here touches Tk; the waits go through an injectable ``wait`` so tests run without
sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from net.reach.mapping import Lease, MapError, MappingMethod

LIFETIME = 3600  # seconds asked for; renewed at half, so a crashed app's mapping lapses soon
_MIN_RENEW = 30.0
_RETRY = 60.0  # after a failed renewal


@dataclass(frozen=True)
class PortMapped:
    lease: Lease


@dataclass(frozen=True)
class PortMapFailed:
    """Every method failed. ``reasons`` has one line per method, in the order tried."""

    answered: bool  # some router answered (and refused); False: nothing answered at all
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PortMapLost:
    reason: str


@dataclass(frozen=True)
class PortUnmapped:
    lease: Lease
    ok: bool
    reason: str = ""


PortMapEvent = PortMapped | PortMapFailed | PortMapLost | PortUnmapped


def default_methods() -> list[MappingMethod]:
    """UPnP IGD, then PCP falling back to NAT-PMP (imported here: only hosting needs them)."""
    from net.reach.pmp import PmpMethod
    from net.reach.upnp import UpnpMethod

    return [UpnpMethod(), PmpMethod()]


def renew_delay(lease: Lease) -> float | None:
    """Seconds until the lease should be renewed: half its lifetime (at least 30 s), or None
    for a mapping without an end (nothing to renew)."""
    if lease.lifetime <= 0:
        return None
    return max(lease.lifetime / 2, _MIN_RENEW)


class PortMapper:
    """Map TCP ``port`` on the router to this machine, keep it, remove it. Start once."""

    def __init__(
        self,
        port: int,
        on_event: Callable[[PortMapEvent], None],
        *,
        methods: Sequence[MappingMethod] | None = None,
        lifetime: int = LIFETIME,
        wait: Callable[[threading.Event, float | None], bool] | None = None,
    ) -> None:
        self.port = port
        self._on_event = on_event
        self._methods = list(methods) if methods is not None else None
        self._lifetime = lifetime
        self._stop = threading.Event()
        self._wait = wait or (lambda event, seconds: event.wait(seconds))
        self._thread: threading.Thread | None = None
        self.lease: Lease | None = None  # the current mapping, for the app's status line

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a PortMapper can be started once")
        self._thread = threading.Thread(target=self._run, name="socketchat-portmap", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Remove the mapping and end the thread (waits at most ``timeout``). Idempotent."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        methods = self._methods if self._methods is not None else default_methods()
        found = self._map(methods)
        if found is None:
            return
        method, lease = found
        while True:
            delay = renew_delay(lease)
            if self._wait(self._stop, delay):
                break
            try:
                lease = method.renew(lease)
            except MapError as error:
                self._on_event(PortMapLost(reason=str(error)))
                again = self._retry(methods)
                if again is None:  # stopped while retrying: remove what may be left of it
                    break
                method, lease = again
            self.lease = lease
            self._on_event(PortMapped(lease))
        self._unmap(method, lease)

    def _map(self, methods: Sequence[MappingMethod]) -> tuple[MappingMethod, Lease] | None:
        reasons: list[str] = []
        answered = False
        for method in methods:
            if self._stop.is_set():
                return None
            try:
                lease = method.map(
                    internal_port=self.port, external_port=self.port, lifetime=self._lifetime
                )
            except MapError as error:
                reasons.append(f"{method.name}: {error}")
                answered = answered or error.answered
                continue
            if self._stop.is_set():  # stopped while asking: do not leave it behind
                self._unmap(method, lease)
                return None
            self.lease = lease
            self._on_event(PortMapped(lease))
            return method, lease
        self._on_event(PortMapFailed(answered=answered, reasons=tuple(reasons)))
        return None

    def _retry(self, methods: Sequence[MappingMethod]) -> tuple[MappingMethod, Lease] | None:
        """After a lost lease: ask again every minute until it works or the mapper stops."""
        while not self._wait(self._stop, _RETRY):
            for method in methods:
                try:
                    lease = method.map(
                        internal_port=self.port, external_port=self.port, lifetime=self._lifetime
                    )
                except MapError:
                    continue
                return method, lease
        return None

    def _unmap(self, method: MappingMethod, lease: Lease) -> None:
        try:
            method.unmap(lease)
        except MapError as error:
            self._on_event(PortUnmapped(lease=lease, ok=False, reason=str(error)))
        else:
            self._on_event(PortUnmapped(lease=lease, ok=True))
        self.lease = None
