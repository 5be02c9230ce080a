"""The relay's SQLite history (net.relay.history): a real SQLite file in the test's folder.

What it stores is what MemoryHistory stores (the same pages for the same appends); what it adds
is that it lasts: positions count on after pruning and after a restart, the ids of kept
messages are known again at open, a kill -9 right after append loses nothing, a damaged or
foreign file is refused in plain words and left as it was, and a full disk raises without
keeping half a batch. Clocks are injected: nothing here sleeps.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from net.proto._history import MemoryHistory
from net.relay.history import (
    PRUNE_EVERY,
    DeferredHistory,
    HistoryError,
    HistoryOptions,
    HistoryWriteError,
    SqliteHistory,
    Sync,
    history_path,
)

ROOM = bytes(range(16))
OTHER_ROOM = bytes(16)


class Clocks:
    """Wall time (epoch seconds) and monotonic time, moved by the test."""

    def __init__(self) -> None:
        self.wall = 1_700_000_000.0
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def ids(first: int, count: int) -> list[bytes]:
    return [n.to_bytes(16, "big") for n in range(first, first + count)]


def items(first: int, count: int) -> list[tuple[bytes, bytes]]:
    """Chat items numbered from ``first``: the id and a body of a size that varies."""
    return [
        (message_id, b"item %d " % n + bytes(n % 7 * 10))
        for n, message_id in zip(range(first, first + count), ids(first, count), strict=True)
    ]


def open_store(path: Path, clocks: Clocks | None = None, **kwargs: object) -> SqliteHistory:
    clocks = clocks or Clocks()
    return SqliteHistory(
        path,
        room_id=ROOM,
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "office.room.history.sqlite3"


def rows(path: Path) -> list[int]:
    """The positions in the file, read by another connection after the store closed."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute("SELECT position FROM messages ORDER BY position")]


# -- what it stores --------------------------------------------------------------------------


def test_pages_are_those_of_the_memory_store_for_the_same_appends(path: Path) -> None:
    store = open_store(path)
    memory = MemoryHistory(10_000, max_bytes=10**9)
    for first, count in ((1, 1), (2, 30), (32, 5), (37, 64)):
        store.append(items(first, count))
        memory.append(items(first, count))
    assert store.next_position == memory.next_position == 101
    for after, before, limit, max_bytes in [
        (0, 101, 100, 10**9),
        (0, 101, 10, 10**9),
        (50, 101, 1000, 10**9),
        (0, 60, 7, 10**9),
        (0, 500, 3, 10**9),  # before past the end: clipped
        (0, 101, 100, 200),  # a byte budget that stops the page early
        (99, 101, 5, 10**9),
        (100, 101, 5, 10**9),  # nothing after 100
        (0, 1, 5, 10**9),  # nothing before 1
        (0, 101, 0, 10**9),
    ]:
        expected = memory.page(after=after, before=before, limit=limit, max_bytes=max_bytes)
        assert store.page(after=after, before=before, limit=limit, max_bytes=max_bytes) == (
            expected
        ), (after, before, limit, max_bytes)
    assert store.contains(ids(1, 1)[0]) and store.contains(ids(100, 1)[0])
    assert not store.contains(ids(101, 1)[0])
    assert store.contains(ids(5, 1)[0] + b"rest of the envelope")  # only the id counts


def test_an_empty_store_starts_at_position_1_and_pages_nothing(path: Path) -> None:
    store = open_store(path)
    assert store.next_position == 1 and len(store) == 0
    assert store.page(after=0, before=100, limit=10, max_bytes=10**6) == (1, [])
    store.append([])
    assert store.next_position == 1


def test_a_duplicate_id_in_one_append_keeps_nothing_of_it(path: Path) -> None:
    store = open_store(path)
    store.append(items(1, 3))
    with pytest.raises(HistoryWriteError):
        store.append(items(4, 2) + items(2, 1))  # id 2 is stored already
    assert store.next_position == 4 and not store.contains(ids(4, 1)[0])
    store.close()
    assert rows(path) == [1, 2, 3]


# -- what lasts -------------------------------------------------------------------------------


def test_positions_and_ids_last_across_a_restart(path: Path) -> None:
    store = open_store(path)
    store.append(items(1, 5))
    store.close()
    again = open_store(path)
    assert again.next_position == 6 and len(again) == 5
    assert all(again.contains(message_id) for message_id in ids(1, 5))
    again.append(items(6, 1))
    assert again.page(after=0, before=100, limit=100, max_bytes=10**6) == (
        1,
        [item for _, item in items(1, 6)],
    )


def test_retention_by_count_runs_once_a_second_not_per_message(path: Path) -> None:
    clocks = Clocks()
    store = open_store(path, clocks, keep_messages=3)
    for n in range(1, 8):
        store.append(items(n, 1))  # the same second: no pass yet
    assert len(store) == 7
    clocks.advance(1.0)
    store.append(items(8, 1))  # the next append after a second prunes
    assert len(store) == 3 and store.next_position == 9
    assert not store.contains(ids(5, 1)[0]) and store.contains(ids(6, 1)[0])
    assert store.page(after=0, before=9, limit=100, max_bytes=10**6)[0] == 6
    store.close()
    assert rows(path) == [6, 7, 8]


def test_retention_by_count_also_runs_after_many_messages_within_a_second(path: Path) -> None:
    store = open_store(path, keep_messages=10)
    store.append(items(1, PRUNE_EVERY - 1))
    assert len(store) == PRUNE_EVERY - 1
    store.append(items(PRUNE_EVERY, 1))
    assert len(store) == 10 and store.next_position == PRUNE_EVERY + 1


def test_retention_by_age(path: Path) -> None:
    clocks = Clocks()
    store = open_store(path, clocks, keep_days=2)
    store.append(items(1, 2))
    clocks.advance(86_400)
    store.append(items(3, 2))
    clocks.advance(86_400 + 1)  # the first two are now older than two days
    store.append(items(5, 1))
    assert len(store) == 3 and store.page(after=0, before=10, limit=10, max_bytes=10**6)[0] == 3
    store.close()
    clocks.advance(86_400)  # at open, the retention applies at once
    assert len(open_store(path, clocks, keep_days=2)) == 1


def test_no_age_limit_with_0_days(path: Path) -> None:
    clocks = Clocks()
    store = open_store(path, clocks, keep_days=0)
    store.append(items(1, 2))
    clocks.advance(86_400 * 10_000)
    store.append(items(3, 1))
    assert len(store) == 3


def test_positions_count_on_when_pruning_emptied_the_history(path: Path) -> None:
    clocks = Clocks()
    store = open_store(path, clocks, keep_days=1)
    store.append(items(1, 4))
    clocks.advance(2 * 86_400)
    store.prune()
    assert len(store) == 0 and store.next_position == 5
    store.close()
    assert rows(path) == []
    again = open_store(path, clocks, keep_days=1)
    assert again.next_position == 5  # from the meta table: no row is left to count from
    again.append(items(5, 1))
    assert again.page(after=0, before=6, limit=5, max_bytes=10**6) == (5, [items(5, 1)[0][1]])


def test_what_was_appended_survives_sigkill_right_after(path: Path) -> None:
    """A process appends, then is killed with SIGKILL before it closes anything: the batch
    is in the file (append returned after the commit)."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from net.relay.history import SqliteHistory\n"
        f"store = SqliteHistory(Path(sys.argv[1]), room_id={ROOM!r})\n"
        "store.append([(n.to_bytes(16, 'big'), b'x' * 100) for n in range(1, 51)])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=root, capture_output=True, timeout=60
    )
    assert result.returncode == -9, result.stderr
    store = open_store(path)
    assert store.next_position == 51 and len(store) == 50


# -- files, modes, damage -------------------------------------------------------------------


def test_the_files_are_private_and_in_wal_mode(path: Path) -> None:
    store = open_store(path, sync=Sync.FULL)
    store.append(items(1, 1))
    for name in os.listdir(path.parent):
        mode = stat.S_IMODE((path.parent / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert (path.parent / (path.name + "-wal")).exists()
    assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()
    normal = open_store(path)
    assert normal._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL


def test_a_world_readable_file_is_made_private_at_open(path: Path) -> None:
    open_store(path).close()
    path.chmod(0o644)
    open_store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "content",
    [b"not a database at all" * 100, b"SQLite format 3\x00" + bytes(4080)],
    ids=["garbage", "cut header"],
)
def test_a_damaged_file_is_refused_in_plain_words_and_left_alone(path: Path, content) -> None:
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=r"damaged or unreadable.*never replaces it"):
        open_store(path)
    assert path.read_bytes() == content


def test_another_rooms_history_is_refused(path: Path) -> None:
    store = SqliteHistory(path, room_id=OTHER_ROOM)
    store.append(items(1, 1))
    store.close()
    with pytest.raises(
        HistoryError, match="holds the history of room 00000000, not of room 00010203"
    ):
        open_store(path)


def test_a_sqlite_file_that_is_no_history_is_refused(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
        db.execute("INSERT INTO meta VALUES ('format', 'something else')")
    with pytest.raises(HistoryError, match="not a SocketChat relay history"):
        open_store(path)


def test_a_second_relay_on_the_same_history_is_refused(path: Path) -> None:
    first = open_store(path)
    with pytest.raises(HistoryError, match="in use by another relay process"):
        open_store(path)
    first.close()
    open_store(path).close()  # free again once the first one closed


def test_a_full_disk_raises_and_keeps_nothing_of_the_batch(path: Path) -> None:
    store = open_store(path)
    store.append(items(1, 1))
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")  # no room for another page: "full"
    big = [(message_id, bytes(3000)) for message_id, _ in items(2, 20)]
    with pytest.raises(HistoryWriteError, match="full"):
        store.append(big)
    assert store.next_position == 2 and not store.contains(big[0][0])
    store._db.execute("PRAGMA max_page_count=1000000")  # room again: the same positions
    store.append(big)
    assert store.next_position == 22
    store.close()
    assert rows(path) == list(range(1, 22))


# -- options and the deferred store ---------------------------------------------------------


def test_options_check_their_bounds() -> None:
    with pytest.raises(ValueError):
        HistoryOptions(keep_messages=0)
    with pytest.raises(ValueError):
        HistoryOptions(keep_days=-1)
    assert HistoryOptions().keep_messages == 10_000 and HistoryOptions().keep_days == 30


def test_the_history_sits_next_to_the_room_file_or_in_the_data_folder(tmp_path: Path) -> None:
    room = tmp_path / "rooms" / "office.room"
    assert history_path(room) == tmp_path / "rooms" / "office.room.history.sqlite3"
    assert history_path(room, tmp_path / "data") == tmp_path / "data/office.room.history.sqlite3"


def test_a_deferred_history_makes_its_file_with_the_first_message(tmp_path: Path) -> None:
    room = tmp_path / "office.room"
    store = DeferredHistory(room, ROOM, HistoryOptions())
    assert store.next_position == 1 and not store.contains(ids(1, 1)[0])
    assert store.page(after=0, before=10, limit=10, max_bytes=10**6) == (1, [])
    assert not history_path(room).exists()
    store.append(items(1, 2))
    assert history_path(room).exists() and store.next_position == 3 and store.contains(ids(2, 1)[0])
    store.close()


def test_a_deferred_history_that_cannot_make_its_file_raises_a_write_error(tmp_path: Path) -> None:
    store = DeferredHistory(tmp_path / "no such folder" / "office.room", ROOM, HistoryOptions())
    with pytest.raises(HistoryWriteError, match="cannot open"):
        store.append(items(1, 1))
