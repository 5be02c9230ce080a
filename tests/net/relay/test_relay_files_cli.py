"""``main.py relay --max-file-mb`` as a real process: the limit members are told, where a room's
files are kept (next to its room file), that they survive a restart (SIGTERM), and that 0
turns files off."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.kdf import RoomKeys
from net import proto
from net.proto import FileCode
from net.relay.roomfile import RoomSecret
from tests.net.relay.test_relay_cli import RelayProcess, run
from tests.net.wire import WireClient

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
pytestmark = [pytest.mark.timeout(90), posix_only]

FID = bytes(range(16))
CHUNKS = [bytes([n]) * 64040 for n in range(3)]


@pytest.fixture
def room_file(tmp_path: Path, room_keys: RoomKeys) -> Path:
    path = tmp_path / "office.room"
    RoomSecret.from_room_keys(room_keys).save(path)
    return path


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for process in started:
        process.kill()


def spawn(relays: list[RelayProcess], tmp_path: Path, *args: str) -> int:
    process = RelayProcess(*args, cwd=tmp_path)
    relays.append(process)
    return process.port()


def answer(client: WireClient) -> proto.FileStateReceived:
    return client.wait_type(proto.FileStateReceived)


def test_files_are_kept_next_to_the_room_file_and_survive_a_restart(
    relays: list[RelayProcess], tmp_path: Path, room_file: Path, room_keys: RoomKeys
) -> None:
    port = spawn(relays, tmp_path, "--room-file", str(room_file), "--max-file-mb", "1")
    with WireClient(port, "alice", room_keys) as alice:
        assert alice.join().max_file_bytes == 1024 * 1024
        alice.proto.open_file(FID, 17, 17 * 64040)  # 1.04 MiB: over the limit
        alice.flush()
        assert answer(alice).code == FileCode.TOO_LARGE
        alice.proto.open_file(FID, 3, 3 * 64040)
        for index, chunk in enumerate(CHUNKS):
            alice.proto.put_file_chunk(FID, index, chunk)
        alice.flush()
        assert [answer(alice).have for _ in range(4)] == [0, 1, 2, 3]
    assert relays[-1].stop() == 0
    assert (tmp_path / "office.room.files.sqlite3").exists()
    port = spawn(relays, tmp_path, "--room-file", str(room_file), "--max-file-mb", "1")
    with WireClient(port, "bob", room_keys) as bob:
        bob.join()
        bob.proto.get_file_chunks(FID, 0, 64)
        bob.flush()
        got = [bob.wait_type(proto.FileDataReceived).sealed for _ in CHUNKS]
        assert got == CHUNKS
    assert relays[-1].stop() == 0


def test_max_file_mb_0_turns_files_off(
    relays: list[RelayProcess], tmp_path: Path, room_file: Path, room_keys: RoomKeys
) -> None:
    port = spawn(relays, tmp_path, "--room-file", str(room_file), "--max-file-mb", "0")
    with WireClient(port, "alice", room_keys) as alice:
        assert alice.join().max_file_bytes == 0
        alice.proto.open_file(FID, 1, 64040)
        alice.flush()
        assert answer(alice).code == FileCode.FILES_OFF
    assert relays[-1].stop() == 0
    assert not (tmp_path / "office.room.files.sqlite3").exists()


@pytest.mark.parametrize("value", ["-1", "lots", "1000001"])
def test_max_file_mb_out_of_range_exits_2(tmp_path: Path, room_file: Path, value: str) -> None:
    result = run("relay", "--room-file", str(room_file), "--max-file-mb", value, cwd=tmp_path)
    assert result.returncode == 2
    assert "--max-file-mb" in result.stderr
