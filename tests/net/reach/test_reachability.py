"""Reachability from evidence only: a peer from outside proves it, a private or shared router
address disproves it, and everything else is "could not check" with what to do."""

from __future__ import annotations

import threading

import pytest

from net.reach.mapping import Lease
from net.reach.reachability import OutsideWatcher, Reach, behind_another_nat, judge
from net.reach.scope import LocalNetworks


def lease(address: str) -> Lease:
    return Lease(
        method="UPnP IGD",
        router="192.168.1.1",
        external_address=address,
        external_port=7777,
        internal_port=7777,
        lifetime=3600,
    )


@pytest.mark.parametrize("address", ["10.20.0.5", "100.72.1.4", "192.168.0.2", "172.20.1.1"])
def test_a_private_or_shared_router_address_is_not_reachable(address):
    assert behind_another_nat(address)
    verdict = judge(lease=lease(address), outside_seen_at=None)
    assert verdict.reach is Reach.NOT_REACHABLE
    assert address in verdict.detail and "carrier-grade NAT" in verdict.detail


@pytest.mark.parametrize("address", ["198.51.100.9", "2001:db8::1", "", "garbage"])
def test_a_public_or_unknown_router_address_is_no_proof_either_way(address):
    assert not behind_another_nat(address)
    verdict = judge(lease=lease(address), outside_seen_at=None)
    assert verdict.reach is Reach.UNKNOWN
    assert "turn around inside the router" in verdict.detail


def test_without_a_mapping_nothing_can_be_said_until_someone_from_outside_comes():
    verdict = judge(lease=None, outside_seen_at=None)
    assert verdict.reach is Reach.UNKNOWN and "No router opened the port" in verdict.detail
    assert verdict.reach.value == "could not check"


def test_a_peer_from_outside_is_proof_whatever_else_is_known():
    for known in (None, lease("198.51.100.9"), lease("100.72.1.4")):
        verdict = judge(lease=known, outside_seen_at="14:02")
        assert verdict.reach is Reach.REACHABLE and "14:02" in verdict.detail
    assert Reach.REACHABLE.value == "reachable from the internet"


def test_the_watcher_lets_everyone_in_and_reports_the_first_outsider_once():
    seen: list[str] = []
    watcher = OutsideWatcher(seen.append, networks=LocalNetworks(lambda: []))
    assert watcher("127.0.0.1") and watcher("192.168.1.9") and watcher("fe80::2")
    assert seen == [] and watcher.seen is None
    assert watcher("198.51.100.20") and watcher("203.0.113.5")
    assert seen == ["198.51.100.20"] and watcher.seen == "198.51.100.20"


def test_the_watcher_reports_once_from_many_threads():
    seen: list[str] = []
    watcher = OutsideWatcher(seen.append, networks=LocalNetworks(lambda: []))
    threads = [threading.Thread(target=watcher, args=(f"198.51.100.{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 1
