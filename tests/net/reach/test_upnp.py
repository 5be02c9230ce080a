"""UpnpMethod against a scripted stand-in for the miniupnpc module (the real one is tested
against miniupnpd in test_namespaces.py): discovery failures, a router that takes only
permanent mappings, a port held by another computer, and rediscovery after a failure."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import ClassVar

import pytest

from net.reach.mapping import Lease, MapError
from net.reach.upnp import UpnpMethod


class FakeUPnP:
    devices = 1
    only_permanent = False
    taken: ClassVar[set[int]] = set()
    fail_add = ""
    made = 0

    def __init__(self) -> None:
        FakeUPnP.made += 1
        self.discoverdelay = 0
        self.lanaddr = "192.168.1.20"
        self.calls: list[tuple] = []
        self.mappings: dict[int, int] = {}

    def discover(self) -> int:
        return FakeUPnP.devices

    def selectigd(self) -> str:
        return "http://192.168.1.1:5000/ctl/IPConn"

    def externalipaddress(self) -> str:
        return "198.51.100.9"

    def addportmapping(self, eport, proto, iaddr, iport, desc, remote, lease) -> bool:
        self.calls.append(("add", eport, lease))
        if FakeUPnP.fail_add:
            raise Exception(FakeUPnP.fail_add)
        if FakeUPnP.only_permanent and lease:
            raise Exception("OnlyPermanentLeasesSupported")
        if eport in FakeUPnP.taken:
            raise Exception("ConflictInMappingEntry")
        self.mappings[eport] = lease
        return True

    def addanyportmapping(self, eport, proto, iaddr, iport, desc, remote, lease) -> int:
        self.calls.append(("addany", eport, lease))
        port = eport + 1
        self.mappings[port] = lease
        return port

    def getspecificportmapping(self, eport, proto):
        lease = self.mappings.get(eport)
        return None if lease is None else (self.lanaddr, eport, "d", True, min(lease, 1200))

    def deleteportmapping(self, eport, proto, remote) -> bool:
        self.calls.append(("delete", eport))
        if self.mappings.pop(eport, None) is None:
            raise Exception("NoSuchEntryInArray")
        return True


@pytest.fixture
def fake_miniupnpc(monkeypatch) -> Iterator[type[FakeUPnP]]:
    FakeUPnP.devices, FakeUPnP.only_permanent, FakeUPnP.fail_add = 1, False, ""
    FakeUPnP.taken, FakeUPnP.made = set(), 0
    module = types.ModuleType("miniupnpc")
    module.UPnP = FakeUPnP  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "miniupnpc", module)
    yield FakeUPnP


def test_map_renew_unmap(fake_miniupnpc):
    upnp = UpnpMethod(discover_ms=10)
    lease = upnp.map(internal_port=7777, external_port=7777, lifetime=3600)
    assert lease == Lease(
        method="UPnP IGD",
        router="192.168.1.1",
        external_address="198.51.100.9",
        external_port=7777,
        internal_port=7777,
        lifetime=1200,  # what the router says is left, when it is less than asked
    )
    assert upnp.renew(lease).external_port == 7777
    upnp.unmap(lease)
    assert fake_miniupnpc.made == 1  # one discovery for the whole lease


def test_a_router_that_takes_only_permanent_mappings_gets_one(fake_miniupnpc):
    fake_miniupnpc.only_permanent = True
    lease = UpnpMethod(discover_ms=10).map(internal_port=7777, external_port=7777, lifetime=3600)
    assert lease.lifetime == 0


def test_a_port_held_by_another_computer_lets_the_router_pick_one(fake_miniupnpc):
    fake_miniupnpc.taken = {7777}
    lease = UpnpMethod(discover_ms=10).map(internal_port=7777, external_port=7777, lifetime=60)
    assert (lease.external_port, lease.internal_port) == (7778, 7777)


def test_nothing_found_means_no_router_answered(fake_miniupnpc):
    fake_miniupnpc.devices = 0
    with pytest.raises(MapError, match="no UPnP router answered") as info:
        UpnpMethod(discover_ms=10).map(internal_port=7777, external_port=7777, lifetime=60)
    assert not info.value.answered


def test_a_refusal_is_an_answer_and_the_next_try_discovers_again(fake_miniupnpc):
    fake_miniupnpc.fail_add = "Action Failed"
    upnp = UpnpMethod(discover_ms=10)
    with pytest.raises(MapError, match="Action Failed") as info:
        upnp.map(internal_port=7777, external_port=7777, lifetime=60)
    assert info.value.answered
    fake_miniupnpc.fail_add = ""
    upnp.map(internal_port=7777, external_port=7777, lifetime=60)
    assert fake_miniupnpc.made == 2


def test_without_miniupnpc_upnp_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "miniupnpc", None)  # import raises ImportError
    with pytest.raises(MapError, match="miniupnpc is not installed") as info:
        UpnpMethod().map(internal_port=7777, external_port=7777, lifetime=60)
    assert not info.value.answered
