"""Announcements read as hostile text: addresses chosen safely, labels and host names capped,
bad records dropped, the list bounded; driven through the listener interface with a fake
zeroconf (the real one runs in tests/net/reach/test_namespaces.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from net.reach.discovery import (
    MAX_LABEL,
    MAX_ROOMS,
    SERVICE_TYPE,
    FoundRoom,
    RoomBrowser,
    cut,
    found_room,
    pick_address,
    room_label,
)

LAN = [ipaddress.ip_network("192.168.77.0/24")]


@dataclass
class FakeInfo:
    port: int | None = 7777
    server: str | None = "alice-laptop.local."
    addresses: list[str] = field(default_factory=lambda: ["192.168.77.2"])

    def parsed_scoped_addresses(self) -> list[str]:
        return self.addresses


class FakeZeroconf:
    def __init__(self, infos: dict[str, FakeInfo | None]) -> None:
        self.infos = infos

    def get_service_info(self, type_: str, name: str, timeout: int) -> FakeInfo | None:
        assert type_ == SERVICE_TYPE and timeout > 0
        return self.infos.get(name)


def name(label: str) -> str:
    return f"{label}.{SERVICE_TYPE}"


def test_pick_address_prefers_our_subnet_then_ipv4_then_ipv6():
    assert pick_address(["11.22.33.1", "192.168.77.2"], LAN) == "192.168.77.2"
    assert pick_address(["11.22.33.1", "192.168.5.2"], LAN) == "11.22.33.1"
    assert pick_address(["2001:db8::2", "10.0.0.2"]) == "10.0.0.2"
    assert pick_address(["fe80::1%eth0", "2001:db8::2"]) == "2001:db8::2"
    assert pick_address(["fe80::1%eth0"]) == "fe80::1%eth0"


def test_pick_address_refuses_what_cannot_be_a_room_elsewhere():
    bad = ["127.0.0.1", "::1", "0.0.0.0", "224.0.0.251", "ff02::fb", "not-an-ip", ""]
    assert pick_address(bad) == ""
    assert pick_address(["fe80::1"]) == ""  # link-local without a zone cannot be dialled
    assert pick_address(["fe80::1%eth0; rm -rf /"]) == ""  # a zone is an interface name
    assert pick_address(["192.168.77.02"]) == ""  # ambiguous octal-looking text: rejected


def test_found_room_reads_a_good_record():
    room = found_room(name("alice's room"), FakeInfo(), LAN)
    assert room == FoundRoom(
        key=name("alice's room"),
        label="alice's room",
        host_name="alice-laptop.local",
        address="192.168.77.2",
        port=7777,
    )


def test_found_room_drops_unusable_records():
    assert found_room(name("x"), FakeInfo(port=0)) is None
    assert found_room(name("x"), FakeInfo(port=70000)) is None
    assert found_room(name("x"), FakeInfo(port=None)) is None
    assert found_room(name("x"), FakeInfo(addresses=["127.0.0.1"])) is None
    assert found_room("x._other._tcp.local.", FakeInfo()) is None


def test_hostile_labels_and_host_names_are_capped_not_trusted():
    hostile = "\u202eevil\u200b" + "W" * 500
    room = found_room(name(hostile), FakeInfo(server="h" * 300 + ".local."))
    assert room is not None
    assert len(room.label) == MAX_LABEL and room.label.endswith("…")
    assert room.label.startswith("\u202eevil\u200b")  # kept: the GUI shows them as markers
    assert len(room.host_name) <= 63


def test_labels():
    assert room_label("alice") == "alice's room"
    assert len(room_label("x" * 100)) == MAX_LABEL
    assert cut("abc", 3) == "abc" and cut("abcd", 3) == "ab…"


def test_the_browser_tracks_adds_updates_and_removals():
    changes: list[tuple[FoundRoom, ...]] = []
    browser = RoomBrowser(changes.append, local=lambda: LAN)
    zc = FakeZeroconf({name("bob"): FakeInfo(port=7000), name("alice"): FakeInfo()})
    browser.add_service(zc, SERVICE_TYPE, name("bob"))
    browser.add_service(zc, SERVICE_TYPE, name("alice"))
    assert [room.label for room in changes[-1]] == ["alice", "bob"]  # sorted by label
    browser.update_service(zc, SERVICE_TYPE, name("alice"))
    assert len(changes) == 2, "an update that changes nothing is not reported"
    zc.infos[name("alice")] = FakeInfo(port=7001)
    browser.update_service(zc, SERVICE_TYPE, name("alice"))
    assert changes[-1][0].port == 7001
    browser.remove_service(zc, SERVICE_TYPE, name("bob"))
    assert [room.label for room in changes[-1]] == ["alice"]
    zc.infos[name("alice")] = FakeInfo(port=0)  # now unusable: dropped
    browser.update_service(zc, SERVICE_TYPE, name("alice"))
    assert changes[-1] == ()
    browser.remove_service(zc, SERVICE_TYPE, name("nobody"))
    assert len(changes) == 5


def test_the_browser_keeps_at_most_max_rooms():
    changes: list[tuple[FoundRoom, ...]] = []
    browser = RoomBrowser(changes.append, local=lambda: LAN)
    names = [name(f"room {n:03}") for n in range(MAX_ROOMS + 20)]
    zc = FakeZeroconf(dict.fromkeys(names, FakeInfo()))
    for one in names:
        browser.add_service(zc, SERVICE_TYPE, one)
    assert len(browser.rooms) == MAX_ROOMS


def test_a_closed_browser_ignores_late_callbacks():
    changes: list[tuple[FoundRoom, ...]] = []
    browser = RoomBrowser(changes.append, local=lambda: LAN)
    browser.close()
    browser.add_service(FakeZeroconf({name("a"): FakeInfo()}), SERVICE_TYPE, name("a"))
    assert changes == [] and browser.rooms == ()
