"""Rooms that last, and many rooms on one relay (``relay --rooms DIR``), on 127.0.0.1.

A relay serving a folder of room files: each connection reaches the room its CLIENT_OPEN names
(the all-zero id only when the folder holds one room), rooms are added and removed without a
restart, limits and log lines are per room, and each room's history is kept in SQLite across
restarts, only for the rooms that were used. A history store that fails sends and
acknowledges nothing of that flush and disconnects its senders. The command line keeps the room
of ``--password-file`` across restarts, and a damaged history stops it in plain words.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from crypto.kdf import RoomKeys, derive_room_keys
from net import proto
from net.proto import DEFAULT_ROOM, Reason
from net.proto._history import MemoryHistory
from net.relay import Relay, RelayThread
from net.relay.history import HistoryOptions, history_path
from net.relay.roomfile import RoomSecret
from tests.net.relay.support import BASE, wait_until
from tests.net.relay.test_relay_cli import LISTENING, RelayProcess
from tests.net.wire import WireClient

pytestmark = pytest.mark.timeout(90)

PASSWORD = "rooms that last, correct horse"


#: What RelayThread is made with before it is handed the relay of a folder.
PLACEHOLDER = RoomSecret.from_room_keys(derive_room_keys(PASSWORD, room_id=bytes(16), n=2**10))


def make_room(folder: Path, name: str, number: int) -> RoomKeys:
    """A room file ``folder/name.room`` for a room of its own id; the members' keys."""
    keys = derive_room_keys(PASSWORD, room_id=bytes([number]) * 16, n=2**10)
    RoomSecret.from_room_keys(keys).save(folder / f"{name}.room")
    return keys


class Folder:
    """A relay (in a thread) serving every room file of a folder, and its clients."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.thread: RelayThread | None = None
        self.clients: list[WireClient] = []
        self.port = 0

    def start(self, **overrides: Any) -> Relay:
        config = dataclasses.replace(BASE, **overrides)
        # RelayThread runs one Relay; it is handed one for the folder, as the command makes.
        thread = RelayThread(PLACEHOLDER)
        thread.relay = Relay(
            None,
            config,
            rooms_dir=self.folder,
            history_options=HistoryOptions(),
            poll_interval=0.05,
        )
        self.port = thread.start()
        self.thread = thread
        return thread.relay

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.clients = []
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    def client(self, name: str, keys: RoomKeys, **kwargs: Any) -> WireClient:
        client = WireClient(self.port, name, keys, room_id=keys.room_id, **kwargs)
        self.clients.append(client)
        return client

    def member(self, name: str, keys: RoomKeys, **kwargs: Any) -> WireClient:
        client = self.client(name, keys, **kwargs)
        client.join()
        return client

    def call(self, function: Any) -> Any:
        assert self.thread is not None
        return self.thread.call(function)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Folder]:
    folder = Folder(tmp_path / "rooms")
    folder.folder.mkdir()
    yield folder
    folder.stop()


def refusal(client: WireClient) -> Reason | int:
    event = client.wait_for(lambda e: isinstance(e, proto.Refused | proto.GoodbyeReceived))
    assert isinstance(event, proto.Refused | proto.GoodbyeReceived)
    return event.code


def heard(client: WireClient) -> list[str]:
    return [e.text for e in client.events if isinstance(e, proto.ChatOpened)]


# -- one port, many rooms ------------------------------------------------------------------


def test_each_member_reaches_the_room_its_hello_names(served: Folder) -> None:
    office, garden = make_room(served.folder, "office", 1), make_room(served.folder, "garden", 2)
    relay = served.start()
    alice = served.member("alice", office)
    bob = served.member("bob", garden)
    carol = served.member("carol", office)
    alice.say("for the office")
    carol.hear("for the office")
    bob.say("for the garden")
    alice.say("office again")
    carol.hear("office again")
    bob.hear("for the garden")  # his own echo: the garden's broadcast
    assert heard(bob) == ["for the garden"] and "for the garden" not in heard(carol)
    rooms = served.call(lambda: {k: v.room.members for k, v in relay.rooms.items()})
    assert rooms == {office.room_id: ("alice", "carol"), garden.room_id: ("bob",)}
    assert served.call(relay.stats).rooms == 2


def test_the_all_zero_room_is_the_only_room_or_refused(served: Folder) -> None:
    office = make_room(served.folder, "office", 1)
    served.start()
    alone = WireClient(served.port, "alice", office)  # asks for DEFAULT_ROOM
    served.clients.append(alone)
    assert alone.join().your_name == "alice"
    make_room(served.folder, "garden", 2)
    wait_until(lambda: len(served.call(lambda: served.thread.relay.rooms)) == 2)  # type: ignore[union-attr]
    again = WireClient(served.port, "bob", office, room_id=DEFAULT_ROOM)
    served.clients.append(again)
    assert refusal(again) == Reason.NO_SUCH_ROOM
    unknown = served.client("carol", derive_room_keys(PASSWORD, room_id=bytes([9]) * 16, n=2**10))
    assert refusal(unknown) == Reason.NO_SUCH_ROOM


def test_rooms_come_and_go_without_a_restart(served: Folder, caplog) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    office = make_room(served.folder, "office", 1)
    relay = served.start()
    alice = served.member("alice", office)
    garden = make_room(served.folder, "garden", 2)  # added while the relay runs
    wait_until(lambda: garden.room_id in served.call(lambda: relay.rooms), what="garden served")
    bob = served.member("bob", garden)
    (served.folder / "office.room").unlink()  # and the office removed
    goodbye = alice.wait_type(proto.GoodbyeReceived)
    assert goodbye.code == Reason.ROOM_CLOSED
    wait_until(lambda: office.room_id not in served.call(lambda: relay.rooms))
    assert refusal(served.client("carol", office)) == Reason.NO_SUCH_ROOM
    bob.say("still here")
    bob.hear("still here")
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert "room 02020202: open (garden.room)" in lines
    assert "room 01010101: closed: its room file was removed" in lines


def test_limits_and_log_lines_are_per_room(served: Folder, caplog) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    office, garden = make_room(served.folder, "office", 1), make_room(served.folder, "garden", 2)
    served.start(max_members=1)
    served.member("alice", office)
    served.member("bob", garden)  # the office being full does not fill the garden
    carol = served.client("carol", office)
    assert refusal(carol) == Reason.ROOM_FULL
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert any(re.fullmatch(r"room 01010101: user alice \(\S+\) connected", line) for line in lines)
    assert any(re.fullmatch(r"room 02020202: user bob \(\S+\) connected", line) for line in lines)
    assert any(line.startswith("room 01010101: refused ") for line in lines)


def test_a_file_that_cannot_be_served_is_said_once_and_the_others_go_on(
    served: Folder, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    office = make_room(served.folder, "office", 1)
    relay = served.start()
    (served.folder / "broken.room").write_text("{ not json")
    (served.folder / "copy.room").write_bytes((served.folder / "office.room").read_bytes())
    wait_until(
        lambda: sum("cannot serve" in r.getMessage() for r in caplog.records) >= 2,
        what="the two problems logged",
    )
    served.call(relay._poll)  # looked at again: said once only
    errors = [r.getMessage() for r in caplog.records if "cannot serve" in r.getMessage()]
    assert len(errors) == 2
    assert any("broken.room" in e and "not JSON" in e for e in errors)
    assert any("copy.room" in e and "same room as" in e for e in errors)
    served.member("alice", office)


# -- history that lasts --------------------------------------------------------------------


def test_a_restarted_relay_keeps_each_rooms_history_and_positions(served: Folder) -> None:
    office = make_room(served.folder, "office", 1)
    make_room(served.folder, "garden", 2)
    served.start()
    alice = served.member("alice", office)
    alice.say("one", "two")
    alice.say("three")
    alice.hear("three")
    stored = alice.wait_type(proto.MessagesStored)
    assert len(stored.message_ids) >= 1
    served.stop()
    # Only the room that was used has a history file.
    assert history_path(served.folder / "office.room").exists()
    assert not history_path(served.folder / "garden.room").exists()
    served.start()
    bob = served.member("bob", office)
    welcomed = next(e for e in bob.events if isinstance(e, proto.Welcomed))
    assert (welcomed.history_start, welcomed.next_position) == (1, 4)
    assert len(welcomed.history) == 3  # sealed with alice's key: held until it comes
    back = served.member("alice", office, identity=alice.identity, keyring=alice.proto.keyring)
    back_welcome = next(e for e in back.events if isinstance(e, proto.Welcomed))
    assert [e.text for e in back_welcome.history if isinstance(e, proto.ChatOpened)] == [
        "one",
        "two",
        "three",
    ]
    back.say("four")
    bob.hear("four")
    assert bob.wait_type(proto.ChatOpened).position in (1, 2, 3, 4)


class FailingStore(MemoryHistory):
    """A history whose appends fail while ``failing`` (a full disk)."""

    def __init__(self) -> None:
        super().__init__(100, max_bytes=10**6)
        self.failing = False

    def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        if self.failing:
            raise OSError(28, "No space left on device")
        super().append(items)


def test_a_store_that_fails_sends_and_acknowledges_nothing_and_disconnects_the_sender(
    relays, secret, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    store = FailingStore()
    thread = RelayThread(secret, BASE)
    thread.relay = Relay(secret, BASE, history=store)
    relays.port = thread.start()
    relays.relays.append(thread)
    alice, bob = relays.member("alice"), relays.member("bob")
    alice.say("kept")
    bob.hear("kept")
    store.failing = True
    [lost] = alice.say("lost")
    goodbye = alice.wait_type(proto.GoodbyeReceived)
    assert goodbye.code == Reason.ROOM_CLOSING
    assert not any(
        isinstance(e, proto.MessagesStored) and lost in e.message_ids for e in alice.events
    )
    store.failing = False
    carol = relays.member("carol")  # the room goes on: bob hears what comes next
    carol.say("after")
    bob.hear("after")
    assert "lost" not in heard(bob) and store.next_position == 3  # "kept", "after"
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert any("cannot store messages" in line and "No space left" in line for line in lines)


# -- the command line ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_password_relay_keeps_its_room_across_restarts(tmp_path: Path) -> None:
    password = tmp_path / "password.txt"
    password.write_text(PASSWORD + "\n")
    port = str(_free_port())
    data = tmp_path / "data"
    first = RelayProcess("--password-file", str(password), "--port", port, cwd=tmp_path)
    room = first.wait_line(r"room (\w{8}) open on port").group(1)
    first.wait_line(LISTENING)
    assert first.stop() == 0
    kept = tmp_path / "device" / "relay" / f"password-room-{port}.room"
    assert kept.exists()
    again = RelayProcess("--password-file", str(password), "--port", port, cwd=tmp_path)
    assert again.wait_line(r"room (\w{8}) open on port").group(1) == room
    assert any(f"Serving room {room} again" in line for line in again.lines)
    assert again.stop() == 0
    password.write_text("another password for the same room\n")
    changed = RelayProcess(
        "--password-file", str(password), "--port", port, "--data", str(data), cwd=tmp_path
    )
    assert changed.wait_line(r"room (\w{8}) open on port").group(1) != room  # another folder
    assert changed.stop() == 0
    moved = RelayProcess("--password-file", str(password), "--port", port, cwd=tmp_path)
    assert moved.wait_line(r"room (\w{8}) open on port").group(1) == room
    assert any("members need the new password" in line for line in moved.lines)
    assert moved.stop() == 0


@pytest.mark.slow
def test_the_command_serves_a_folder_and_stops_on_a_damaged_history(tmp_path: Path) -> None:
    folder = tmp_path / "rooms"
    folder.mkdir()
    make_room(folder, "office", 1)
    make_room(folder, "garden", 2)
    relay = RelayProcess("--rooms", str(folder), cwd=tmp_path)
    relay.wait_line(r"serving 2 room\(s\) from .*rooms on port \d+")
    relay.wait_line(LISTENING)
    assert relay.stop() == 0
    damaged = history_path(folder / "garden.room")
    damaged.write_bytes(b"this is no database" * 300)
    broken = RelayProcess("--rooms", str(folder), cwd=tmp_path)
    assert broken.proc.wait(timeout=60) == 1
    said = broken.stderr()
    assert "damaged or unreadable" in said and str(damaged) in said
    assert damaged.read_bytes() == b"this is no database" * 300  # left as it was
