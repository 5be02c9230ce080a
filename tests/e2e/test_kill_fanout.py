"""The relay killed with SIGKILL at every point of the fan-out; nothing acknowledged is lost.

Real processes: ``main.py relay --room-file`` (its history in SQLite next to the room file),
killed by itself at a chosen point of its fourth broadcast that carries chat, through the
test-only hook ``SOCKETCHAT_TEST_CRASH_AT`` (net/relay/rooms.py): before the messages are
stored, after they are stored but before anything is written, and after they are written to
the first half of the members. Then a new relay process on the same room file and history.
The members are real :class:`net.client.ChatClient` instances using their public API only:
they reconnect by themselves, resume from the last position they saw, and the sender's outbox
sends again what was not acknowledged.

Every member who stays ends with every message exactly once, in the order sent, and the
room's history holds each once, in that order.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from net.client import ChatClient
from net.client import events as ce
from net.relay.history import history_path
from net.relay.roomfile import RoomSecret
from tests.net.client_support import Recorder
from tests.procs import Proc

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "killed at every point of the fan-out"
KEYS = derive_room_keys(PASSWORD, room_id=bytes(range(16)), n=2**10)
TIMEOUT = 30.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Room:
    """A relay process for one room file on a fixed port, started again as needed."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.room_file = tmp / "office.room"
        RoomSecret.from_room_keys(KEYS).save(self.room_file)
        self.port = free_port()
        self.proc: Proc | None = None

    def start(self, crash_at: str | None = None) -> Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETCHAT_")}
        env.update(PYTHONUNBUFFERED="1", SOCKETCHAT_DATA_DIR=str(self.tmp / "relay-data"))
        if crash_at is not None:
            env["SOCKETCHAT_TEST_CRASH_AT"] = crash_at
        command = [sys.executable, str(ROOT / "main.py"), "relay", "--bind", "127.0.0.1"]
        command += ["--port", str(self.port), "--room-file", str(self.room_file)]
        self.proc = Proc(command, env=env, cwd=self.tmp)
        self.proc.wait_line(r"^SocketChat relay listening on ")
        return self.proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def stored(self) -> list[str]:
        """The ids (hex) in the room's history, by position, read once the relay stopped."""
        with contextlib.closing(sqlite3.connect(history_path(self.room_file))) as db:
            return [
                row[0].hex()
                for row in db.execute("SELECT message_id FROM messages ORDER BY position")
            ]


class Member:
    def __init__(self, room: Room, name: str) -> None:
        self.events = Recorder()
        self.client = ChatClient(
            host="127.0.0.1",
            port=room.port,
            username=name,
            on_event=self.events,
            identity=Identity.generate(),
            keys=KEYS,
        )
        self.client.start()
        self.events.wait_for(lambda e: isinstance(e, ce.Joined), TIMEOUT)

    def texts(self) -> list[str]:
        return self.events.texts()

    def wait_texts(self, expected: list[str]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while len(self.texts()) < len(expected) and time.monotonic() < deadline:
            with contextlib.suppress(AssertionError):
                self.events.wait_for(lambda e: False, 0.1)
        assert self.texts() == expected, self.client.username

    def acknowledged(self) -> list[str]:
        """Own messages the relay confirmed (its echo or ACK): nothing left in the outbox."""
        waiting = {message.message_id for message in self.client.pending()}
        return [
            e.text
            for e in self.events.of(ce.MessageReceived)
            if e.own and e.message_id not in waiting
        ]


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    running = Room(tmp_path)
    yield running
    running.stop()


@pytest.mark.parametrize("point", ["before-store", "after-store", "mid-write"])
def test_what_was_acknowledged_reaches_everyone_once_whatever_the_kill(room: Room, point) -> None:
    first = room.start(crash_at=f"{point}:4")
    # Join order is write order: with the kill mid-write, bob (first) has the broadcast,
    # alice (the sender) and carol do not.
    members = {name: Member(room, name) for name in ("bob", "alice", "carol")}
    alice = members["alice"]
    try:
        # Everyone reads alice first (her sender key reached them): the kill is what is tested.
        sent = ["hello"]
        alice.client.send("hello")
        for member in members.values():
            member.wait_texts(sent)
        for text in ("one", "two"):  # one broadcast each
            sent.append(text)
            alice.client.send(text)
            alice.wait_texts(sent)
        burst = ["three", "four", "five"]  # sent at once: the fourth broadcast with chat
        sent += burst
        for text in burst:
            alice.client.send(text)
        assert first.popen.wait(timeout=TIMEOUT) == -9  # killed itself at the chosen point
        acknowledged = alice.acknowledged()
        assert acknowledged[:3] == ["hello", "one", "two"]
        room.start()  # the same room file and history, no hook
        sent.append("six")
        alice.client.send("six")
        for member in members.values():
            member.wait_texts(sent)  # every message, once, in order; the sender's echoes too
        deadline = time.monotonic() + TIMEOUT
        while alice.client.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alice.client.pending() == ()  # everything resent was acknowledged in the end
        for text in acknowledged:
            assert all(member.texts().count(text) == 1 for member in members.values())
    finally:
        for member in members.values():
            member.client.close()
    room.stop()
    ids = [e.message_id.hex() for e in members["bob"].events.of(ce.MessageReceived)]
    assert room.stored() == ids  # the history holds each message once, in the order sent
