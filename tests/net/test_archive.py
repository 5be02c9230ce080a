"""net.client.archive on real SQLite files: storing, paging, searching, the outbox, and what a
file altered behind the app's back (or opened with another key) may and may not show."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from net.client.archive import (
    MAX_TEXT_BYTES,
    Archive,
    ArchiveError,
    ArchiveKeyError,
    OutgoingMessage,
    StoredMessage,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ROOM_A = b"A" * 16
ROOM_B = b"B" * 16
BASE_MS = 1_790_000_000_000


def mid(number: int) -> bytes:
    return number.to_bytes(16, "big")


def msg(number: int, room: bytes = ROOM_A, **fields: object) -> StoredMessage:
    values: dict[str, object] = {
        "room_id": room,
        "message_id": mid(number),
        "position": None,
        "sender": "alice",
        "signing_key": b"\x07" * 32,
        "timestamp_ms": BASE_MS + number * 1000,
        "text": f"message {number}",
        "own": False,
    }
    values.update(fields)
    return StoredMessage(**values)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history" / "archive.db"


@pytest.fixture
def archive(path: Path):
    with Archive.open(path, KEY) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- storing and reading ------------------------------------------------------------------------


def test_round_trip(archive):
    messages = [
        msg(1, sender="alice", text="hello"),
        msg(2, sender="bob ✨", text="héllo\nwörld 👩‍💻", own=True, position=7),
        msg(3, text="", signing_key=b"", content_type="application/x-test"),
    ]
    assert archive.add(messages) == 3
    assert archive.latest(ROOM_A) == messages
    assert archive.latest(ROOM_B) == []
    assert archive.rooms() == [ROOM_A]


def test_duplicates_are_ignored_within_and_across_batches(archive):
    assert archive.add([msg(1), msg(2), msg(1)]) == 2
    assert archive.add([msg(2, text="a different text"), msg(3)]) == 1
    assert [m.text for m in archive.latest(ROOM_A)] == ["message 1", "message 2", "message 3"]
    # The same message id in another room is another message.
    assert archive.add([msg(1, room=ROOM_B)]) == 1
    assert sorted(archive.rooms()) == [ROOM_A, ROOM_B]


def test_a_missing_position_is_filled_in_but_never_overwritten(archive):
    archive.add([msg(1), msg(2, position=5)])
    assert archive.last_position(ROOM_A) == 5
    assert archive.add([msg(1, position=9), msg(2, position=6)]) == 0
    # Stored now, the first message is shown where the relay put it: after the second.
    assert [(m.message_id, m.position) for m in archive.latest(ROOM_A)] == [
        (mid(2), 5),
        (mid(1), 9),
    ]
    assert archive.last_position(ROOM_A) == 9


def test_last_position_is_numeric_over_the_whole_u64_range(archive):
    assert archive.last_position(ROOM_A) == 0
    archive.add([msg(1, position=255), msg(2, position=256)])
    assert archive.last_position(ROOM_A) == 256
    archive.add([msg(3, position=2**64 - 1), msg(4, position=2**63)])
    assert archive.last_position(ROOM_A) == 2**64 - 1
    assert archive.last_position(ROOM_B) == 0


def test_messages_are_ordered_by_time_then_arrival(archive):
    archive.add([msg(3), msg(1), msg(2, timestamp_ms=BASE_MS + 3000)])
    assert [m.message_id for m in archive.latest(ROOM_A)] == [mid(1), mid(3), mid(2)]


def test_paging_back_with_before(archive):
    # 250 messages, many sharing a timestamp, so the row id must break ties.
    archive.add([msg(n, timestamp_ms=BASE_MS + n // 7) for n in range(250)])
    seen: list[int] = []
    page = archive.latest(ROOM_A, limit=100)
    while page:
        seen[:0] = [int.from_bytes(m.message_id, "big") for m in page]
        page = archive.before(ROOM_A, page[0].message_id, limit=100)
    assert seen == list(range(250))
    assert len(archive.latest(ROOM_A, limit=100)) == 100
    assert archive.before(ROOM_A, mid(999)) == []  # an id not stored here
    assert archive.before(ROOM_B, mid(5)) == []


def test_survives_reopening(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1, position=3), msg(2)])
        archive.queue_outgoing(ROOM_A, mid(9), "unsent", BASE_MS)
    with Archive.open(path, KEY) as archive:
        assert archive.latest(ROOM_A) == [msg(1, position=3), msg(2)]
        assert archive.last_position(ROOM_A) == 3
        assert [o.text for o in archive.outgoing(ROOM_A)] == ["unsent"]


def test_nothing_said_is_in_the_file_in_the_clear(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1, sender="zebulon-the-sender", text="a very secret plan")])
        archive.queue_outgoing(ROOM_A, mid(2), "an unsent secret", BASE_MS)
    data = b"".join(p.read_bytes() for p in path.parent.iterdir())
    for said in (b"zebulon-the-sender", b"a very secret plan", b"an unsent secret", b"\x07" * 32):
        assert said not in data


def test_repr_shows_no_text_or_sender():
    shown = repr(msg(1, sender="alice", text="secret words"))
    assert "secret" not in shown and "alice" not in shown
    assert "secret" not in repr(OutgoingMessage(ROOM_A, mid(1), "secret words", 1))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_file_mode_is_owner_only(path, tmp_path):
    previous = os.umask(0o022)  # a common umask, which would make new files world-readable
    try:
        with Archive.open(path, KEY) as archive:
            archive.add([msg(1)])
            for name in ("archive.db", "archive.db-wal", "archive.db-shm"):
                assert (path.parent / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        os.umask(previous)
    # An existing file with a looser mode is tightened.
    path.chmod(0o644)
    Archive.open(path, KEY).close()
    assert path.stat().st_mode & 0o777 == 0o600


# -- bounds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"room_id": b"short"},
        {"room_id": b"x" * 17},
        {"message_id": b"x" * 15},
        {"message_id": "not bytes" * 2},
        {"text": "x" * (MAX_TEXT_BYTES + 1)},
        {"text": "é" * (MAX_TEXT_BYTES // 2 + 1)},  # the bound is in UTF-8 bytes
        {"text": "lone \ud800 surrogate"},
        {"sender": "n" * 256},
        {"sender": 5},
        {"signing_key": b"k" * 256},
        {"content_type": "t" * 256},
        {"timestamp_ms": -1},
        {"timestamp_ms": 2**63},
        {"timestamp_ms": True},
        {"position": -1},
        {"position": 2**64},
        {"own": 1},
    ],
)
def test_out_of_bounds_fields_store_nothing(archive, fields):
    with pytest.raises(ValueError):
        archive.add([msg(1), msg(2, **fields)])
    assert archive.latest(ROOM_A) == []


def test_the_largest_allowed_fields_are_stored(archive):
    big = msg(1, text="x" * MAX_TEXT_BYTES, sender="n" * 255, signing_key=b"k" * 255)
    archive.add([big])
    assert archive.latest(ROOM_A) == [big]


def test_bad_arguments_are_value_errors(archive):
    for call in (
        lambda: archive.latest(b"short"),
        lambda: archive.latest(ROOM_A, limit=0),
        lambda: archive.latest(ROOM_A, limit=True),
        lambda: archive.before(ROOM_A, b"short"),
        lambda: archive.last_position(b""),
        lambda: archive.search("x", room_id=b"short"),
        lambda: archive.search("x" * (MAX_TEXT_BYTES + 1)),
        lambda: archive.search("x", limit=-1),
        lambda: archive.forget_room(b"short"),
        lambda: archive.queue_outgoing(ROOM_A, mid(1), "x" * (MAX_TEXT_BYTES + 1), 1),
        lambda: archive.queue_outgoing(ROOM_A, mid(1), "x", -1),
        lambda: archive.outgoing(b"short"),
    ):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValueError):
        Archive.open(Path("unused.db"), b"short key")


# -- search -------------------------------------------------------------------------------------


def test_search_is_case_insensitive_and_newest_first(archive):
    archive.add([msg(1, text="Hello there"), msg(2, text="nothing"), msg(3, text="oh HELLO")])
    assert [m.message_id for m in archive.search("hello")] == [mid(3), mid(1)]
    assert [m.message_id for m in archive.search("HeLLo", limit=1)] == [mid(3)]
    assert archive.search("absent") == []
    assert archive.search("") == []


def test_search_folds_unicode(archive):
    archive.add(
        [
            msg(1, text="Die Straße"),
            msg(2, text="ＦＵＬＬ width"),
            msg(3, text="the ﬁle"),
            msg(4, text="ΣΊΣΥΦΟΣ"),
            msg(5, text="cafe\u0301"),  # decomposed é
        ]
    )
    assert [m.message_id for m in archive.search("STRASSE")] == [mid(1)]
    assert [m.message_id for m in archive.search("full")] == [mid(2)]
    assert [m.message_id for m in archive.search("file")] == [mid(3)]
    assert [m.message_id for m in archive.search("σίσυφος")] == [mid(4)]
    assert [m.message_id for m in archive.search("CAFÉ")] == [mid(5)]


def test_search_matches_the_sender_too(archive):
    archive.add([msg(1, sender="Zoë", text="hi"), msg(2, sender="bob", text="zoë said hi")])
    assert [m.message_id for m in archive.search("ZOË")] == [mid(2), mid(1)]
    # Not across the boundary between sender and text.
    assert archive.search("zoëhi") == []


def test_search_filters_by_room_or_merges_all_rooms_newest_first(archive):
    archive.add([msg(1, text="apple"), msg(3, text="apple pie")])
    archive.add([msg(2, room=ROOM_B, text="apple"), msg(4, room=ROOM_B, text="pear")])
    assert [m.room_id for m in archive.search("apple", room_id=ROOM_B)] == [ROOM_B]
    found = archive.search("apple")
    assert [(m.room_id, m.message_id) for m in found] == [
        (ROOM_A, mid(3)),
        (ROOM_B, mid(2)),
        (ROOM_A, mid(1)),
    ]
    assert len(archive.search("apple", limit=2)) == 2


@pytest.mark.parametrize(
    "hostile",
    ["%", "_", "'", '"', "\\", "'; DROP TABLE messages; --", "%' OR '1'='1", "*", "[a]", "\x00"],
)
def test_search_takes_hostile_strings_literally(archive, hostile):
    archive.add([msg(1, text="plain words"), msg(2, text=f"with {hostile} inside")])
    assert [m.message_id for m in archive.search(hostile)] == [mid(2)]
    assert len(archive.latest(ROOM_A)) == 2  # the table is still there


def test_search_sees_what_add_stores_after_warming(archive):
    archive.add([msg(1, text="first needle")])
    archive.warm(ROOM_A)
    assert [m.message_id for m in archive.search("needle")] == [mid(1)]
    archive.add([msg(3, text="third needle"), msg(2, text="second needle"), msg(1, position=4)])
    found = archive.search("needle")
    assert [m.message_id for m in found] == [mid(3), mid(2), mid(1)]
    assert found[-1].position == 4


def test_search_after_reopen_loads_from_the_file(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(n, text=f"item {n}") for n in range(50)])
    with Archive.open(path, KEY) as archive:
        assert [m.message_id for m in archive.search("item 4")] == [mid(49), mid(48)] + [
            mid(n) for n in range(47, 39, -1)
        ] + [mid(4)]


# -- damage and keys ----------------------------------------------------------------------------


def test_a_tampered_row_is_skipped_and_counted(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1), msg(2), msg(3)])
    with raw(path) as db:
        (body,) = db.execute("SELECT body FROM messages WHERE message_id = ?", (mid(2),)).fetchone()
        altered = body[:30] + bytes([body[30] ^ 1]) + body[31:]
        db.execute("UPDATE messages SET body = ? WHERE message_id = ?", (altered, mid(2)))
    with Archive.open(path, KEY) as archive:
        assert archive.damaged == 0
        assert [m.message_id for m in archive.latest(ROOM_A)] == [mid(1), mid(3)]
        assert archive.damaged == 1
        assert [m.message_id for m in archive.search("message")] == [mid(3), mid(1)]
        assert archive.latest(ROOM_A, limit=2) == [msg(1), msg(3)]  # reads on past it
        assert archive.damaged == 1  # the same row, counted once


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("room", ROOM_B),
        ("message_id", mid(99)),
        ("timestamp_ms", BASE_MS),
        ("own", 1),
    ],
)
def test_a_row_moved_or_altered_in_the_clear_fails_to_open(path, column, value):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1), msg(2)])
    with raw(path) as db:
        db.execute(f"UPDATE messages SET {column} = ? WHERE message_id = ?", (value, mid(2)))
    with Archive.open(path, KEY) as archive:
        shown = archive.latest(ROOM_A) + archive.latest(ROOM_B)
        assert [m.message_id for m in shown] == [mid(1)]
        assert archive.damaged == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("position", 5),
        ("position", b"\x01\x02"),
        ("position", "text"),
        ("timestamp_ms", -5),
        ("timestamp_ms", 1.5),
        ("timestamp_ms", "soon"),
        ("room", "A" * 16),
        ("own", "yes"),
        ("body", "text"),
    ],
)
def test_values_of_the_wrong_type_in_the_file_are_damage_not_crashes(path, column, value):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1, position=3), msg(2, position=4)])
    with raw(path) as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute(
            f"UPDATE OR IGNORE messages SET {column} = ? WHERE message_id = ?", (value, mid(2))
        )
    with Archive.open(path, KEY) as archive:
        shown = archive.latest(ROOM_A) + archive.search("message")
        assert [m.message_id for m in shown] == [mid(1), mid(1)]
        # Positions are not sealed (they only say where to resume): a malformed one is skipped.
        assert archive.last_position(ROOM_A) == (3 if column in ("position", "room") else 4)


def test_rows_swapped_between_rooms_fail_to_open(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1, text="for A"), msg(1, room=ROOM_B, text="for B")])
    with raw(path) as db:
        bodies = dict(db.execute("SELECT room, body FROM messages"))
        db.execute("UPDATE messages SET body = ? WHERE room = ?", (bodies[ROOM_B], ROOM_A))
        db.execute("UPDATE messages SET body = ? WHERE room = ?", (bodies[ROOM_A], ROOM_B))
    with Archive.open(path, KEY) as archive:
        assert archive.latest(ROOM_A) == archive.latest(ROOM_B) == []
        assert archive.search("for") == []
        assert archive.damaged == 2


def test_a_tampered_outbox_row_is_skipped_and_counted(path):
    with Archive.open(path, KEY) as archive:
        archive.queue_outgoing(ROOM_A, mid(1), "one", BASE_MS)
        archive.queue_outgoing(ROOM_A, mid(2), "two", BASE_MS + 1)
    with raw(path) as db:
        db.execute("UPDATE outbox SET created_ms = 5 WHERE message_id = ?", (mid(1),))
    with Archive.open(path, KEY) as archive:
        assert [o.text for o in archive.outgoing(ROOM_A)] == ["two"]
        assert archive.damaged == 1


def test_the_wrong_key_opens_nothing(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1)])
    with pytest.raises(ArchiveKeyError):
        Archive.open(path, OTHER_KEY)
    with Archive.open(path, KEY) as archive:  # the file is untouched by the failed attempt
        assert archive.latest(ROOM_A) == [msg(1)]


def test_a_file_that_is_not_an_archive_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ArchiveError):
        Archive.open(junk, KEY)
    other = tmp_path / "other.db"
    with raw(other) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(ArchiveError):
        Archive.open(other, KEY)


# -- forgetting a room --------------------------------------------------------------------------


def test_forget_room_removes_everything_of_that_room(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(n, text=f"gone {n}", position=n) for n in range(1, 20)])
        archive.add([msg(1, room=ROOM_B, text="kept")])
        archive.queue_outgoing(ROOM_A, mid(50), "unsent", BASE_MS)
        archive.queue_outgoing(ROOM_B, mid(51), "unsent in B", BASE_MS)
        archive.set_resume_point(ROOM_A, 19)
        archive.set_resume_point(ROOM_B, 1)
        archive.warm(ROOM_A)
        with raw(path) as db:
            sealed = [
                row[0] for row in db.execute("SELECT body FROM messages WHERE room = ?", (ROOM_A,))
            ]
        data = b"".join(p.read_bytes() for p in path.parent.iterdir())
        assert all(body[:40] in data for body in sealed)  # what the check below looks for
        archive.forget_room(ROOM_A)
        assert archive.latest(ROOM_A) == []
        assert archive.outgoing(ROOM_A) == []
        assert archive.last_position(ROOM_A) == 0
        assert archive.resume_point(ROOM_A) is None  # a newcomer there again
        assert archive.resume_point(ROOM_B) == 1
        assert archive.search("gone") == []
        assert archive.rooms() == [ROOM_B]
        assert [m.text for m in archive.latest(ROOM_B)] == ["kept"]
        assert [o.text for o in archive.outgoing(ROOM_B)] == ["unsent in B"]
    # secure_delete and the checkpoint: not even the sealed bodies are left in the files.
    data = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert not any(body[:40] in data for body in sealed)


def test_a_resume_point_is_kept_per_room_and_checked(archive):
    assert archive.resume_point(ROOM_A) is None
    archive.set_resume_point(ROOM_A, 0)  # in the room before its first message
    assert archive.resume_point(ROOM_A) == 0
    archive.set_resume_point(ROOM_A, 2**64 - 1)
    assert archive.resume_point(ROOM_A) == 2**64 - 1
    assert archive.resume_point(ROOM_B) is None
    for bad in (-1, 2**64):
        with pytest.raises(ValueError):
            archive.set_resume_point(ROOM_A, bad)
    with pytest.raises(ValueError):
        archive.set_resume_point(b"short", 1)


# -- the outbox ---------------------------------------------------------------------------------


def test_outbox_round_trip(archive):
    archive.queue_outgoing(ROOM_A, mid(2), "second", BASE_MS + 5)
    archive.queue_outgoing(ROOM_A, mid(1), "first ✉", BASE_MS)
    archive.queue_outgoing(ROOM_A, mid(1), "queued twice", BASE_MS + 9)  # ignored
    archive.queue_outgoing(ROOM_B, mid(3), "elsewhere", BASE_MS)
    assert archive.outgoing(ROOM_A) == [
        OutgoingMessage(ROOM_A, mid(1), "first ✉", BASE_MS),
        OutgoingMessage(ROOM_A, mid(2), "second", BASE_MS + 5),
    ]
    archive.drop_outgoing(ROOM_A, mid(1))
    archive.drop_outgoing(ROOM_A, mid(7))  # not there: fine
    assert [o.message_id for o in archive.outgoing(ROOM_A)] == [mid(2)]
    assert [o.text for o in archive.outgoing(ROOM_B)] == ["elsewhere"]
    assert archive.rooms() == []  # the outbox alone makes no room with messages


# -- two connections ----------------------------------------------------------------------------


def test_a_second_connection_reads_while_another_writes(path):
    with Archive.open(path, KEY) as writer, Archive.open(path, KEY) as reader:
        with raw(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        writer.add([msg(1)])
        assert reader.latest(ROOM_A) == [msg(1)]
        # A writer holding its lock: in WAL mode a reader neither waits nor fails.
        blocker = raw(path)
        blocker.execute("PRAGMA busy_timeout = 0")
        blocker.execute("BEGIN EXCLUSIVE")
        blocker.execute("DELETE FROM messages")
        reader._db.execute("PRAGMA busy_timeout = 0")
        assert reader.latest(ROOM_A) == [msg(1)]  # the committed state
        assert reader.search("message") == [msg(1)]
        blocker.execute("ROLLBACK")
        blocker.close()
        writer.add([msg(2)])
        assert [m.message_id for m in reader.latest(ROOM_A)] == [mid(1), mid(2)]


# -- order: the relay's positions, timestamps for what has none -------------------------------

HOUR_MS = 3_600_000


def ids(messages: list[StoredMessage]) -> list[int]:
    return [int.from_bytes(m.message_id, "big") for m in messages]


def all_by_paging(archive: Archive, room: bytes = ROOM_A, limit: int = 2) -> list[int]:
    seen: list[int] = []
    page = archive.latest(room, limit=limit)
    while page:
        seen[:0] = ids(page)
        page = archive.before(room, page[0].message_id, limit=limit)
    return seen


def test_a_senders_wrong_clock_moves_no_stored_message(path):
    with Archive.open(path, KEY) as archive:
        archive.add(
            [
                msg(1, position=1),
                msg(2, position=2),
                msg(3, position=3, sender="mallory", timestamp_ms=BASE_MS + 3000 + HOUR_MS),
                msg(4, position=4),
                msg(5, position=5, sender="mallory", timestamp_ms=BASE_MS + 5000 - HOUR_MS),
                msg(6, position=6),
            ]
        )
        # Ours, not stored yet, written after the last one: last, though message 3 claims to
        # be an hour later (the newest stored message not later than ours is 6).
        archive.add([msg(7, own=True)])
        order = [1, 2, 3, 4, 5, 6, 7]
        assert ids(archive.latest(ROOM_A)) == order
        assert all_by_paging(archive) == order
        assert ids(archive.search("message")) == order[::-1]
        archive.add([msg(7, position=7)])
        assert ids(archive.latest(ROOM_A)) == order
    with Archive.open(path, KEY) as archive:  # the same order read back from the file alone
        assert ids(archive.latest(ROOM_A)) == order
        assert ids(archive.search("message")) == order[::-1]


def test_a_message_without_position_sits_by_its_timestamp_among_its_neighbours(archive):
    archive.add([msg(n, position=n) for n in range(1, 6)])  # at BASE_MS + n seconds
    archive.add(
        [
            msg(12, timestamp_ms=BASE_MS + 2500),  # after 2, before 3
            msg(11, timestamp_ms=BASE_MS + 2100),  # also after 2: before 12, by timestamp
            msg(10, timestamp_ms=BASE_MS + 500),  # older than every stored one: first
            msg(13, timestamp_ms=BASE_MS + 9000),  # newer than all: last
        ]
    )
    order = [10, 1, 2, 11, 12, 3, 4, 5, 13]
    assert ids(archive.latest(ROOM_A)) == order
    assert ids(archive.latest(ROOM_A, limit=4)) == order[-4:]
    assert all_by_paging(archive) == order
    assert all_by_paging(archive, limit=3) == order
    assert ids(archive.search("message")) == order[::-1]
    assert ids(archive.search("message", limit=3)) == order[::-1][:3]
    # Its position comes: it moves to where the relay stored it (after 5), and 12, written
    # after it, now sits after it.
    archive.add([msg(11, position=6)])
    order = [10, 1, 2, 3, 4, 5, 11, 12, 13]
    assert ids(archive.latest(ROOM_A)) == order
    assert all_by_paging(archive) == order
    assert ids(archive.search("message")) == order[::-1]
    # A message stored later but timed before a waiting one re-anchors it.
    archive.add([msg(14, position=7, timestamp_ms=BASE_MS + 8000)])
    assert ids(archive.latest(ROOM_A))[-4:] == [11, 12, 14, 13]


def test_before_a_message_that_is_not_one_gives_nothing(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1, position=1), msg(2, position=2), msg(3, position=3)])
    with raw(path) as db:
        db.execute("UPDATE messages SET position = x'0102' WHERE message_id = ?", (mid(2),))
    with Archive.open(path, KEY) as archive:
        assert ids(archive.latest(ROOM_A)) == [1, 3]
        assert archive.damaged == 1
        assert archive.before(ROOM_A, mid(2)) == []  # damaged: never shown, so never a cursor
        assert ids(archive.before(ROOM_A, mid(3))) == [1]


def test_many_messages_without_position_page_and_fill(path):
    count = 1_100  # more than one query's worth of ids
    with Archive.open(path, KEY) as archive, Archive.open(path, KEY) as other:
        archive.add([msg(n, position=n + 1) for n in range(0, count, 2)])
        archive.add([msg(n) for n in range(1, count, 2)])
        assert ids(archive.latest(ROOM_A, limit=2 * count)) == list(range(count))
        assert all_by_paging(archive, limit=300) == list(range(count))
        archive.warm(ROOM_A)
        other.add([msg(n, position=n + 1) for n in range(1, count, 2)])
        assert archive.refresh(ROOM_A) == 0  # nothing new: positions filled in
        found = archive.search("message", limit=count)
        assert ids(found) == list(range(count))[::-1]
        assert [m.position for m in found] == list(range(count, 0, -1))


def test_an_older_file_gets_the_new_index_when_opened_with_its_key(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1, position=1), msg(2)])
    with raw(path) as db:  # as the first version made it
        db.execute("DROP INDEX messages_by_room")
        db.execute("CREATE INDEX messages_by_time ON messages (room, timestamp_ms, id)")

    def indexes() -> set[str]:
        with raw(path) as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master")}

    with pytest.raises(ArchiveKeyError):
        Archive.open(path, OTHER_KEY)
    assert "messages_by_time" in indexes()  # the wrong key changes nothing
    with Archive.open(path, KEY) as archive:
        assert ids(archive.latest(ROOM_A)) == [1, 2]
    assert "messages_by_time" not in indexes()
    assert "messages_by_room" in indexes()


# -- refresh: what other connections stored -----------------------------------------------------


def test_refresh_learns_only_what_other_connections_added(path):
    with Archive.open(path, KEY) as reader, Archive.open(path, KEY) as writer:
        writer.add([msg(1, text="needle one", position=1)])
        assert ids(reader.search("needle", room_id=ROOM_A)) == [1]
        writer.add([msg(2, text="needle two", position=2), msg(3, text="hay", position=3)])
        writer.add([msg(1, room=ROOM_B, text="needle in B")])
        reader.add([msg(4, text="needle four", position=4)])  # through its own connection
        assert ids(reader.search("needle", room_id=ROOM_A)) == [4, 1]  # not learnt yet
        # Room A's two new rows (its own one is held already); room B was never searched
        # here, so it is not read now, and its first search reads it whole.
        assert reader.refresh() == 2
        assert ids(reader.search("needle", room_id=ROOM_A)) == [4, 2, 1]
        assert reader.refresh(ROOM_A) == 0
        assert reader.refresh(ROOM_B) == 0
        assert [m.room_id for m in reader.search("needle in")] == [ROOM_B]
        writer.add([msg(2, room=ROOM_B, text="needle again in B")])
        assert reader.refresh(ROOM_B) == 1
        assert reader.search("again")[0].room_id == ROOM_B
        with pytest.raises(ValueError):
            reader.refresh(b"short")


def test_refresh_reads_only_the_rows_added_since(path):
    with Archive.open(path, KEY) as reader, Archive.open(path, KEY) as writer:
        writer.add([msg(1, position=1), msg(2, position=2)])
        reader.warm(ROOM_A)
        # Damage a row it holds already: reading it again would count it as damaged.
        with raw(path) as db:
            db.execute("UPDATE messages SET own = 1 WHERE message_id = ?", (mid(1),))
        writer.add([msg(3, position=3)])
        assert reader.refresh(ROOM_A) == 1
        assert reader.damaged == 0
        assert ids(reader.search("message")) == [3, 2, 1]


def test_refresh_learns_positions_filled_in_elsewhere(path):
    with Archive.open(path, KEY) as reader, Archive.open(path, KEY) as writer:
        writer.add([msg(1, position=1), msg(3, timestamp_ms=BASE_MS), msg(2, position=2)])
        assert ids(reader.search("message", room_id=ROOM_A)) == [2, 1, 3]  # 3 waits, first
        writer.add([msg(3, position=3)])
        assert reader.refresh(ROOM_A) == 0
        found = reader.search("message", room_id=ROOM_A)
        assert ids(found) == [3, 2, 1]
        assert found[0].position == 3


def test_refresh_after_the_room_was_forgotten_elsewhere(path):
    with Archive.open(path, KEY) as reader, Archive.open(path, KEY) as writer:
        writer.add([msg(n, text=f"old {n}", position=n) for n in (1, 2, 3)])
        reader.warm(ROOM_A)
        writer.forget_room(ROOM_A)
        # The new rows take the forgotten ones' row ids again.
        writer.add([msg(n, text=f"new {n}", position=n) for n in (7, 8, 9)])
        assert reader.refresh(ROOM_A) == 0  # dropped from memory, read again when searched
        assert reader.search("old") == []
        assert ids(reader.search("new")) == [9, 8, 7]
