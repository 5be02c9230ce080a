"""Files through the relay in the protocol core (PROTOCOL.md 3.6): the six frames' layouts and
limits, the room's rules over a store (order, limits, eviction, who may drop, resuming), and
the frames between a client core and a relay core wired through memory.

Malformed frames are written by hand into an authentic connection, as a broken or hostile peer
would; the rules are exercised with :class:`net.proto.MemoryFiles`, the relay's SQLite store
has its own tests (tests/net/relay/test_file_store.py).
"""

from __future__ import annotations

import struct

import pytest

from crypto.kdf import RoomKeys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import (
    CHUNK_SIZE,
    MAX_GET_CHUNKS,
    MAX_SEALED_CHUNK,
    MAX_UPLOADS,
    MIN_SEALED_CHUNK,
    DecodeError,
    DownloadQueue,
    FileCode,
    FileRuleError,
    FileState,
    LocalProtocolError,
    MemoryFiles,
    RoomFiles,
    StoredFile,
)
from net.proto._files import (
    decode_file_chunk,
    decode_file_drop,
    decode_file_get,
    decode_file_open,
    decode_file_state,
    encode_file_chunk,
    encode_file_drop,
    encode_file_get,
    encode_file_open,
    encode_file_state,
    file_code,
)
from net.proto._frames import FrameType, Reason
from tests.net.helpers import (
    BROADCAST_KEY,
    MAX_MESSAGE_BYTES,
    Pair,
    Room,
    credentials,
    make_client,
    make_relay,
)

FID = bytes(range(16))
OTHER = bytes(range(16, 32))
ALICE, BOB = b"A" * 32, b"B" * 32
FULL = MAX_SEALED_CHUNK  # a whole sealed chunk: 64,040 bytes


def sealed(size: int = FULL, fill: int = 0x5A) -> bytes:
    return bytes([fill]) * size


# -- the frames -------------------------------------------------------------------------------


def test_layouts_are_the_documented_ones() -> None:
    assert encode_file_open(FID, 3, 2 * FULL + 41) == FID + struct.pack(">IQ", 3, 2 * FULL + 41)
    assert encode_file_state(FID, FileCode.NO_SPACE, 0) == FID + b"\x03" + bytes(4)
    assert encode_file_state(FID, FileCode.OK, 7) == FID + b"\x00" + struct.pack(">I", 7)
    assert encode_file_chunk(FID, 2, b"x" * 41) == FID + struct.pack(">I", 2) + b"x" * 41
    assert encode_file_drop(FID) == FID
    assert encode_file_get(FID, 5, 64) == FID + struct.pack(">IH", 5, 64)
    # The sealed sizes follow crypto.filechunk: 24-byte nonce, 16-byte tag.
    assert (MIN_SEALED_CHUNK, MAX_SEALED_CHUNK) == (41, CHUNK_SIZE + 40) == (41, 64040)
    # The six frame types, after HISTORY_PAGE.
    assert [FrameType.FILE_OPEN + i for i in range(6)] == [0x22, 0x23, 0x24, 0x25, 0x26, 0x27]
    assert [c.value for c in FileCode] == list(range(7))


def test_round_trips() -> None:
    opened = decode_file_open(encode_file_open(FID, 2, FULL + 100))
    assert (opened.file_id, opened.count, opened.stored_size) == (FID, 2, FULL + 100)
    assert decode_file_open(encode_file_open(FID, 0, 0)).count == 0  # an empty file
    assert decode_file_state(encode_file_state(FID, FileCode.OK, 9)) == FileState(
        file_id=FID, code=FileCode.OK, have=9
    )
    chunk = decode_file_chunk(encode_file_chunk(FID, 4, sealed(FULL)))
    assert (chunk.file_id, chunk.index, chunk.sealed) == (FID, 4, sealed(FULL))
    assert decode_file_drop(encode_file_drop(FID)) == FID
    get = decode_file_get(encode_file_get(FID, 0, 1))
    assert (get.file_id, get.from_index, get.count) == (FID, 0, 1)


def test_an_unknown_code_from_a_newer_relay_stays_a_number() -> None:
    state = decode_file_state(FID + b"\x63" + bytes(4))
    assert state.code == 99 and not isinstance(state.code, FileCode)
    assert file_code(5) is FileCode.NOT_YOURS


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        FID,  # no count, no size
        FID + struct.pack(">IQ", 1, 40),  # one chunk cannot be 40 bytes
        FID + struct.pack(">IQ", 1, FULL + 1),  # nor more than a whole chunk
        FID + struct.pack(">IQ", 0, 1),  # an empty file stores nothing
        FID + struct.pack(">IQ", 2, 2 * FULL + 1),
        FID + struct.pack(">IQ", 1, 41) + b"\x00",  # trailing byte
    ],
)
def test_garbage_file_open_is_refused(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_file_open(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        FID + struct.pack(">I", 0),  # no chunk at all
        FID + struct.pack(">I", 0) + b"x" * 40,  # shorter than a sealed byte
        FID + struct.pack(">I", 0) + b"x" * (FULL + 1),  # longer than a whole sealed chunk
        FID[:15],
    ],
)
def test_garbage_chunks_are_refused(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_file_chunk(payload)


@pytest.mark.parametrize(
    "payload",
    [
        FID + struct.pack(">IH", 0, 0),  # asks for nothing
        FID + struct.pack(">IH", 0, 65),  # more than 64
        FID + struct.pack(">I", 0),  # no count
        FID + struct.pack(">IH", 0, 1) + b"\x00",
    ],
)
def test_garbage_file_get_is_refused(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_file_get(payload)


def test_garbage_state_and_drop_are_refused() -> None:
    for payload in (FID + b"\x00", FID + b"\x00" + bytes(5), b""):
        with pytest.raises(DecodeError):
            decode_file_state(payload)
    for payload in (FID + b"\x00", FID[:8]):
        with pytest.raises(DecodeError):
            decode_file_drop(payload)


def test_encoders_refuse_what_does_not_fit() -> None:
    with pytest.raises(LocalProtocolError):
        encode_file_open(FID[:15], 1, 41)
    with pytest.raises(LocalProtocolError):
        encode_file_open(FID, 1, 40)
    with pytest.raises(LocalProtocolError):
        encode_file_open(FID, 2**32, 41 * 2**32)
    with pytest.raises(LocalProtocolError):
        encode_file_chunk(FID, 0, b"x" * 40)
    with pytest.raises(LocalProtocolError):
        encode_file_chunk(FID, 0, b"x" * (FULL + 1))
    with pytest.raises(LocalProtocolError):
        encode_file_get(FID, 0, 0)
    with pytest.raises(LocalProtocolError):
        encode_file_get(FID, 0, MAX_GET_CHUNKS + 1)


def test_a_file_put_frame_fits_the_relays_frame_cap() -> None:
    body = 1 + len(encode_file_chunk(FID, 2**32 - 1, sealed(FULL))) + 16  # type, payload, tag
    assert body <= proto.MAX_CLIENT_FRAME


# -- the rules over a store -------------------------------------------------------------------


class Conn:
    """A connection handle, as the relay's MemberConnection is to the rules."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Conn({self.name})"


def files(max_bytes: int = 10 * FULL, **kwargs: int) -> RoomFiles[Conn]:
    return RoomFiles(MemoryFiles(), max_bytes=max_bytes, **kwargs)


def open_(
    rules: RoomFiles[Conn],
    conn: Conn,
    uploader: bytes = ALICE,
    file_id: bytes = FID,
    count: int = 3,
    size: int = 3 * FULL,
    now_ms: int = 0,
) -> FileState:
    return rules.open(conn, uploader, file_id=file_id, count=count, stored_size=size, now_ms=now_ms)


def put(
    rules: RoomFiles[Conn],
    conn: Conn,
    index: int,
    data: bytes | None = None,
    uploader: bytes = ALICE,
    file_id: bytes = FID,
) -> FileState:
    return rules.put(
        conn, uploader, file_id=file_id, index=index, sealed=sealed() if data is None else data
    )


def upload(
    rules: RoomFiles[Conn],
    conn: Conn,
    file_id: bytes,
    chunks: int,
    uploader: bytes = ALICE,
    now_ms: int = 0,
) -> None:
    state = open_(rules, conn, uploader, file_id, chunks, chunks * FULL, now_ms=now_ms)
    assert state.code == FileCode.OK
    for index in range(chunks):
        put(rules, conn, index, uploader=uploader, file_id=file_id)


def kept(rules: RoomFiles[Conn]) -> list[bytes]:
    assert rules.store is not None
    return [record.file_id for record in rules.store.files()]


def test_an_upload_in_order_then_a_download() -> None:
    rules, alice = files(), Conn("alice")
    assert open_(rules, alice, size=2 * FULL + 41) == FileState(file_id=FID, code=FileCode.OK)
    assert rules.uploads(alice) == 1
    assert put(rules, alice, 0).have == 1
    assert put(rules, alice, 1).have == 2
    assert put(rules, alice, 2, sealed(41)) == FileState(file_id=FID, code=FileCode.OK, have=3)
    assert rules.uploads(alice) == 0  # complete: no longer an upload in progress
    assert rules.get(file_id=FID, from_index=0, count=64) == range(3)
    assert rules.get(file_id=FID, from_index=1, count=1) == range(1, 2)
    assert rules.read(FID, 2) == sealed(41)
    # Nothing from there on: the state instead (a downloader that is ahead of the uploader).
    assert rules.get(file_id=FID, from_index=3, count=5) == FileState(
        file_id=FID, code=FileCode.OK, have=3
    )


def test_a_download_of_an_upload_in_progress_gets_what_is_stored() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice)
    put(rules, alice, 0)
    assert rules.get(file_id=FID, from_index=0, count=64) == range(1)
    assert rules.get(file_id=FID, from_index=1, count=64) == FileState(
        file_id=FID, code=FileCode.OK, have=1
    )


def test_a_chunk_before_have_is_a_harmless_duplicate() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice)
    put(rules, alice, 0, sealed(fill=1))
    put(rules, alice, 1)
    assert put(rules, alice, 0, sealed(fill=2)) == FileState(file_id=FID, code=FileCode.OK, have=2)
    assert rules.read(FID, 0) == sealed(fill=1)  # not stored twice, not replaced
    assert rules.store is not None and rules.store.used == 3 * FULL


def test_a_chunk_after_have_breaks_the_rules() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice)
    put(rules, alice, 0)
    with pytest.raises(FileRuleError, match="the next is 1"):
        put(rules, alice, 2)
    assert rules.get(file_id=FID, from_index=0, count=64) == range(1)  # nothing kept of it


def test_more_bytes_than_stored_size_break_the_rules() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice, count=3, size=FULL + 100)
    put(rules, alice, 0)
    with pytest.raises(FileRuleError, match="stored_size"):
        put(rules, alice, 1, sealed(101))  # one byte more than the file's size
    assert put(rules, alice, 1, sealed(59)).have == 2
    with pytest.raises(FileRuleError, match="stored_size"):
        put(rules, alice, 2, sealed(42))
    assert put(rules, alice, 2, sealed(41)).have == 3  # exactly stored_size: complete


def test_a_last_chunk_short_of_stored_size_breaks_the_rules() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice, count=2, size=2 * FULL)
    put(rules, alice, 0)
    with pytest.raises(FileRuleError, match="short of it"):
        put(rules, alice, 1, sealed(FULL - 1))
    assert rules.get(file_id=FID, from_index=1, count=1) == FileState(
        file_id=FID, code=FileCode.OK, have=1
    )


def test_only_the_connection_that_opened_it_uploads() -> None:
    rules, alice, mallory = files(), Conn("alice"), Conn("mallory")
    open_(rules, alice)
    put(rules, alice, 0)
    with pytest.raises(FileRuleError, match="not uploading"):
        put(rules, mallory, 1, uploader=BOB)
    with pytest.raises(FileRuleError, match="not being uploaded"):
        put(rules, mallory, 0, uploader=BOB, file_id=OTHER)  # no FILE_OPEN at all
    # A duplicate from another identity is not a duplicate either.
    with pytest.raises(FileRuleError):
        put(rules, mallory, 0, uploader=BOB)


def test_another_identity_cannot_open_or_drop_the_file() -> None:
    rules, alice, bob = files(), Conn("alice"), Conn("bob")
    upload(rules, alice, FID, 2)
    assert open_(rules, bob, uploader=BOB, count=2, size=2 * FULL).code == FileCode.NOT_YOURS
    assert rules.drop(bob, BOB, FID) == FileState(file_id=FID, code=FileCode.NOT_YOURS)
    assert kept(rules) == [FID]
    assert rules.drop(alice, ALICE, FID) == FileState(file_id=FID, code=FileCode.NOT_FOUND)
    assert kept(rules) == []
    assert rules.get(file_id=FID, from_index=0, count=1).code == FileCode.NOT_FOUND  # type: ignore[union-attr]


def test_dropping_an_upload_in_progress_frees_its_place() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice)
    put(rules, alice, 0)
    assert rules.drop(alice, ALICE, FID).code == FileCode.NOT_FOUND
    assert rules.uploads(alice) == 0 and kept(rules) == []
    with pytest.raises(FileRuleError):  # what was in flight behind the drop is not accepted
        put(rules, alice, 1)
    assert rules.drop(alice, ALICE, OTHER).code == FileCode.NOT_FOUND  # nothing to drop


def test_the_same_file_id_with_another_size_breaks_the_rules() -> None:
    rules, alice = files(), Conn("alice")
    open_(rules, alice)
    with pytest.raises(FileRuleError, match="another count or size"):
        open_(rules, alice, count=4, size=4 * FULL)


def test_too_large_and_files_off() -> None:
    rules, alice = files(max_bytes=2 * FULL), Conn("alice")
    assert open_(rules, alice, count=3, size=3 * FULL).code == FileCode.TOO_LARGE
    assert open_(rules, alice, count=2, size=2 * FULL).code == FileCode.OK  # exactly the limit
    for off in (RoomFiles[Conn](None, max_bytes=FULL), RoomFiles[Conn](MemoryFiles(), max_bytes=0)):
        assert off.max_bytes == 0
        assert open_(off, alice, count=1, size=FULL).code == FileCode.FILES_OFF
        assert off.get(file_id=FID, from_index=0, count=1) == FileState(
            file_id=FID, code=FileCode.FILES_OFF
        )
        assert off.drop(alice, ALICE, FID).code == FileCode.FILES_OFF
        with pytest.raises(FileRuleError):
            put(off, alice, 0)


def test_an_empty_file_is_complete_when_opened() -> None:
    rules, alice = files(), Conn("alice")
    assert open_(rules, alice, count=0, size=0) == FileState(file_id=FID, code=FileCode.OK)
    assert rules.uploads(alice) == 0
    assert open_(rules, alice, count=0, size=0).have == 0  # again: complete, have == count
    assert rules.get(file_id=FID, from_index=0, count=1) == FileState(
        file_id=FID, code=FileCode.OK, have=0
    )


def test_at_most_four_uploads_in_progress_per_connection() -> None:
    rules, alice = files(max_bytes=100 * FULL), Conn("alice")
    ids = [bytes([n]) * 16 for n in range(MAX_UPLOADS + 1)]
    for file_id in ids[:MAX_UPLOADS]:
        assert open_(rules, alice, file_id=file_id, count=1, size=FULL).code == FileCode.OK
    assert open_(rules, alice, file_id=ids[-1], count=1, size=FULL).code == FileCode.TOO_MANY
    put(rules, alice, 0, file_id=ids[0])  # one completes: a place frees
    assert open_(rules, alice, file_id=ids[-1], count=1, size=FULL).code == FileCode.OK
    assert open_(rules, Conn("alice again"), file_id=OTHER, count=1, size=FULL).code == 0


def test_eviction_takes_the_oldest_opened_first() -> None:
    rules, alice = files(max_bytes=5 * FULL), Conn("alice")
    first, second, third, new = (bytes([n]) * 16 for n in (1, 2, 3, 4))
    upload(rules, alice, first, 2)
    upload(rules, alice, second, 2)
    upload(rules, alice, third, 1)
    assert rules.store is not None and rules.store.used == 5 * FULL
    # Two chunks more: the oldest file goes, and only it.
    assert open_(rules, alice, file_id=new, count=2, size=2 * FULL).code == FileCode.OK
    assert kept(rules) == [second, third, new]
    assert rules.get(file_id=first, from_index=0, count=1).code == FileCode.NOT_FOUND  # type: ignore[union-attr]
    # Three more after those (new is an upload in progress: it stays): second and third go.
    assert open_(rules, Conn("bob"), BOB, OTHER, 3, 3 * FULL).code == FileCode.OK
    assert kept(rules) == [new, OTHER]


def test_uploads_in_progress_on_a_live_connection_are_not_evicted() -> None:
    rules, alice, bob = files(max_bytes=4 * FULL), Conn("alice"), Conn("bob")
    open_(rules, alice, count=3, size=3 * FULL)
    put(rules, alice, 0)
    done = bytes([9]) * 16
    upload(rules, bob, done, 1, uploader=BOB)
    # Two chunks do not fit even without bob's complete file: nothing is evicted.
    assert open_(rules, bob, BOB, OTHER, 2, 2 * FULL).code == FileCode.NO_SPACE
    assert kept(rules) == [FID, done]
    # One fits once bob's complete file goes.
    assert open_(rules, bob, BOB, OTHER, 1, FULL).code == FileCode.OK
    assert kept(rules) == [FID, OTHER]
    # Alice's connection ends: her upload stays, but may be evicted now.
    rules.release(alice)
    assert kept(rules) == [FID, OTHER] and rules.uploads(alice) == 0
    third = bytes([7]) * 16
    assert open_(rules, bob, BOB, third, 3, 3 * FULL).code == FileCode.OK
    assert kept(rules) == [OTHER, third]


def test_resuming_an_upload_counts_against_the_four_in_progress() -> None:
    rules, first, busy = files(max_bytes=100 * FULL), Conn("alice 1"), Conn("alice 2")
    open_(rules, first)
    put(rules, first, 0)
    rules.release(first)  # the connection dropped, its upload stays
    for n in range(MAX_UPLOADS):
        assert open_(rules, busy, file_id=bytes([n + 1]) * 16, count=1, size=FULL).code == 0
    assert open_(rules, busy) == FileState(file_id=FID, code=FileCode.TOO_MANY)
    assert rules.uploads(busy) == MAX_UPLOADS
    with pytest.raises(FileRuleError):  # not attached: its chunks are not this connection's
        put(rules, busy, 1)


def test_an_upload_resumes_on_a_new_connection() -> None:
    rules, first, again = files(), Conn("alice 1"), Conn("alice 2")
    open_(rules, first)
    put(rules, first, 0)
    put(rules, first, 1)
    rules.release(first)  # the connection dropped
    assert open_(rules, again) == FileState(file_id=FID, code=FileCode.OK, have=2)
    assert rules.uploads(again) == 1
    assert put(rules, again, 1).have == 2  # a resend of what was in flight: a duplicate
    assert put(rules, again, 2).have == 3
    assert rules.uploads(again) == 0


def test_resuming_moves_the_upload_from_a_connection_not_yet_closed() -> None:
    rules, old, new = files(), Conn("alice old"), Conn("alice new")
    open_(rules, old)
    put(rules, old, 0)
    assert open_(rules, new).have == 1  # the same identity again (REPLACED)
    assert (rules.uploads(old), rules.uploads(new)) == (0, 1)
    with pytest.raises(FileRuleError):
        put(rules, old, 1)
    rules.release(old)  # the old connection's end does not release the new one's upload
    assert rules.uploads(new) == 1
    assert put(rules, new, 1).have == 2


def test_a_complete_file_opened_again_is_complete() -> None:
    rules, alice = files(), Conn("alice")
    upload(rules, alice, FID, 3)
    assert open_(rules, Conn("alice 2")) == FileState(file_id=FID, code=FileCode.OK, have=3)
    assert rules.uploads(alice) == 0


def test_at_most_max_files_files() -> None:
    rules, alice = files(max_files=3), Conn("alice")
    ids = [bytes([n]) * 16 for n in range(5)]
    for file_id in ids:
        assert open_(rules, alice, file_id=file_id, count=0, size=0).code == FileCode.OK
    assert kept(rules) == ids[2:]


def test_files_older_than_the_age_limit_go_at_the_next_open() -> None:
    day = 86_400_000
    rules, alice = files(max_age_ms=30 * day), Conn("alice")
    old, live = bytes([1]) * 16, bytes([2]) * 16
    upload(rules, alice, old, 1, now_ms=0)
    open_(rules, Conn("bob"), BOB, live, 1, FULL, now_ms=0)  # in progress, on a live connection
    open_(rules, alice, file_id=FID, count=0, size=0, now_ms=30 * day)
    assert kept(rules) == [old, live, FID]  # not older than the limit yet
    open_(rules, alice, file_id=OTHER, count=0, size=0, now_ms=30 * day + 1)
    assert kept(rules) == [live, FID, OTHER]


class FailingFiles(MemoryFiles):
    """A store whose disk is full: every write fails."""

    def create(self, **kw: object) -> StoredFile:
        raise OSError(28, "No space left on device")

    def append(self, file_id: bytes, index: int, sealed: bytes) -> StoredFile:
        raise OSError(28, "No space left on device")


def test_a_store_that_cannot_write_answers_no_space() -> None:
    rules, alice = RoomFiles[Conn](FailingFiles(), max_bytes=10 * FULL), Conn("alice")
    assert open_(rules, alice).code == FileCode.NO_SPACE
    store = MemoryFiles()
    rules = RoomFiles[Conn](store, max_bytes=10 * FULL)
    open_(rules, alice)
    store.append = FailingFiles.append.__get__(store)  # type: ignore[method-assign]
    assert put(rules, alice, 0) == FileState(file_id=FID, code=FileCode.NO_SPACE)
    assert rules.get(file_id=FID, from_index=0, count=1) == FileState(
        file_id=FID, code=FileCode.OK, have=0
    )


def test_a_drop_the_store_cannot_write_answers_no_space_and_keeps_the_upload() -> None:
    store, alice = MemoryFiles(), Conn("alice")
    rules = RoomFiles[Conn](store, max_bytes=10 * FULL)
    open_(rules, alice)
    put(rules, alice, 0)

    def failing_delete(file_id: bytes) -> None:
        raise OSError(28, "No space left on device")

    store.delete = failing_delete  # type: ignore[method-assign]
    assert rules.drop(alice, ALICE, FID) == FileState(file_id=FID, code=FileCode.NO_SPACE)
    assert kept(rules) == [FID]
    assert rules.uploads(alice) == 1  # still this connection's upload: it goes on
    assert put(rules, alice, 1).have == 2


def test_bad_limits_are_refused() -> None:
    for kwargs in (
        {"max_bytes": -1},
        {"max_bytes": 1, "max_files": 0},
        {"max_bytes": 1, "max_age_ms": -1},
    ):
        with pytest.raises(ValueError):
            RoomFiles(MemoryFiles(), **kwargs)


# -- the download queue -----------------------------------------------------------------------


def test_the_download_queue_keeps_order_and_its_limit() -> None:
    queue = DownloadQueue()
    queue.add(FID, range(0, 3))
    queue.add(OTHER, range(10, 12))
    queue.add(FID, range(5, 5))  # nothing: not queued
    sent = []
    while (next_chunk := queue.peek()) is not None:
        sent.append(next_chunk)
        queue.pop()
    assert sent == [(FID, 0), (FID, 1), (FID, 2), (OTHER, 10), (OTHER, 11)]
    assert not queue and queue.pending == 0
    queue.add(FID, range(0, 60))
    with pytest.raises(FileRuleError, match="64"):
        queue.add(OTHER, range(0, 5))  # 65 asked for and not sent
    queue.add(OTHER, range(0, 4))
    assert queue.pending == 64
    queue.forget(FID)  # the file went: nothing more of it
    assert queue.pending == 4 and queue.peek() == (OTHER, 0)


# -- the frames between the two cores ---------------------------------------------------------


@pytest.fixture
def room(relay_secret: Spake2Secret) -> Room:
    room = Room(relay_secret)
    room.room = proto.Room(
        broadcast_key=BROADCAST_KEY,
        max_message_bytes=MAX_MESSAGE_BYTES,
        files=RoomFiles(MemoryFiles(), max_bytes=10 * FULL),
    )
    return room


def serve(room: Room, pair: Pair) -> list[proto.Event]:
    """Move the bytes, then answer the relay core's file events as the relay's FileService
    does (chunks written at once: memory has no socket to drain); the client's events."""
    pair.shuttle()
    name = next(n for n, p in room.pairs.items() if p is pair)
    uploader = room.room.signing_key_of(name)
    assert uploader is not None
    rules = room.room.files
    for event in pair.relay_events:
        state: FileState | range | None = None
        match event:
            case proto.FileOpenRequested(file_id=file_id, count=count, stored_size=size):
                state = rules.open(
                    pair, uploader, file_id=file_id, count=count, stored_size=size, now_ms=0
                )
            case proto.FileChunkSubmitted(file_id=file_id, index=index, sealed=data):
                state = rules.put(pair, uploader, file_id=file_id, index=index, sealed=data)
            case proto.FileDropRequested(file_id=file_id):
                state = rules.drop(pair, uploader, file_id)
            case proto.FileRequested(file_id=file_id, from_index=first, count=count):
                state = rules.get(file_id=file_id, from_index=first, count=count)
        if isinstance(state, FileState):
            pair.relay.send_file_state(state.file_id, state.code, state.have)
        elif isinstance(state, range):
            for index in state:
                chunk = rules.read(file_id, index)
                assert chunk is not None
                pair.relay.send_file_data(file_id, index, chunk)
    pair.relay_events.clear()
    pair.shuttle()
    events, _ = pair.take()
    return events


def test_welcome_announces_the_room_file_limit(room: Room, room_keys: RoomKeys) -> None:
    alice = room.connect(make_client("alice", room_keys))
    (welcomed,) = [e for e in alice.client_events if isinstance(e, proto.Welcomed)]
    assert welcomed.max_file_bytes == 10 * FULL == alice.client.max_file_bytes


def test_a_room_without_files_announces_zero(relay_secret: Spake2Secret, room_keys: RoomKeys):
    alice = Room(relay_secret).connect(make_client("alice", room_keys))
    assert alice.client.max_file_bytes == 0


def test_upload_and_download_through_the_cores(room: Room, room_keys: RoomKeys) -> None:
    alice = room.connect(make_client("alice", room_keys))
    bob = room.connect(make_client("bob", room_keys))
    room.pump()
    alice.take(), bob.take()
    alice.client.open_file(FID, 2, FULL + 41)
    assert serve(room, alice) == [proto.FileStateReceived(file_id=FID, code=FileCode.OK, have=0)]
    alice.client.put_file_chunk(FID, 0, sealed(fill=1))
    alice.client.put_file_chunk(FID, 1, sealed(41, fill=2))
    assert serve(room, alice) == [
        proto.FileStateReceived(file_id=FID, code=FileCode.OK, have=1),
        proto.FileStateReceived(file_id=FID, code=FileCode.OK, have=2),
    ]
    bob.client.get_file_chunks(FID, 0, 64)
    assert serve(room, bob) == [
        proto.FileDataReceived(file_id=FID, index=0, sealed=sealed(fill=1)),
        proto.FileDataReceived(file_id=FID, index=1, sealed=sealed(41, fill=2)),
    ]
    bob.client.get_file_chunks(FID, 2, 1)
    assert serve(room, bob) == [proto.FileStateReceived(file_id=FID, code=FileCode.OK, have=2)]
    bob.client.drop_file(FID)  # not his
    assert serve(room, bob) == [
        proto.FileStateReceived(file_id=FID, code=FileCode.NOT_YOURS, have=0)
    ]
    alice.client.drop_file(FID)
    assert serve(room, alice) == [
        proto.FileStateReceived(file_id=FID, code=FileCode.NOT_FOUND, have=0)
    ]
    bob.client.get_file_chunks(FID, 0, 1)
    assert serve(room, bob) == [
        proto.FileStateReceived(file_id=FID, code=FileCode.NOT_FOUND, have=0)
    ]
    assert alice.client.state is bob.client.state is proto.ClientState.JOINED


def test_the_client_refuses_bad_values_and_sends_nothing(room: Room, room_keys: RoomKeys):
    alice = room.connect(make_client("alice", room_keys))
    alice.take()
    with pytest.raises(LocalProtocolError):
        alice.client.put_file_chunk(FID, 0, b"x" * 40)
    with pytest.raises(LocalProtocolError):
        alice.client.get_file_chunks(FID, 0, 65)
    with pytest.raises(LocalProtocolError):
        alice.client.open_file(FID, 1, FULL + 1)
    with pytest.raises(LocalProtocolError):
        alice.client.drop_file(FID[:4])
    assert alice.client.data_to_send() == b""


def test_file_methods_before_welcome_are_local_errors(room_keys: RoomKeys) -> None:
    client = make_client("alice", room_keys)
    for call in (
        lambda: client.open_file(FID, 1, FULL),
        lambda: client.put_file_chunk(FID, 0, sealed()),
        lambda: client.drop_file(FID),
        lambda: client.get_file_chunks(FID, 0, 1),
    ):
        with pytest.raises(LocalProtocolError):
            call()


@pytest.mark.parametrize(
    ("frame_type", "payload"),
    [
        (FrameType.FILE_PUT, FID + struct.pack(">I", 0) + b"x" * 40),  # too short a chunk
        (FrameType.FILE_PUT, FID + struct.pack(">I", 0) + b"x" * (FULL + 1)),  # too long
        (FrameType.FILE_GET, FID + struct.pack(">IH", 0, 0)),
        (FrameType.FILE_OPEN, FID + struct.pack(">IQ", 1, 7)),
        (FrameType.FILE_DROP, FID + b"!"),
        (FrameType.FILE_STATE, FID + bytes(5)),  # a relay's frame, from a client
        (FrameType.FILE_DATA, FID + bytes(4) + b"x" * 41),
    ],
)
def test_garbage_file_frames_end_the_connection(
    room: Room, room_keys: RoomKeys, frame_type: FrameType, payload: bytes
) -> None:
    alice = room.connect(make_client("alice", room_keys))
    alice.take()
    alice.client._send_sealed(frame_type, payload)
    alice.shuttle()
    client_events, relay_events = alice.take()
    assert any(isinstance(e, proto.ProtocolViolation) for e in relay_events)
    assert proto.GoodbyeReceived(code=Reason.PROTOCOL_ERROR, text="protocol error") in client_events


def test_garbage_from_the_relay_ends_the_connection(room: Room, room_keys: RoomKeys) -> None:
    alice = room.connect(make_client("alice", room_keys))
    alice.take()
    alice.relay._send_sealed(FrameType.FILE_DATA, FID + bytes(4) + b"x" * 40)
    alice.shuttle()
    client_events, _ = alice.take()
    assert any(isinstance(e, proto.ProtocolViolation) for e in client_events)
    assert alice.client.state is proto.ClientState.FAILED


def test_file_frames_before_joining_are_a_protocol_error(room_keys: RoomKeys, relay_secret):
    # A relay core that has not welcomed the member takes no file frame (nor FILE_DATA from a
    # relay before WELCOME): the state tables of PROTOCOL.md 8.
    pair = Pair(
        make_client("alice", room_keys), make_relay(), credentials=credentials(relay_secret)
    )
    pair.handshake()
    assert pair.relay.state is proto.RelayState.JOIN_PENDING
    pair.client._send_sealed(FrameType.FILE_GET, encode_file_get(FID, 0, 1))
    pair.shuttle()
    _, relay_events = pair.take()
    assert any(isinstance(e, proto.ProtocolViolation) for e in relay_events)
    assert not pair.relay.send_file_state(FID, FileCode.OK, 0)  # failed: nothing is sent
