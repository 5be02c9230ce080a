"""The archive keeper: every call on its own thread, in order; a failure said once.

A real archive file for what must really be on disk; a recording stand-in where a failure has
to be made to happen (a disk that refuses, a file that does not open).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

from net.client.archive import Archive, StoredMessage
from net.client.keeper import ArchiveKeeper
from net.proto import PendingMessage

ROOM = bytes(range(16))


def _message(n: int) -> PendingMessage:
    return PendingMessage(text=f"m{n}", message_id=bytes([n]) * 16, timestamp_ms=1000 + n)


def _stored(n: int, *, timestamp_ms: int = 1000) -> StoredMessage:
    return StoredMessage(
        room_id=ROOM,
        message_id=bytes([100 + n]) * 16,
        position=n,
        sender="bob",
        signing_key=b"k" * 32,
        timestamp_ms=timestamp_ms,
        text=f"r{n}",
        own=False,
    )


def test_keep_drop_and_record_land_on_disk_in_the_order_asked(tmp_path: Path):
    path, key = tmp_path / "h.sqlite3", os.urandom(32)
    failures: list[str] = []
    keeper = ArchiveKeeper(functools.partial(Archive.open, path, key), on_failure=failures.append)
    keeper.start()
    assert keeper.settled(keeper.keep(ROOM, [_message(1), _message(2)]))
    keeper.drop(ROOM, _message(1).message_id)
    keeper.keep(ROOM, [_message(1)])  # kept again after the drop: the order holds
    for n in range(1, 4):
        keeper.record(_stored(n))
    room = keeper.load(ROOM)
    assert room is not None
    assert room.outgoing == (_message(1), _message(2))  # oldest first, by when written
    assert room.resume_point == 0  # here before, no resume point recorded: fetch it all
    keeper.resume_at(ROOM, 3)
    room = keeper.load(ROOM)
    assert room is not None and room.resume_point == 3
    assert room.known_ids == {_stored(n).message_id for n in range(1, 4)}
    keeper.close()
    assert failures == []
    with Archive.open(path, key) as archive:
        assert [m.text for m in archive.latest(ROOM)] == ["r1", "r2", "r3"]


def test_a_message_the_archive_refuses_is_skipped_and_the_others_are_recorded(tmp_path: Path):
    path, key = tmp_path / "h.sqlite3", os.urandom(32)
    failures: list[str] = []
    keeper = ArchiveKeeper(functools.partial(Archive.open, path, key), on_failure=failures.append)
    gate = threading.Event()
    keeper.call(lambda archive: gate.wait(5), "wait")  # the next three land in one batch
    keeper.record(_stored(1))
    keeper.record(_stored(2, timestamp_ms=2**64 - 1))  # a sender's absurd claim
    keeper.record(_stored(3))
    gate.set()
    keeper.close()
    assert failures == []
    with Archive.open(path, key) as archive:
        assert [m.text for m in archive.latest(ROOM)] == ["r1", "r3"]


def test_an_archive_that_does_not_open_is_said_once_and_nothing_waits_for_it(tmp_path: Path):
    failures: list[str] = []

    def refuse() -> Archive:
        raise OSError("read-only file system")

    keeper = ArchiveKeeper(refuse, on_failure=failures.append, wait=5.0)
    keeper.start()
    assert not keeper.settled(keeper.keep(ROOM, [_message(1)]))
    assert keeper.load(ROOM) is None
    keeper.record(_stored(1))
    keeper.drop(ROOM, _message(1).message_id)
    keeper.close()
    assert failures == ["could not open the history file: read-only file system"]
    assert not keeper.healthy


class _FailingWrites:
    """An archive whose disk stops taking writes after the first."""

    def __init__(self) -> None:
        self.kept: list[bytes] = []
        self.closed = False

    def queue_outgoing(
        self, room: bytes, message_id: bytes, text: str, created: int, **content: object
    ) -> None:
        if self.kept:
            raise OSError("disk full")
        self.kept.append(message_id)

    def close(self) -> None:
        self.closed = True


def test_a_write_that_fails_stops_the_keeper_and_is_said_without_message_text():
    failures: list[str] = []
    archive = _FailingWrites()
    keeper = ArchiveKeeper(lambda: archive, on_failure=failures.append)
    assert keeper.settled(keeper.keep(ROOM, [_message(1)]))
    assert not keeper.settled(keeper.keep(ROOM, [_message(2)]))
    assert not keeper.settled(keeper.keep(ROOM, [_message(3)]))  # no archive any more
    keeper.close()
    assert failures == ["could not keep a message: disk full"]
    assert archive.kept == [_message(1).message_id]
    assert archive.closed
    assert "m2" not in failures[0]


def test_a_room_never_joined_on_this_device_has_no_resume_point(tmp_path: Path):
    path, key = tmp_path / "h.sqlite3", os.urandom(32)
    keeper = ArchiveKeeper(functools.partial(Archive.open, path, key), on_failure=print)
    keeper.start()
    try:
        room = keeper.load(ROOM)
        assert room is not None and room.resume_point is None  # a newcomer
    finally:
        keeper.close()
