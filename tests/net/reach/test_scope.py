"""Who may reach a hosted room: the local-network rule, its refresh, and each scope's plan;
plus the default gateway read from /proc/net/route."""

from __future__ import annotations

import ipaddress

import pytest

from net.reach.gateway import parse_proc_net_route
from net.reach.scope import LocalNetworks, Scope, is_local_address, listen_plan, parse_address

HOME_V6 = ipaddress.ip_network("2001:db8:1234:5678::/64")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.9",
        "172.31.255.255",
        "192.168.1.20",
        "169.254.10.10",
        "fe80::1%eth0",
        "fd12:3456::1",
        "::ffff:192.168.1.20",  # what a dual-stack socket reports for an IPv4 peer
        "2001:db8:1234:5678::abcd",  # in our own IPv6 subnet
    ],
)
def test_local_addresses(address):
    assert is_local_address(address, [HOME_V6])


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "172.32.0.1",
        "100.64.0.1",  # the provider's side of a carrier-grade NAT: not our network
        "2001:db8:1234:9999::1",  # global IPv6 outside our prefix
        "::ffff:8.8.8.8",
        "not an address",
        "",
    ],
)
def test_outside_addresses(address):
    assert not is_local_address(address, [HOME_V6])


def test_parse_address_unwraps_and_drops_zones():
    assert str(parse_address("::ffff:10.0.0.1")) == "10.0.0.1"
    assert str(parse_address("fe80::1%3")) == "fe80::1"
    assert parse_address("example.org") is None


def test_local_networks_reads_interfaces_at_most_once_per_period():
    reads = []
    now = [100.0]

    def read():
        reads.append(now[0])
        return [ipaddress.ip_network("203.0.113.0/24")]

    rule = LocalNetworks(read, clock=lambda: now[0], refresh=30.0)
    assert rule.accepts("203.0.113.9")
    assert rule.accepts("203.0.113.10")
    assert not rule.accepts("198.51.100.1")
    assert reads == [100.0]
    assert rule.accepts("10.0.0.1")  # fixed ranges need no read
    now[0] += 31
    rule.accepts("198.51.100.1")
    assert reads == [100.0, 131.0]


def test_a_failing_interface_read_keeps_the_fixed_ranges():
    def read():
        raise OSError("no interfaces today")

    rule = LocalNetworks(read)
    assert rule.accepts("192.168.0.2") and not rule.accepts("8.8.4.4")


def test_plans_for_each_scope():
    networks = LocalNetworks(lambda: [])
    everyone = listen_plan(Scope.EVERYONE, networks=networks)
    assert (everyone.host, everyone.accept_peer, everyone.may_map_port) == ("", None, True)
    network = listen_plan(Scope.NETWORK, networks=networks)
    assert network.host == "" and not network.may_map_port
    assert network.accept_peer is not None
    assert network.accept_peer("192.168.1.5") and not network.accept_peer("8.8.8.8")
    computer = listen_plan(Scope.COMPUTER)
    assert computer.host[0] == "127.0.0.1" and set(computer.host) <= {"127.0.0.1", "::1"}
    assert computer.accept_peer is None and not computer.may_map_port


ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t004DA8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
tun0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0
down0\t00000000\t0102A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0
bad\tzzzz\t0101A8C0\t0003\t0\t0\t1\t00000000
short line
"""


def test_default_gateways_from_proc_net_route_lowest_metric_first():
    # eth0's gateway (metric 100) before wlan0's (600); the on-link route, the tunnel without a
    # gateway, the route that is not up and the malformed lines are left out.
    assert parse_proc_net_route(ROUTE) == ["192.168.77.1", "192.168.1.1"]
    assert parse_proc_net_route("") == []
