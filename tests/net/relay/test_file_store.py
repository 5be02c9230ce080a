"""The relay's SQLite file store (net.relay.files): a real SQLite file in the test's folder.

It keeps what MemoryFiles keeps, in the same order; what it adds is that it lasts (a reopened
store knows every file, its chunks and its place in the eviction order), that it is made only
with the first file, that a temporary one is gone when it is closed, that deleting gives the
space back, and that a damaged, foreign or busy file is refused in plain words while a full
disk raises without keeping half a chunk. The rules over it are tested in tests/net/test_files.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from net.proto import FileCode, MemoryFiles, RoomFiles
from net.relay.files import FilesError, FilesWriteError, SqliteFiles, files_path, open_files
from net.relay.history import HistoryOptions

ROOM = bytes(range(16))
OTHER_ROOM = bytes(16)
A, B, C = (bytes([n]) * 16 for n in (1, 2, 3))
ALICE = b"A" * 32


def chunk(n: int, size: int = 64040) -> bytes:
    return bytes([n % 256]) * size


def fill(store: SqliteFiles | MemoryFiles, file_id: bytes, chunks: int, *, opened_ms: int = 0):
    store.create(
        file_id=file_id,
        uploader=ALICE,
        count=chunks,
        stored_size=chunks * 64040,
        opened_ms=opened_ms,
    )
    for index in range(chunks):
        store.append(file_id, index, chunk(index))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "office.room.files.sqlite3"


def test_it_keeps_what_memory_keeps(path: Path) -> None:
    disk, memory = SqliteFiles(path, room_id=ROOM), MemoryFiles()
    for store in (disk, memory):
        fill(store, A, 3)
        store.create(file_id=B, uploader=ALICE, count=2, stored_size=2 * 64040, opened_ms=5)
        store.append(B, 0, chunk(9))
    assert list(disk.files()) == list(memory.files())
    assert (len(disk), disk.used) == (len(memory), memory.used) == (2, 5 * 64040)
    for file_id, index in ((A, 0), (A, 2), (B, 0), (B, 1), (A, 3), (C, 0)):
        assert disk.read(file_id, index) == memory.read(file_id, index)
    assert disk.read(A, 1) == chunk(1)
    assert disk.read(B, 1) is None  # not stored yet
    for store in (disk, memory):
        store.delete(A)
        store.delete(C)  # nothing to delete: nothing happens
    assert list(disk.files()) == list(memory.files())
    assert disk.read(A, 0) is None and disk.used == 2 * 64040
    disk.close()


def test_files_last_across_a_restart(path: Path) -> None:
    store = SqliteFiles(path, room_id=ROOM)
    fill(store, A, 2, opened_ms=111)
    store.create(file_id=B, uploader=ALICE, count=3, stored_size=3 * 64040, opened_ms=222)
    store.append(B, 0, chunk(7))
    before = list(store.files())
    store.close()
    again = SqliteFiles(path, room_id=ROOM)
    assert list(again.files()) == before  # have, total, uploader, order and dates
    assert again.find(B) is not None and again.find(B).have == 1  # type: ignore[union-attr]
    assert again.read(A, 1) == chunk(1) and again.read(B, 0) == chunk(7)
    again.append(B, 1, chunk(8))  # an upload resumes where it was
    again.create(file_id=C, uploader=ALICE, count=0, stored_size=0, opened_ms=333)
    assert [record.file_id for record in again.files()] == [A, B, C]
    assert [record.opened for record in again.files()] == [1, 2, 3]
    again.close()


def test_the_database_is_made_with_the_first_file_mode_0600(path: Path) -> None:
    store = SqliteFiles(path, room_id=ROOM)
    assert not path.exists() and len(store) == 0 and store.read(A, 0) is None
    store.delete(A)  # nothing to do, nothing made
    assert not path.exists()
    store.create(file_id=A, uploader=ALICE, count=1, stored_size=64040, opened_ms=0)
    assert path.exists()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store.close()


def test_a_temporary_store_is_gone_once_closed() -> None:
    store = SqliteFiles(None, room_id=ROOM)
    assert store.path is None  # nothing made until a file comes
    fill(store, A, 2)
    where = store.path
    assert where is not None and where.exists()
    if os.name == "posix":
        assert stat.S_IMODE(where.stat().st_mode) == 0o600
    store.close()
    assert not where.exists()
    assert not Path(f"{where}-wal").exists() and not Path(f"{where}-shm").exists()
    store.close()  # idempotent


def test_deleting_gives_the_space_back(path: Path) -> None:
    store = SqliteFiles(path, room_id=ROOM)
    fill(store, A, 40)  # 2.5 MB
    store.close()  # folds the journal into the file
    full = path.stat().st_size
    assert full > 40 * 64040
    store = SqliteFiles(path, room_id=ROOM)
    store.delete(A)
    store.close()
    assert path.stat().st_size < full // 10


def test_an_evicted_file_is_gone_after_a_restart(path: Path) -> None:
    store = SqliteFiles(path, room_id=ROOM)
    rules = RoomFiles[object](store, max_bytes=4 * 64040)
    for file_id in (A, B):
        assert (
            rules.open(
                "conn", ALICE, file_id=file_id, count=2, stored_size=2 * 64040, now_ms=0
            ).code
            == FileCode.OK
        )
        for index in range(2):
            rules.put("conn", ALICE, file_id=file_id, index=index, sealed=chunk(index))
    rules.open("conn", ALICE, file_id=C, count=1, stored_size=64040, now_ms=0)
    store.close()
    again = SqliteFiles(path, room_id=ROOM)
    assert [record.file_id for record in again.files()] == [B, C]
    assert again.read(A, 0) is None and again.used == 3 * 64040
    again.close()


def test_chunks_are_appended_in_order(path: Path) -> None:
    store = SqliteFiles(path, room_id=ROOM)
    store.create(file_id=A, uploader=ALICE, count=3, stored_size=3 * 64040, opened_ms=0)
    with pytest.raises(ValueError):
        store.append(A, 1, chunk(1))
    store.close()


def test_another_rooms_files_are_refused_and_left_alone(path: Path) -> None:
    store = SqliteFiles(path, room_id=OTHER_ROOM)
    fill(store, A, 1)
    store.close()
    before = path.read_bytes()
    with pytest.raises(FilesError, match="files of room 00000000, not of room 00010203"):
        SqliteFiles(path, room_id=ROOM)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"not a database at all, just text" * 100, b"\x00" * 4096])
def test_a_damaged_file_is_refused_in_plain_words(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(FilesError, match="damaged or unreadable"):
        SqliteFiles(path, room_id=ROOM)
    assert path.read_bytes() == content  # never replaced or emptied


def test_a_second_relay_on_the_same_files_is_refused(path: Path) -> None:
    first = SqliteFiles(path, room_id=ROOM)
    fill(first, A, 1)
    with pytest.raises(FilesError, match="in use by another relay process"):
        SqliteFiles(path, room_id=ROOM)
    first.close()
    SqliteFiles(path, room_id=ROOM).close()


def test_a_full_disk_raises_and_keeps_nothing_of_the_chunk(path: Path) -> None:
    store = SqliteFiles(path, room_id=ROOM)
    fill(store, A, 1)
    store.create(file_id=B, uploader=ALICE, count=2, stored_size=2 * 64040, opened_ms=0)
    db = store._db
    assert db is not None
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")  # no room for another page: "full"
    with pytest.raises(FilesWriteError, match="full"):
        store.append(B, 0, chunk(0))
    assert store.find(B).have == 0 and store.read(B, 0) is None  # type: ignore[union-attr]
    db.execute("PRAGMA max_page_count=1000000")
    store.append(B, 0, chunk(0))
    store.close()
    assert SqliteFiles(path, room_id=ROOM).find(B).have == 1  # type: ignore[union-attr]


def test_a_store_that_cannot_be_made_answers_no_space(tmp_path: Path) -> None:
    store = SqliteFiles(tmp_path / "missing" / "x.files.sqlite3", room_id=ROOM)
    rules = RoomFiles[str](store, max_bytes=10 * 64040)
    state = rules.open("conn", ALICE, file_id=A, count=1, stored_size=64040, now_ms=0)
    assert state.code == FileCode.NO_SPACE
    with pytest.raises(FilesWriteError):
        store.create(file_id=A, uploader=ALICE, count=1, stored_size=64040, opened_ms=0)


def test_the_files_sit_next_to_the_room_file_or_in_the_data_folder(tmp_path: Path) -> None:
    room = tmp_path / "rooms" / "office.room"
    assert files_path(room) == tmp_path / "rooms" / "office.room.files.sqlite3"
    assert files_path(room, tmp_path / "data") == tmp_path / "data" / "office.room.files.sqlite3"
    options = HistoryOptions(data_dir=tmp_path)
    store = open_files(room, ROOM, options)
    assert store.path == tmp_path / "office.room.files.sqlite3" and not store.path.exists()
    store.close()


def test_a_history_in_place_of_the_files_is_refused_and_left_alone(path: Path) -> None:
    from net.relay.history import SqliteHistory

    history = SqliteHistory(path, room_id=ROOM)
    history.append([(bytes(16), b"item")])
    history.close()
    before = path.read_bytes()
    with pytest.raises(FilesError, match="not a SocketChat relay's files"):
        SqliteFiles(path, room_id=ROOM)
    assert path.read_bytes() == before
