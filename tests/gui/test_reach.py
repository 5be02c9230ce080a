"""Reaching a hosted room, in the GUI: the invite panel's sentences (logic, no display), and the
app with recording fake services (real Tk, real relay on 127.0.0.1): the host dialog's choices
reach the relay, the router is asked and the mapping removed when the room closes, the invite
panel follows the events, and the login view lists announced rooms as hostile text."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gui.app import App
from gui.host import validate_host_request
from gui.login import room_line
from gui.reach import (
    Announced,
    OutsideSeen,
    ReachServices,
    ReachState,
    announce_text,
    reachability,
    router_text,
)
from net.reach import (
    FoundRoom,
    Lease,
    PortMapEvent,
    PortMapFailed,
    PortMapLost,
    PortMapped,
    PortUnmapped,
    Reach,
    Scope,
)
from tests.gui.conftest import CHEAP, pump_until

LEASE = Lease(
    method="PCP",
    router="192.168.1.1",
    external_address="203.0.113.45",
    external_port=7777,
    internal_port=7777,
    lifetime=3600,
)


def state(scope: Scope = Scope.EVERYONE, *, asked: bool = True) -> ReachState:
    return ReachState(scope=scope, port=7777, asked_router=asked, lan_address="192.168.1.20")


# -- the sentences ---------------------------------------------------------------------------


def test_while_asking_the_router_there_is_no_verdict_yet():
    known = state()
    assert router_text(known) == "Asking your router to open port 7777…"
    assert reachability(known) is None


def test_a_mapping_shows_the_public_address_and_could_not_check_until_someone_comes():
    known = state()
    known.apply(PortMapped(LEASE))
    assert known.public_address == "203.0.113.45"
    assert "join at 203.0.113.45, port 7777" in router_text(known)
    verdict = reachability(known)
    assert verdict is not None and verdict.reach is Reach.UNKNOWN
    known.apply(OutsideSeen("198.51.100.7", "14:02"))
    known.apply(OutsideSeen("198.51.100.8", "14:05"))
    verdict = reachability(known)
    assert verdict is not None and verdict.reach is Reach.REACHABLE and "14:02" in verdict.detail


def test_no_router_answered_says_what_to_do_instead():
    known = state()
    known.apply(PortMapFailed(answered=False, reasons=("UPnP IGD: no UPnP router answered",)))
    text = router_text(known)
    assert text.startswith("No router answered")
    assert "Forward TCP port 7777 to this computer (192.168.1.20)" in text
    assert "INSTALL.md" in text
    verdict = reachability(known)
    assert verdict is not None and verdict.reach is Reach.UNKNOWN


def test_a_refusal_gives_the_router_s_words():
    known = state()
    known.apply(PortMapFailed(answered=True, reasons=("NAT-PMP/PCP: refused (NOT_AUTHORIZED)",)))
    assert "would not open the port (NAT-PMP/PCP: refused (NOT_AUTHORIZED))" in router_text(known)


def test_a_router_behind_another_nat_is_not_reachable():
    known = state()
    known.apply(PortMapped(dataclasses.replace(LEASE, external_address="100.72.1.4")))
    verdict = reachability(known)
    assert verdict is not None and verdict.reach is Reach.NOT_REACHABLE


def test_lost_and_removed_mappings():
    known = state()
    known.apply(PortMapped(LEASE))
    known.apply(PortMapLost("no answer"))
    assert "last renewal failed (no answer)" in router_text(known)
    known.apply(PortUnmapped(lease=LEASE, ok=True))
    assert router_text(known) == "The port mapping was removed."


def test_not_asking_the_router_and_the_other_scopes():
    assert "was not asked" in router_text(state(asked=False))
    assert "Forward TCP port 7777" in router_text(state(asked=False))
    assert "connections from the internet are refused" in router_text(state(Scope.NETWORK))
    assert "127.0.0.1 and ::1" in router_text(state(Scope.COMPUTER))
    assert reachability(state(Scope.NETWORK)) is None
    assert reachability(state(Scope.COMPUTER)) is None


def test_announcement_texts():
    known = state()
    assert announce_text(known) == ""
    known.apply(Announced(name="alice's room._socketchat._tcp.local."))
    assert announce_text(known).startswith("Announced on this network")
    known.apply(Announced(error="no multicast"))
    assert "Could not announce" in announce_text(known) and "no multicast" in announce_text(known)


def test_host_requests_carry_the_choices_and_only_everyone_asks_the_router():
    request, _ = validate_host_request("7777", "a-b-c-d", "alice", scope=Scope.NETWORK)
    assert request is not None and request.scope is Scope.NETWORK
    assert not request.maps_port and request.announces
    request, _ = validate_host_request("7777", "a-b-c-d", "alice", scope=Scope.COMPUTER)
    assert request is not None and not request.maps_port and not request.announces
    request, _ = validate_host_request("7777", "a-b-c-d", "alice", map_port=False)
    assert request is not None and not request.maps_port


def test_found_rooms_read_as_hostile_text():
    room = FoundRoom(
        key="k", label="\u202eevil\u200b" + "x" * 80, host_name="h", address="fe80::1%eth0", port=1
    )
    line = room_line(room)
    assert "\u202e" not in line and "\u200b" not in line
    assert "⟨U+202E⟩" in line and "…" in line
    assert line.endswith("[fe80::1%eth0]:1")


# -- the app with fake services ----------------------------------------------------------------


class FakeMapper:
    made: ClassVar[list[FakeMapper]] = []

    def __init__(self, port: int, on_event: Callable[[PortMapEvent], None]) -> None:
        self.port = port
        self.on_event = on_event
        self.calls: list[str] = []
        FakeMapper.made.append(self)

    def start(self) -> None:
        self.calls.append("start")

    def stop(self, timeout: float = 10.0) -> None:
        # A real router takes a round trip to remove the mapping: closing must wait for it.
        time.sleep(0.3)
        self.calls.append("stop")


class FakeAnnouncer:
    made: ClassVar[list[FakeAnnouncer]] = []

    def __init__(self, label: str, port: int) -> None:
        self.label, self.port = label, port
        self.calls: list[str] = []
        self.name = f"{label}._socketchat._tcp.local."
        FakeAnnouncer.made.append(self)

    def start(self) -> None:
        self.calls.append("start")

    def close(self) -> None:
        self.calls.append("close")


class FakeBrowser:
    made: ClassVar[list[FakeBrowser]] = []

    def __init__(self, on_change: Callable[[tuple[FoundRoom, ...]], None]) -> None:
        self.on_change = on_change
        self.calls: list[str] = []
        FakeBrowser.made.append(self)

    def start(self) -> None:
        self.calls.append("start")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fakes() -> Iterator[ReachServices]:
    for kind in (FakeMapper, FakeAnnouncer, FakeBrowser):
        kind.made = []
    yield ReachServices(mapper=FakeMapper, announcer=FakeAnnouncer, browser=FakeBrowser)


@pytest.fixture
def make_app(root, tmp_path: Path, fakes) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**options: Any) -> App:
        options.setdefault("bind_host", "127.0.0.1")
        options.setdefault("reach", fakes)
        app = App(
            root,
            settings_dir=tmp_path / "settings",
            kdf_cost=CHEAP,
            confirm=lambda _title, _text, _button: True,
            **options,
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def host(app: App, root, scope: Scope, *, map_port: bool = True) -> None:
    app.open_host_dialog()
    dialog = app.host_dialog
    assert dialog is not None
    dialog.port.set(str(free_port()))
    dialog.username.set("alice")
    dialog.scope.set(scope.value)
    dialog._scope_changed()
    dialog.map_port.set(map_port)
    dialog.ok()
    pump_until(root, lambda: app.chat is not None and app.invite is not None, what="hosting")


def test_hosting_for_everyone_asks_the_router_and_the_panel_follows(make_app, root):
    app = make_app()
    host(app, root, Scope.EVERYONE)
    port = app.relay.port
    (mapper,) = FakeMapper.made
    assert (mapper.port, mapper.calls) == (port, ["start"])
    (announcer,) = FakeAnnouncer.made
    assert announcer.label == "alice's room" and announcer.port == port
    pump_until(root, lambda: "start" in announcer.calls, what="the announcement")
    invite = app.invite
    assert invite.public.get() == "asking your router…"
    assert invite.verdict.get() == ""

    lease = dataclasses.replace(LEASE, external_port=port, internal_port=port)
    mapper.on_event(PortMapped(lease))  # from the mapper's thread, through the pump
    pump_until(root, lambda: invite.public.get() == "203.0.113.45", what="the public address")
    assert invite.verdict.get() == "Could not check"
    assert invite.invite_text().startswith(f"socketchat://203.0.113.45:{port}/v1/")
    assert invite.local_invite.get().startswith("socketchat://")
    pump_until(root, lambda: "Announced on this network" in invite.announce.get(), what="ann.")

    # The relay's OutsideWatcher is in place: a peer from outside flips the verdict.
    accept = app.relay.relay.config.accept_peer
    assert accept is not None and accept("192.168.1.7") and accept("198.51.100.7")
    pump_until(root, lambda: invite.verdict.get() == "Reachable from the internet", what="proof")

    app.close()  # the room closes: the mapping and the announcement go (close waits for them)
    assert mapper.calls == ["start", "stop"] and announcer.calls == ["start", "close"]


def test_this_network_only_refuses_outside_peers_and_never_asks_the_router(make_app, root):
    app = make_app()
    host(app, root, Scope.NETWORK)
    assert FakeMapper.made == []
    accept = app.relay.relay.config.accept_peer
    assert accept is not None
    assert accept("127.0.0.1") and accept("192.168.1.7") and accept("fd00::5")
    assert not accept("198.51.100.7") and not accept("100.64.1.1")
    assert app.invite.public_row is None
    assert "connections from the internet are refused" in app.invite.router.get()


def test_this_computer_only_listens_on_loopback(make_app, root):
    app = make_app(bind_host=None)  # the scope's own addresses: 127.0.0.1 (and ::1)
    host(app, root, Scope.COMPUTER)
    assert FakeMapper.made == [] and FakeAnnouncer.made == []
    bound = {address for address, _port in app.relay.relay.addresses}
    assert bound <= {"127.0.0.1", "::1"} and "127.0.0.1" in bound
    assert app.invite.addresses == []


def test_the_router_checkbox_only_for_everyone(make_app, root):
    app = make_app()
    app.open_host_dialog()
    dialog = app.host_dialog
    assert dialog.router_check.instate(["!disabled"])
    dialog.scope.set(Scope.NETWORK.value)
    dialog._scope_changed()
    assert dialog.router_check.instate(["disabled"]) and dialog.announce_check.instate(
        ["!disabled"]
    )
    dialog.scope.set(Scope.COMPUTER.value)
    dialog._scope_changed()
    assert dialog.announce_check.instate(["disabled"])
    dialog.cancel()


def test_unchecking_the_router_box_asks_nobody(make_app, root):
    app = make_app()
    host(app, root, Scope.EVERYONE, map_port=False)
    assert FakeMapper.made == []
    assert "was not asked" in app.invite.router.get()


def test_the_login_view_lists_rooms_and_a_click_fills_host_and_port(make_app, root):
    app = make_app()
    pump_until(root, lambda: bool(FakeBrowser.made), what="the browser (started a moment later)")
    (browser,) = FakeBrowser.made
    pump_until(root, lambda: "start" in browser.calls, what="browsing")
    rooms = (
        FoundRoom(
            key="a", label="bob's room", host_name="bob.local", address="192.0.2.9", port=7001
        ),
        FoundRoom(
            key="b", label="x\u2028alice  12:34", host_name="x", address="2001:db8::9", port=7002
        ),
    )
    browser.on_change(rooms)
    login = app.login
    pump_until(root, lambda: login.rooms_box.size() == 2, what="the rooms")
    lines = login.rooms_box.get(0, "end")
    assert lines[0] == "bob's room  ·  192.0.2.9:7001"
    assert "\u2028" not in lines[1] and "⟨U+2028⟩" in lines[1]
    login.rooms_box.selection_set(1)
    login._room_clicked()
    assert login.vars["host"].get() == "2001:db8::9" and login.vars["port"].get() == "7002"
    browser.on_change(())
    pump_until(root, lambda: login.rooms_box.size() == 0, what="the room gone")
    assert "None found yet" in login.rooms_status.get()


def test_browsing_stops_when_the_chat_opens_and_on_close(make_app, root):
    app = make_app()
    pump_until(root, lambda: bool(FakeBrowser.made), what="the browser (started a moment later)")
    (browser,) = FakeBrowser.made
    host(app, root, Scope.EVERYONE, map_port=False)
    pump_until(root, lambda: "close" in browser.calls, what="browsing to stop")
    app.close()
    assert browser.calls == ["start", "close"]


def test_closing_from_the_login_view_stops_browsing(make_app, root):
    app = make_app()
    pump_until(root, lambda: bool(FakeBrowser.made), what="the browser (started a moment later)")
    (browser,) = FakeBrowser.made
    pump_until(root, lambda: "start" in browser.calls, what="browsing")
    app.close()
    assert browser.calls == ["start", "close"]


def test_closing_before_browsing_started_starts_nothing(make_app, root):
    app = make_app()
    app.close()
    assert FakeBrowser.made == []


def test_a_browser_that_cannot_start_says_so(make_app, root, fakes):
    class Broken(FakeBrowser):
        def start(self) -> None:
            raise OSError("no multicast here")

    app = make_app(reach=ReachServices(browser=Broken))
    pump_until(root, lambda: "no multicast here" in app.login.rooms_status.get(), what="the error")
