"""PortMapper with recording fake methods and a scripted wait: the order methods are tried in,
renewal at half the lease, retry after a lost lease, removal on stop, and the events."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from net.reach.mapping import Lease, MapError
from net.reach.portmap import (
    PortMapFailed,
    PortMapLost,
    PortMapped,
    PortMapper,
    PortUnmapped,
    renew_delay,
)


class FakeMethod:
    def __init__(self, name: str, *, fail: MapError | None = None, lifetime: int = 600) -> None:
        self.name = name
        self.fail = fail
        self.renew_fails: list[MapError] = []
        self.lifetime = lifetime
        self.calls: list[str] = []

    def _lease(self, port: int) -> Lease:
        return Lease(
            method=self.name,
            router="192.168.1.1",
            external_address="198.51.100.9",
            external_port=port,
            internal_port=port,
            lifetime=self.lifetime,
        )

    def map(self, *, internal_port: int, external_port: int, lifetime: int) -> Lease:
        self.calls.append(f"map {internal_port} {lifetime}")
        if self.fail is not None:
            raise self.fail
        return self._lease(external_port)

    def renew(self, lease: Lease) -> Lease:
        self.calls.append("renew")
        if self.renew_fails:
            raise self.renew_fails.pop(0)
        return lease

    def unmap(self, lease: Lease) -> None:
        self.calls.append("unmap")


class ScriptedWait:
    """Records each wait's length; returns "stopped" after ``rounds`` waits (or when the
    mapper's stop event is set)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.delays: list[float | None] = []

    def __call__(self, event: threading.Event, seconds: float | None) -> bool:
        self.delays.append(seconds)
        return event.is_set() or len(self.delays) > self.rounds


def run(mapper: PortMapper) -> None:
    mapper.start()
    mapper.stop(timeout=10)
    assert not mapper.running


@pytest.fixture
def events() -> Iterator[list]:
    yield []


def test_the_first_method_that_works_is_used_renewed_and_removed(events):
    upnp = FakeMethod("UPnP IGD", fail=MapError("no UPnP router answered", answered=False))
    pmp = FakeMethod("NAT-PMP/PCP", lifetime=600)
    wait = ScriptedWait(rounds=2)
    mapper = PortMapper(7777, events.append, methods=[upnp, pmp], lifetime=3600, wait=wait)
    mapper.start()
    mapper._thread.join(10)  # the scripted wait ends the loop by itself
    assert upnp.calls == ["map 7777 3600"]
    assert pmp.calls == ["map 7777 3600", "renew", "renew", "unmap"]
    assert wait.delays == [300.0, 300.0, 300.0]  # half of the 600 s the router granted
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["PortMapped", "PortMapped", "PortMapped", "PortUnmapped"]
    assert events[-1] == PortUnmapped(lease=events[0].lease, ok=True)
    assert mapper.lease is None


def test_when_every_method_fails_the_event_says_whether_a_router_answered(events):
    methods = [
        FakeMethod("UPnP IGD", fail=MapError("no UPnP router answered", answered=False)),
        FakeMethod("NAT-PMP/PCP", fail=MapError("refused (NOT_AUTHORIZED)", answered=True)),
    ]
    run(PortMapper(7777, events.append, methods=methods, wait=ScriptedWait(0)))
    (failed,) = events
    assert isinstance(failed, PortMapFailed) and failed.answered
    assert failed.reasons == (
        "UPnP IGD: no UPnP router answered",
        "NAT-PMP/PCP: refused (NOT_AUTHORIZED)",
    )


def test_nobody_answering_at_all(events):
    methods = [FakeMethod("UPnP IGD", fail=MapError("no UPnP router answered", answered=False))]
    run(PortMapper(7777, events.append, methods=methods, wait=ScriptedWait(0)))
    assert events == [PortMapFailed(answered=False, reasons=("UPnP IGD: no UPnP router answered",))]


def test_a_lost_lease_is_reported_and_asked_for_again(events):
    pmp = FakeMethod("NAT-PMP/PCP", lifetime=120)
    pmp.renew_fails.append(MapError("no answer", answered=False))
    wait = ScriptedWait(rounds=2)
    mapper = PortMapper(7777, events.append, methods=[pmp], wait=wait)
    mapper.start()
    mapper._thread.join(10)
    assert pmp.calls == ["map 7777 3600", "renew", "map 7777 3600", "unmap"]
    assert wait.delays == [60.0, 60.0, 60.0]  # renew at half of 120 s; retry after a minute
    assert [type(event) for event in events] == [PortMapped, PortMapLost, PortMapped, PortUnmapped]


def test_a_permanent_mapping_is_not_renewed_but_still_removed(events):
    upnp = FakeMethod("UPnP IGD", lifetime=0)
    wait = ScriptedWait(rounds=0)
    run(PortMapper(7777, events.append, methods=[upnp], wait=wait))
    assert upnp.calls == ["map 7777 3600", "unmap"]
    assert wait.delays == [None]


def test_stop_from_another_thread_interrupts_the_wait_and_removes_the_mapping(events):
    pmp = FakeMethod("NAT-PMP/PCP", lifetime=3600)
    mapper = PortMapper(7777, events.append, methods=[pmp])  # the real wait
    mapper.start()
    for _ in range(500):
        if events:
            break
        threading.Event().wait(0.01)
    mapper.stop(timeout=10)
    assert pmp.calls == ["map 7777 3600", "unmap"]
    assert isinstance(events[-1], PortUnmapped)


def test_a_removal_the_router_does_not_confirm_is_reported(events):
    class Stubborn(FakeMethod):
        def unmap(self, lease: Lease) -> None:
            raise MapError("no answer", answered=False)

    run(PortMapper(7777, events.append, methods=[Stubborn("NAT-PMP/PCP")], wait=ScriptedWait(0)))
    assert events[-1].ok is False and events[-1].reason == "no answer"


def test_renew_delay():
    def with_lifetime(seconds: int) -> Lease:
        return FakeMethod("x", lifetime=seconds)._lease(1)

    assert renew_delay(with_lifetime(3600)) == 1800
    assert renew_delay(with_lifetime(20)) == 30  # never hammer the router
    assert renew_delay(with_lifetime(0)) is None
