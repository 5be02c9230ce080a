"""Through a real router, and across a real link: Debian's miniupnpd and mDNS in namespaces.

The router test builds three network namespaces::

    inside (the host)            router (miniupnpd, NAT)             outside (the internet)
    lan0 192.168.77.2/24 ──veth── lan0 192.168.77.1/24
                                  wan0 11.22.33.1/24 ──────veth────── wan0 11.22.33.2/24

The router forwards and masquerades with nftables; miniupnpd (UPnP IGD, NAT-PMP and PCP on
lan0) adds a DNAT rule for each mapping. The host's room asks it for a mapping with each
method in turn, a client in "outside" joins through the router's external address, the room
sees a peer from outside ("reachable from the internet"), and after the room closes the rule
is gone and the port is closed again. Why 11.22.33.0/24 on the "internet" side: miniupnpd
refuses to map anything when its external address is in any special-purpose range (private,
shared, documentation, benchmarking...: it says "Port forwarding is impossible"), so the
side that plays the internet needs an ordinary address. The namespaces have no link to this
machine's network and no route out, so nothing is ever sent to that address outside them.

The mDNS test joins two namespaces with one veth pair (multicast on): a headless relay started
with ``--announce`` in one appears in a browser in the other, and disappears when it stops.

Every test skips with the reason when it cannot run (not root, no ``ip netns``, no miniupnpd
or nft); CI installs them (.ci/run). The namespaces are deleted in ``finally`` whatever
happens.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.net.helpers import PASSWORD
from tests.net.reach.netns import Lab, missing_requirements

pytestmark = pytest.mark.slow

ROUTER_LAN, HOST_LAN = "192.168.77.1", "192.168.77.2"
ROUTER_WAN, OUTSIDE_WAN = "11.22.33.1", "11.22.33.2"

RULESET = """\
table inet socketchat_test {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "lan0" oifname "wan0" accept
        jump miniupnpd
    }
    chain miniupnpd {
    }
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        jump prerouting_miniupnpd
    }
    chain postrouting {
        type nat hook postrouting priority 100; policy accept;
        oifname "wan0" masquerade
        jump postrouting_miniupnpd
    }
    chain prerouting_miniupnpd {
    }
    chain postrouting_miniupnpd {
    }
}
"""

MINIUPNPD_CONF = """\
ext_ifname=wan0
listening_ip=lan0
http_port=0
enable_upnp=yes
enable_natpmp=yes
min_lifetime=120
max_lifetime=86400
secure_mode=yes
system_uptime=yes
uuid=3b1e0a0c-6d6e-4b8e-9f00-5c0cc4a75001
upnp_table_name=socketchat_test
upnp_nat_table_name=socketchat_test
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""


class Network:
    """The three namespaces, with the router's NAT set up (miniupnpd started separately)."""

    def __init__(self, lab: Lab, workdir: Path, *, wan: str = ROUTER_WAN) -> None:
        self.lab = lab
        self.workdir = workdir
        self.wan = wan
        outside_wan = wan.rsplit(".", 1)[0] + ".2"
        self.inside = lab.namespace("in")
        self.router = lab.namespace("rt")
        self.outside = lab.namespace("out")
        lab.link((self.inside, "lan0", f"{HOST_LAN}/24"), (self.router, "lan0", f"{ROUTER_LAN}/24"))
        lab.link((self.router, "wan0", f"{wan}/24"), (self.outside, "wan0", f"{outside_wan}/24"))
        lab.run(self.inside, "ip", "route", "add", "default", "via", ROUTER_LAN)
        lab.run(self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        rules = workdir / "router.nft"
        rules.write_text(RULESET, encoding="utf-8")
        try:
            lab.run(self.router, "nft", "-f", str(rules))
        except RuntimeError as error:
            pytest.skip(f"nftables NAT is not available here: {error}")

    def start_miniupnpd(self) -> None:
        conf = self.workdir / "miniupnpd.conf"
        conf.write_text(MINIUPNPD_CONF, encoding="utf-8")
        daemon = self.lab.start(
            self.router,
            "miniupnpd",
            "-d",  # foreground, log to stderr (read by the test)
            "-f",
            str(conf),
            "-P",
            str(self.workdir / "miniupnpd.pid"),
            what="miniupnpd",
        )
        daemon.wait_line(lambda line: "Listening for NAT-PMP/PCP traffic" in line)

    def nat_rules(self) -> str:
        chain = ("inet", "socketchat_test", "prerouting_miniupnpd")
        return self.lab.run(self.router, "nft", "list", "chain", *chain)

    def outside_connects(self, port: int) -> bool:
        """Whether a TCP connection from "outside" to the router's external address gets in."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({ROUTER_WAN!r}, {port}), timeout=5).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n"
        )
        result = self.lab.start(self.outside, sys.executable, "-c", code, what="probe").popen
        return result.wait(20) == 0


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    reason = missing_requirements("nft", "miniupnpd")
    if reason:
        pytest.skip(reason)
    lab = Lab()
    workdir = Path(tempfile.mkdtemp(prefix="socketchat-netns-"))
    try:
        net = Network(lab, workdir)
        net.start_miniupnpd()
        yield net
    finally:
        lab.close()
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


@pytest.mark.parametrize(
    "method, port, expected",
    [("upnp", 7701, "UPnP IGD"), ("pmp", 7702, "PCP"), ("natpmp", 7703, "NAT-PMP")],
)
def test_a_room_for_everyone_through_the_router(network: Network, method, port, expected):
    lab = network.lab
    host = lab.helper(network.inside, "host", str(port), method)
    assert host.wait_event("listening")["port"] == port
    mapped = host.wait_event("mapped")
    assert mapped["method"] == expected
    assert (mapped["external_address"], mapped["external_port"]) == (ROUTER_WAN, port)
    assert f"dport {port} dnat ip to {HOST_LAN}:{port}" in network.nat_rules()

    host.send("verdict")
    assert host.wait_event("verdict")["reach"] == "could not check"  # nobody came yet

    friend = lab.helper(network.outside, "join", ROUTER_WAN, str(port), "friend")
    joined = friend.wait_event("joined")
    assert joined["members"] == ["friend"]
    assert host.wait_event("outside")["peer"] == OUTSIDE_WAN  # the router only rewrote the target
    host.send("verdict")
    assert host.wait_event("verdict")["reach"] == "reachable from the internet"

    host.send("stop")
    assert host.wait_event("unmapped")["ok"] is True
    host.wait_event("stopped")
    assert host.popen.wait(20) == 0
    assert f"dport {port} " not in network.nat_rules()
    assert not network.outside_connects(port)


@pytest.mark.parametrize(
    "method, port, expected",
    [("upnp", 7708, "UPnP IGD"), ("pmp", 7709, "PCP"), ("natpmp", 7710, "NAT-PMP")],
)
def test_each_method_renews_its_lease_on_the_real_router(network: Network, method, port, expected):
    run = network.lab.helper(network.inside, "renew", method, str(port))
    mapped, renewed = run.wait_event("mapped"), run.wait_event("renewed")
    assert mapped["method"] == renewed["method"] == expected
    assert mapped["port"] == renewed["port"] == port and renewed["lifetime"] > 0
    run.wait_event("unmapped")
    assert f"dport {port} " not in network.nat_rules()


def test_this_network_only_refuses_the_internet_even_through_a_forwarded_port(network: Network):
    lab = network.lab
    host = lab.helper(network.inside, "host-network", "7711")
    forwarded = host.wait_event("forwarded")
    assert (forwarded["external_address"], forwarded["external_port"]) == (ROUTER_WAN, 7711)
    stranger = lab.helper(network.outside, "join", ROUTER_WAN, "7711", "stranger")
    assert stranger.wait_event("failed")["kind"] != "TIMEOUT"  # closed at once, unheard
    # The router's LAN side (192.168.77.1) is on this network: it gets in.
    neighbour = lab.helper(network.router, "join", HOST_LAN, "7711", "neighbour")
    assert neighbour.wait_event("joined")["members"] == ["neighbour"]
    host.send("stop")
    host.wait_event("stopped")


def test_the_desktop_app_hosts_through_the_router_and_says_reachable(network: Network):
    # The whole app with its real services (what `python main.py` uses), in "inside", on the
    # display pytest-xvfb gives this process (an X socket in /tmp reaches across namespaces).
    if not os.environ.get("DISPLAY"):
        pytest.skip("no display for the app (pytest-xvfb provides one when Xvfb is installed)")
    lab = network.lab
    app = lab.helper(network.inside, "app", "7706", PASSWORD)
    invite = app.wait_event("invite", timeout=60)
    assert invite["public"] == ROUTER_WAN
    assert invite["router"].startswith("Your router opened port 7706 (UPnP IGD)")
    assert invite["verdict"] == "Could not check"
    assert "dport 7706 dnat" in network.nat_rules()
    friend = lab.helper(network.outside, "join-password", ROUTER_WAN, "7706", PASSWORD)
    assert friend.wait_event("joined", timeout=60)["members"] == ["alice", "friend"]
    verdict = app.wait_event("verdict", timeout=90)
    assert verdict["verdict"] == "Reachable from the internet"
    assert verdict["announce"].startswith("Announced on this network")
    app.wait_event("closed", timeout=60)
    assert "dport 7706 " not in network.nat_rules()


@pytest.fixture
def bare_router() -> Iterator[Network]:
    """The same network without miniupnpd: a router that answers no mapping protocol."""
    reason = missing_requirements("nft")
    if reason:
        pytest.skip(reason)
    lab = Lab()
    workdir = Path(tempfile.mkdtemp(prefix="socketchat-netns-"))
    try:
        yield Network(lab, workdir)
    finally:
        lab.close()
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


def test_a_router_behind_carrier_grade_nat_refuses_and_the_room_says_so():
    # miniupnpd whose own internet address is in the provider's shared range (100.64.0.0/10):
    # it hides that address and refuses every mapping, by all three protocols.
    reason = missing_requirements("nft", "miniupnpd")
    if reason:
        pytest.skip(reason)
    lab = Lab()
    workdir = Path(tempfile.mkdtemp(prefix="socketchat-netns-"))
    try:
        network = Network(lab, workdir, wan="100.72.0.1")
        network.start_miniupnpd()
        host = lab.helper(network.inside, "host", "7712", "all")
        failed = host.wait_event("map_failed")
        assert failed["answered"] is True
        assert [reason.split(":")[0] for reason in failed["reasons"]] == ["UPnP IGD", "NAT-PMP/PCP"]
        host.send("verdict")
        assert host.wait_event("verdict")["reach"] == "could not check"
        host.send("stop")
        host.wait_event("stopped")
    finally:
        lab.close()
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


def test_no_router_answers_and_the_room_says_so(bare_router: Network):
    host = bare_router.lab.helper(bare_router.inside, "host", "7704", "all")
    host.wait_event("listening")
    failed = host.wait_event("map_failed")
    assert failed["answered"] is False
    assert [reason.split(":")[0] for reason in failed["reasons"]] == ["UPnP IGD", "NAT-PMP/PCP"]
    host.send("verdict")
    verdict = host.wait_event("verdict")
    assert verdict["reach"] == "could not check"
    assert "No router opened the port" in verdict["detail"]
    host.send("stop")
    host.wait_event("stopped")


@pytest.fixture
def lan() -> Iterator[tuple[Lab, str, str]]:
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    lab = Lab()
    try:
        one, two = lab.namespace("m1"), lab.namespace("m2")
        lab.link((one, "eth0", "192.168.78.1/24"), (two, "eth0", "192.168.78.2/24"))
        yield lab, one, two
    finally:
        lab.close()


def test_an_announced_relay_is_listed_on_the_other_machine_and_leaves_when_it_stops(lan, tmp_path):
    lab, one, two = lan
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    browser = lab.helper(two, "browse")
    browser.wait_event("browsing")
    relay = lab.start(
        one,
        sys.executable,
        "main.py",
        "relay",
        "--port",
        "7705",
        "--announce",
        "lab room \u202e",
        "--password-file",
        str(password_file),
        what="relay",
    )
    relay.wait_line(lambda line: line.startswith("Announced on the local network"))

    def listed(line: str) -> bool:
        return '"rooms": [{' in line

    rooms = json.loads(browser.wait_line(listed))["rooms"]
    (room,) = rooms
    assert room["label"] == "lab room \u202e"  # as announced; the GUI marks the control
    assert (room["address"], room["port"]) == ("192.168.78.1", 7705)
    assert room["host"].endswith(".local")
    relay.stop()  # SIGTERM: the relay says goodbye on the network as it closes
    browser.wait_line(lambda line: '"rooms": []' in line)
    browser.send("stop")
    browser.wait_event("stopped")
