"""HAProxy in front of three relays, with the configuration shipped in docs/haproxy/.

Real processes on 127.0.0.1: Debian's ``haproxy`` running docs/haproxy/socketchat.cfg as it is
(only its ports replaced by the test's), and three ``main.py relay --rooms DIR --trust-proxy
127.0.0.1`` processes, each with its own copy of the same room files and its own data folder.
Members connect through HAProxy only (``send-proxy-v2``: each relay logs the client's own
address and port), and a connection straight to a relay without the header is closed. The
relays' logs say which relay each member reached (``room 1af4c48e: user alice (…)
connected``): the rooms spread over the relays, every member of a room reaches the same relay,
and a restarted relay gets its rooms back (no room moves).

Skipped when ``haproxy`` is not installed, except in CI (``CI=true``), where .ci/run installs
it and its absence is a failure.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.kdf import RoomKeys, derive_room_keys
from net import proto
from net.relay.roomfile import RoomSecret
from tests.net.relay.test_relay_cli import LISTENING, RelayProcess
from tests.net.wire import WireClient

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "haproxy" / "socketchat.cfg"
PASSWORD = "rooms spread over relays"
ROOMS = 8

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def haproxy() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/sbin/haproxy") if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("haproxy is not installed: .ci/run installs Debian's haproxy package")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return found


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def configure(front: int, relays: list[int]) -> str:
    """The shipped configuration with the test's ports: its bind and server lines replaced,
    everything else (inspect delay, balance, hash type, timeouts) as shipped."""
    text = CONFIG.read_text(encoding="utf-8")
    text, binds = re.subn(r"(?m)^(\s*)bind :7777$", rf"\1bind 127.0.0.1:{front}", text)
    servers = re.findall(r"(?m)^\s*server relay\d 127\.0\.0\.1:\d+ send-proxy-v2$", text)
    assert binds == 1 and len(servers) == len(relays) == 3, "the shipped file changed shape"
    for line, port in zip(servers, relays, strict=True):
        text = text.replace(line, re.sub(r":\d+ ", f":{port} ", line))
    text = text.replace("log stdout format raw local0 info", "log stderr format raw local0 info")
    return text


class Haproxy:
    def __init__(self, binary: str, config: Path) -> None:
        self.log = config.with_suffix(".log")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, "-db", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {port}") from None
            time.sleep(0.05)


class Cluster:
    """Three relays behind HAProxy, each with its own copy of the rooms folder."""

    def __init__(self, tmp: Path, binary: str, rooms: dict[str, RoomKeys]) -> None:
        self.tmp = tmp
        self.rooms = rooms
        *self.relay_ports, self.front = free_ports(4)
        self.relays: list[RelayProcess | None] = [None, None, None]
        for index in range(3):
            folder = tmp / f"relay{index}" / "rooms"
            folder.mkdir(parents=True)
            for name in rooms:
                shutil.copy(tmp / "rooms" / f"{name}.room", folder / f"{name}.room")
            self.start(index)
        config = tmp / "haproxy.cfg"
        config.write_text(configure(self.front, self.relay_ports), encoding="utf-8")
        self.haproxy = Haproxy(binary, config)
        try:
            wait_listening(self.front)
        except AssertionError:
            raise AssertionError(self.haproxy.log.read_text(errors="replace")) from None
        self.clients: list[WireClient] = []

    def start(self, index: int) -> None:
        base = self.tmp / f"relay{index}"
        relay = RelayProcess(
            "--rooms",
            str(base / "rooms"),
            "--data",
            str(base / "data"),
            "--port",
            str(self.relay_ports[index]),
            "--trust-proxy",
            "127.0.0.1",  # HAProxy, as the relays see it
            cwd=base,
        )
        relay.wait_line(LISTENING)
        self.relays[index] = relay

    def restart(self, index: int) -> None:
        relay = self.relays[index]
        assert relay is not None
        assert relay.stop() == 0
        self.start(index)

    def join(self, name: str, room: str) -> WireClient:
        keys = self.rooms[room]
        client = WireClient(self.front, name, keys, room_id=keys.room_id)
        self.clients.append(client)
        client.join()
        return client

    def where(self, room: str, name: str) -> list[int]:
        """Which relays logged ``name`` joining ``room`` (by their index). The member has
        joined, so its relay has logged it already; the others are read once more after."""
        short = self.rooms[room].room_id.hex()[:8]
        pattern = re.compile(rf"room {short}: user {name} \(\S+\) connected$")

        def found() -> list[int]:
            return [
                index
                for index, relay in enumerate(self.relays)
                if relay is not None and any(pattern.search(line) for line in drain(relay))
            ]

        deadline = time.monotonic() + 10
        while not (seen := found()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        return found() if seen else seen

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.haproxy.stop()
        for relay in self.relays:
            if relay is not None:
                relay.kill()


def drain(relay: RelayProcess) -> list[str]:
    """Every line the relay wrote so far (collected by its reader thread)."""
    while True:
        try:
            line = relay._queue.get_nowait()
        except queue.Empty:
            return relay.lines
        if line is not None:
            relay.lines.append(line)


@pytest.fixture
def cluster(tmp_path: Path, haproxy: str) -> Iterator[Cluster]:
    folder = tmp_path / "rooms"
    folder.mkdir()
    rooms = {}
    for number in range(ROOMS):
        keys = derive_room_keys(PASSWORD, room_id=bytes([number + 1]) * 16, n=2**10)
        RoomSecret.from_room_keys(keys).save(folder / f"room{number}.room")
        rooms[f"room{number}"] = keys
    running = Cluster(tmp_path, haproxy, rooms)
    yield running
    running.close()


def test_rooms_spread_over_the_relays_and_stay_on_theirs(cluster: Cluster) -> None:
    placed: dict[str, int] = {}
    for room in cluster.rooms:
        alice = cluster.join("alice", room)
        bob = cluster.join("bob", room)
        alice.say(f"hello {room}")
        bob.hear(f"hello {room}")  # the two reached the same room, so the same relay
        [relay] = cluster.where(room, "alice")
        assert cluster.where(room, "bob") == [relay], room
        placed[room] = relay
    assert len(set(placed.values())) >= 2, f"every room on one relay: {placed}"
    # A relay restarts: its members come back to it, and the other relays' rooms stay put.
    moved = next(iter(placed.values()))
    for client in cluster.clients:
        client.close()
    cluster.clients = []
    cluster.restart(moved)
    for room, relay in placed.items():
        carol = cluster.join("carol", room)
        carol.say(f"again {room}")
        carol.hear(f"again {room}")
        assert cluster.where(room, "carol") == [relay], (room, placed)
    # Each relay keeps history for the rooms it got, and only for those.
    for room, relay in placed.items():
        for index in range(3):
            history = cluster.tmp / f"relay{index}" / "data" / f"{room}.room.history.sqlite3"
            assert history.exists() == (index == relay), (room, index)


def test_relays_see_each_clients_own_address_and_refuse_connections_without_a_header(
    cluster: Cluster,
) -> None:
    # Through HAProxy (send-proxy-v2): the relay logs the client's own address and port, the
    # ones of the client's socket, not those of HAProxy's connection to the relay.
    alice = cluster.join("alice", "room0")
    [index] = cluster.where("room0", "alice")
    relay = cluster.relays[index]
    assert relay is not None
    host, port = alice.sock.getsockname()[:2]
    short = cluster.rooms["room0"].room_id.hex()[:8]
    [line] = [line for line in drain(relay) if f"room {short}: user alice (" in line]
    assert f"user alice ({host}:{port}) connected" in line, line
    # Straight to a relay from HAProxy's address (127.0.0.1, trusted), without a header: a
    # client's hello is not one, so it is closed without a word, on every relay.
    for relay_port in cluster.relay_ports:
        keys = cluster.rooms["room0"]
        direct = WireClient(relay_port, "mallory", keys, room_id=keys.room_id)
        cluster.clients.append(direct)
        events = direct.wait_closed()
        assert not any(isinstance(event, proto.Welcomed | proto.Refused) for event in events)
    # HAProxy still serves: a new member gets in as before.
    bob = cluster.join("bob", "room0")
    alice.say("still here")
    bob.hear("still here")
