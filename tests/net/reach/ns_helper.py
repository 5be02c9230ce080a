"""Roles the namespace tests run inside their namespaces (``python -m tests.net.reach.ns_helper``).

Each prints JSON lines (``{"event": ...}``) on stdout and takes commands on stdin:

* ``host PORT METHOD`` — a room hosted "for everyone" as the app hosts one: the relay on every
  address with the OutsideWatcher in its ``accept_peer`` hook, and a PortMapper using METHOD
  (``upnp``, ``pmp``: PCP then NAT-PMP, ``natpmp``: NAT-PMP only, ``all``: the app's order).
  Commands: ``verdict`` (prints the reachability verdict), ``stop`` (removes the mapping,
  closes the room, exits).
* ``join HOST PORT NAME`` — a member joins with the real client, says so, and leaves.
* ``host-network PORT`` — a room hosted "this network only", with the port forwarded on the
  router anyway (a UPnP mapping standing in for a forward done by hand). ``stop`` ends it.
* ``renew METHOD PORT`` — map, renew and remove one mapping with METHOD, printing each lease.
* ``browse`` — lists the rooms announced on the network as they change, until ``stop``.
* ``app PORT PASSWORD`` — the desktop app itself, with its real network services
  (``ReachServices.real()``), hosts a room "for everyone" (needs a display): prints what the
  invite panel says once the router answered, waits (at most a minute) for the panel to say
  "reachable", prints that, grabs the panel into ``$SOCKETCHAT_SHOT`` if set, and closes.
* ``join-password HOST PORT PASSWORD`` — joins a room hosted by ``app`` (keys from the
  password, at the tests' cheap scrypt cost).

The room keys are the test suite's cheap ones (tests/net/helpers.py).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from net.client import ChatClient
from net.client import events as ce
from net.reach import (
    OutsideWatcher,
    PortMapEvent,
    PortMapFailed,
    PortMapLost,
    PortMapped,
    PortMapper,
    PortUnmapped,
    RoomBrowser,
    Scope,
    judge,
    listen_plan,
)
from net.reach.mapping import MappingMethod
from net.reach.pmp import PmpMethod
from net.reach.upnp import UpnpMethod
from net.relay import RelayConfig, RelayThread, RoomSecret
from tests.net.helpers import PASSWORD, ROOM_ID

_print_lock = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    with _print_lock:
        print(json.dumps({"event": event, **fields}), flush=True)


def _keys():
    return derive_room_keys(PASSWORD, room_id=ROOM_ID, n=2**10)


def _methods(name: str) -> list[MappingMethod]:
    if name == "upnp":
        return [UpnpMethod(discover_ms=1500)]
    if name == "pmp":
        return [PmpMethod()]
    if name == "natpmp":
        return [PmpMethod(pcp=False)]
    return [UpnpMethod(discover_ms=1500), PmpMethod()]


def _mapping_event(event: PortMapEvent) -> None:
    if isinstance(event, PortMapped):
        lease = event.lease
        emit(
            "mapped",
            method=lease.method,
            external_address=lease.external_address,
            external_port=lease.external_port,
            lifetime=lease.lifetime,
        )
    elif isinstance(event, PortMapFailed):
        emit("map_failed", answered=event.answered, reasons=list(event.reasons))
    elif isinstance(event, PortMapLost):
        emit("map_lost", reason=event.reason)
    elif isinstance(event, PortUnmapped):
        emit("unmapped", ok=event.ok, reason=event.reason)


def host(port: int, method: str) -> None:
    plan = listen_plan(Scope.EVERYONE)
    seen_at: list[str] = []

    def outside(peer: str) -> None:
        seen_at.append(time.strftime("%H:%M"))
        emit("outside", peer=peer)

    watcher = OutsideWatcher(outside)
    config = RelayConfig(host=plan.host, port=port, accept_peer=watcher)
    relay = RelayThread(RoomSecret.from_room_keys(_keys()), config)
    emit("listening", port=relay.start())
    mapper = PortMapper(port, _mapping_event, methods=_methods(method))
    mapper.start()
    for line in sys.stdin:
        command = line.strip()
        if command == "verdict":
            verdict = judge(lease=mapper.lease, outside_seen_at=seen_at[0] if seen_at else None)
            emit("verdict", reach=verdict.reach.value, detail=verdict.detail)
        elif command == "stop":
            break
    mapper.stop(timeout=20)
    relay.stop()
    emit("stopped")


def host_network(port: int) -> None:
    plan = listen_plan(Scope.NETWORK)
    config = RelayConfig(host=plan.host, port=port, accept_peer=plan.accept_peer)
    relay = RelayThread(RoomSecret.from_room_keys(_keys()), config)
    emit("listening", port=relay.start())
    upnp = UpnpMethod(discover_ms=1500)
    lease = upnp.map(internal_port=port, external_port=port, lifetime=600)
    emit("forwarded", external_address=lease.external_address, external_port=lease.external_port)
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    upnp.unmap(lease)
    relay.stop()
    emit("stopped")


def renew(method: str, port: int) -> None:
    (mapper,) = _methods(method)
    lease = mapper.map(internal_port=port, external_port=port, lifetime=600)
    emit("mapped", method=lease.method, port=lease.external_port, lifetime=lease.lifetime)
    again = mapper.renew(lease)
    emit("renewed", method=again.method, port=again.external_port, lifetime=again.lifetime)
    mapper.unmap(again)
    emit("unmapped")


def join(host_address: str, port: int, name: str) -> None:
    done = threading.Event()
    result: dict[str, Any] = {}

    def on_event(event: ce.ClientEvent) -> None:
        if isinstance(event, ce.Joined):
            result.update(event="joined", members=[m.name for m in event.members])
            done.set()
        elif isinstance(event, ce.Failed):
            result.update(event="failed", kind=event.kind.name, message=event.message)
            done.set()

    client = ChatClient(
        host=host_address,
        port=port,
        username=name,
        keys=_keys(),
        on_event=on_event,
        identity=Identity.generate(),
    )
    client.start()
    if not done.wait(20):
        result.update(event="failed", kind="TIMEOUT", message="no answer in 20 s")
    client.close()
    emit(**result)


def browse() -> None:
    def changed(rooms: tuple[Any, ...]) -> None:
        emit(
            "rooms",
            rooms=[
                {"label": r.label, "address": r.address, "port": r.port, "host": r.host_name}
                for r in rooms
            ],
        )

    browser = RoomBrowser(changed)
    browser.start()
    emit("browsing")
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    browser.close()
    emit("stopped")


def app(port: int, password: str) -> None:
    import os
    import subprocess
    import tempfile
    import tkinter as tk
    from pathlib import Path

    from gui.app import App
    from gui.reach import ReachServices

    root = tk.Tk(className="socketchat")
    settings = Path(tempfile.mkdtemp(prefix="socketchat-ns-app-"))
    the_app = App(
        root,
        settings_dir=settings,
        data_dir=settings / "data",  # this device's identity and trust: never the user's own
        kdf_cost=2**10,
        confirm=lambda _title, _text, _button: True,
        reach=ReachServices.real(),
    )

    def pump_until(condition: Any, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                return False
            root.update()
            time.sleep(0.01)
        return True

    the_app.open_host_dialog()
    dialog = the_app.host_dialog
    assert dialog is not None
    dialog.port.set(str(port))
    dialog.username.set("alice")
    dialog.password.set(password)
    dialog.ok()
    pump_until(lambda: the_app.invite is not None, 30)
    invite = the_app.invite
    assert invite is not None
    pump_until(lambda: invite.public.get() not in ("", "asking your router…"), 30)
    emit(
        "invite",
        public=invite.public.get(),
        router=invite.router.get(),
        verdict=invite.verdict.get(),
    )
    pump_until(lambda: invite.verdict.get() == "Reachable from the internet", 60)
    pump_until(lambda: "Announced" in invite.announce.get(), 10)
    emit("verdict", verdict=invite.verdict.get(), announce=invite.announce.get())
    shot = os.environ.get("SOCKETCHAT_SHOT")
    if shot:
        pump_until(lambda: False, 0.3)
        frame = invite.winfo_toplevel().wm_frame()
        subprocess.run(["import", "-window", frame, shot], check=False)
    the_app.close()  # removes the mapping and the announcement before it returns
    emit("closed")


def join_with_password(host_address: str, port: int, password: str) -> None:
    done = threading.Event()
    result: dict[str, Any] = {}

    def on_event(event: ce.ClientEvent) -> None:
        if isinstance(event, ce.Joined):
            result.update(event="joined", members=[m.name for m in event.members])
            done.set()
        elif isinstance(event, ce.Failed):
            result.update(event="failed", kind=event.kind.name, message=event.message)
            done.set()

    client = ChatClient(
        host=host_address,
        port=port,
        username="friend",
        password=password,
        on_event=on_event,
        identity=Identity.generate(),
        kdf_cost=2**10,
    )
    client.start()
    if not done.wait(30):
        result.update(event="failed", kind="TIMEOUT", message="no answer in 30 s")
    client.close()
    emit(**result)


def main(argv: list[str]) -> None:
    role = argv[0]
    if role == "host":
        host(int(argv[1]), argv[2])
    elif role == "join":
        join(argv[1], int(argv[2]), argv[3])
    elif role == "host-network":
        host_network(int(argv[1]))
    elif role == "renew":
        renew(argv[1], int(argv[2]))
    elif role == "app":
        app(int(argv[1]), argv[2])
    elif role == "join-password":
        join_with_password(argv[1], int(argv[2]), argv[3])
    elif role == "browse":
        browse()
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
