"""Files through a real relay on 127.0.0.1 (PROTOCOL.md 3.6), with the real client core.

A member uploads a file's sealed chunks (FILE_OPEN, FILE_PUT…), another downloads them
(FILE_GET → FILE_DATA…) and opens them with the file's key; uploads and downloads resume after
the connection drops; a relay restarted on the same room keeps complete files (and uploads in
progress); the room's bound holds (the oldest go, never a live upload); rule breakers are
disconnected while the others carry on; and a 20 MB download to a member that reads slowly
(or not at all for a while) never holds more than a small window of it in the relay's memory.

Clients are :class:`tests.net.wire.WireClient` (the client core over a blocking socket). The
end-to-end chunk crypto is the lead's ``crypto.filechunk``; here it only shows that what comes
back opens, the relay treating every chunk as opaque bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import select
import socket
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from crypto.filechunk import CHUNK_SIZE, open_chunk, seal_chunk
from net import proto
from net.proto import FileCode, Reason
from net.relay import Relay, RelayThread
from net.relay.files import SqliteFiles
from net.relay.fileserve import WINDOW
from net.relay.history import SqliteHistory
from net.relay.member import MemberConnection
from tests.net.relay.support import BASE, RelayFactory, wait_until
from tests.net.wire import TIMEOUT, WireClient

pytestmark = pytest.mark.timeout(120)

FULL = CHUNK_SIZE + 40  # one whole sealed chunk
#: What the relay may hold for one downloading member: its window (256 KiB) and a chunk.
BOUND = 256 * 1024 + 2 * FULL


def file_id(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()[:16]


def opaque_chunks(label: str, count: int, last: int = FULL) -> list[bytes]:
    """``count`` sealed-chunk-sized blobs (the relay cannot tell them from sealed chunks)."""
    seed = hashlib.sha256(label.encode()).digest()
    return [
        (seed + index.to_bytes(4, "big")) * (FULL // 36) + bytes(FULL % 36)
        if index < count - 1
        else bytes([index % 256]) * last
        for index in range(count)
    ]


def state(client: WireClient, fid: bytes) -> proto.FileStateReceived:
    event = client.wait_for(lambda e: isinstance(e, proto.FileStateReceived) and e.file_id == fid)
    assert isinstance(event, proto.FileStateReceived)
    return event


def open_upload(client: WireClient, fid: bytes, chunks: list[bytes]) -> proto.FileStateReceived:
    client.proto.open_file(fid, len(chunks), sum(map(len, chunks)))
    client.flush()
    return state(client, fid)


def put_all(client: WireClient, fid: bytes, chunks: list[bytes], have: int, stop: int = -1) -> int:
    """Send chunks from ``have`` on, at most 16 unanswered (the client rule), until ``stop``
    (default: all) are confirmed; returns the last ``have``."""
    stop = len(chunks) if stop < 0 else stop
    sent = have
    while have < stop:
        while sent < stop and sent - have < proto.MAX_PUTS_AHEAD:
            client.proto.put_file_chunk(fid, sent, chunks[sent])
            sent += 1
        client.flush()
        answer = state(client, fid)
        assert answer.code == FileCode.OK, answer
        have = answer.have
    return have


def upload(client: WireClient, fid: bytes, chunks: list[bytes]) -> None:
    opened = open_upload(client, fid, chunks)
    assert opened.code == FileCode.OK, opened
    assert put_all(client, fid, chunks, opened.have) == len(chunks)


def download(client: WireClient, fid: bytes, first: int, count: int) -> list[bytes]:
    """Chunks ``first`` … ``first + count - 1``, asking for at most 64 at a time."""
    got: list[bytes] = []
    while len(got) < count:
        ask = min(proto.MAX_GET_CHUNKS, count - len(got))
        client.proto.get_file_chunks(fid, first + len(got), ask)
        client.flush()
        for _ in range(ask):
            event = client.wait_type(proto.FileDataReceived)
            assert (event.file_id, event.index) == (fid, first + len(got))
            got.append(event.sealed)
    return got


def member_of(relay: RelayThread, name: str) -> MemberConnection:
    """The relay's connection object of the member called ``name`` (on the relay's loop)."""
    return relay.call(lambda: next(m for m in relay.relay._connections if m.name == name))


def pin_send_buffer(relay: RelayThread, name: str) -> None:
    """A small, fixed kernel send buffer for the relay's socket to ``name``: Linux would grow
    it to 4 MiB while the reader's window is closed, and what the relay holds is then what
    the kernel refused (as in test_relay_abuse)."""

    def pin() -> None:
        member = next(m for m in relay.relay._connections if m.name == name)
        assert member.transport is not None
        member.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )

    relay.call(pin)


# -- upload and download ----------------------------------------------------------------------


def test_a_file_uploaded_by_one_member_is_downloaded_by_another(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    assert alice.proto.max_file_bytes == 100 * 1024 * 1024  # WELCOME's, the default limit
    key, fid = os.urandom(32), file_id("holiday.png")
    content = os.urandom(3 * CHUNK_SIZE + 1234)
    pieces = [content[i : i + CHUNK_SIZE] for i in range(0, len(content), CHUNK_SIZE)]
    sealed = [
        seal_chunk(file_key=key, file_id=fid, index=i, count=len(pieces), chunk=piece)
        for i, piece in enumerate(pieces)
    ]
    upload(alice, fid, sealed)
    got = download(bob, fid, 0, len(sealed))
    opened = b"".join(
        open_chunk(file_key=key, file_id=fid, index=i, count=len(got), sealed=chunk)
        for i, chunk in enumerate(got)
    )
    assert hashlib.sha256(opened).digest() == hashlib.sha256(content).digest()
    # Asking past the end: the state, not data.
    bob.proto.get_file_chunks(fid, len(sealed), 10)
    bob.flush()
    assert state(bob, fid) == proto.FileStateReceived(file_id=fid, code=FileCode.OK, have=4)


def test_a_download_follows_an_upload_in_progress(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    fid, chunks = file_id("live"), opaque_chunks("live", 6)
    have = open_upload(alice, fid, chunks).have
    put_all(alice, fid, chunks, have, stop=2)
    bob.proto.get_file_chunks(fid, 0, 64)
    bob.flush()
    got = [bob.wait_type(proto.FileDataReceived).sealed for _ in range(2)]
    assert got == chunks[:2]
    bob.proto.get_file_chunks(fid, 2, 64)
    bob.flush()
    assert state(bob, fid).have == 2  # nothing further yet: the relay says how far it is


def test_an_upload_resumes_after_the_connection_drops(relays: RelayFactory) -> None:
    relays.start()
    alice = relays.member("alice")
    fid, chunks = file_id("resume up"), opaque_chunks("resume up", 8, last=100)
    have = put_all(alice, fid, chunks, open_upload(alice, fid, chunks).have, stop=3)
    assert have == 3
    # Two more leave, unanswered, and the connection drops under them.
    alice.proto.put_file_chunk(fid, 3, chunks[3])
    alice.proto.put_file_chunk(fid, 4, chunks[4])
    alice.flush()
    alice.sock.close()
    again = relays.member("alice", identity=alice.identity)
    resumed = open_upload(again, fid, chunks)
    assert resumed.code == FileCode.OK and 3 <= resumed.have <= 5
    # What was confirmed (or stored before the drop) is not sent again; a chunk sent twice
    # would be a harmless duplicate anyway.
    assert put_all(again, fid, chunks, resumed.have) == 8
    bob = relays.member("bob")
    assert download(bob, fid, 0, 8) == chunks


def test_a_download_resumes_after_the_connection_drops(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    fid, chunks = file_id("resume down"), opaque_chunks("resume down", 10)
    upload(alice, fid, chunks)
    bob.proto.get_file_chunks(fid, 0, 10)
    bob.flush()
    got = [bob.wait_type(proto.FileDataReceived).sealed for _ in range(4)]
    bob.sock.close()  # with chunks still coming
    bob = relays.member("bob", identity=bob.identity)
    got += download(bob, fid, 4, 6)  # asks again from where it is
    assert got == chunks


def test_another_member_cannot_take_over_or_drop_a_file(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    fid, chunks = file_id("mine"), opaque_chunks("mine", 2)
    upload(alice, fid, chunks)
    assert open_upload(bob, fid, chunks).code == FileCode.NOT_YOURS
    bob.proto.drop_file(fid)
    bob.flush()
    assert state(bob, fid).code == FileCode.NOT_YOURS
    assert download(bob, fid, 0, 2) == chunks
    alice.proto.drop_file(fid)
    alice.flush()
    assert state(alice, fid).code == FileCode.NOT_FOUND
    bob.proto.get_file_chunks(fid, 0, 2)
    bob.flush()
    assert state(bob, fid).code == FileCode.NOT_FOUND


# -- limits -----------------------------------------------------------------------------------


def test_the_rooms_bound_holds(relays: RelayFactory) -> None:
    relay = relays.start(max_file_bytes=5 * FULL)
    alice, bob = relays.member("alice"), relays.member("bob")
    assert alice.proto.max_file_bytes == 5 * FULL
    too_big = opaque_chunks("big", 6)
    assert open_upload(alice, file_id("big"), too_big).code == FileCode.TOO_LARGE
    first, second = opaque_chunks("first", 2), opaque_chunks("second", 2)
    upload(alice, file_id("first"), first)
    upload(bob, file_id("second"), second)
    # Alice starts a third of two chunks and stays: her upload in progress is not evicted.
    third = opaque_chunks("third", 2)
    put_all(alice, file_id("third"), third, open_upload(alice, file_id("third"), third).have, 1)
    # Bob's of three: the first (oldest) file goes to make room, then the second; not hers.
    fourth = opaque_chunks("fourth", 3)
    assert open_upload(bob, file_id("fourth"), fourth).code == FileCode.OK
    bob.proto.get_file_chunks(file_id("first"), 0, 1)
    bob.flush()
    assert state(bob, file_id("first")).code == FileCode.NOT_FOUND
    # Nothing else fits beside her live upload and his: no space, nothing evicted.
    assert open_upload(bob, file_id("fifth"), opaque_chunks("x", 1)).code == FileCode.NO_SPACE
    put_all(alice, file_id("third"), third, 1)
    used = relay.call(lambda: relay.relay.room.files.store.used)  # type: ignore[union-attr]
    assert used <= 5 * FULL


def test_a_relay_without_files_says_so(relays: RelayFactory) -> None:
    relay = relays.start(max_file_bytes=0)
    alice = relays.member("alice")
    assert alice.proto.max_file_bytes == 0
    assert open_upload(alice, file_id("x"), opaque_chunks("x", 1)).code == FileCode.FILES_OFF
    alice.proto.get_file_chunks(file_id("x"), 0, 1)
    alice.flush()
    assert state(alice, file_id("x")).code == FileCode.FILES_OFF
    assert relay.call(lambda: relay.relay.rooms[relay.relay.secret.room_id].file_store) is None


def test_file_opens_count_against_the_message_rate(relays: RelayFactory) -> None:
    relays.start(message_rate=0.001, message_burst=2)
    alice = relays.member("alice")
    for n in range(3):
        alice.proto.open_file(file_id(f"n{n}"), 1, 41)
    alice.flush()
    notice = alice.wait_type(proto.NoticeReceived)
    assert notice.code == Reason.RATE_LIMITED


def test_file_gets_have_a_budget_of_their_own(relays: RelayFactory) -> None:
    # A download asks again every few MB: that must not spend the member's message rate (a
    # downloading member was told to slow down). Lookups that find nothing are bounded by a
    # budget of their own: 128 at once, then 64 a second.
    relays.start(message_rate=0.001, message_burst=2)
    alice = relays.member("alice")
    for n in range(100):
        alice.proto.get_file_chunks(file_id(f"g{n}"), 0, 1)
    alice.flush()
    for n in range(100):
        assert state(alice, file_id(f"g{n}")).code == FileCode.NOT_FOUND
    alice.say("still within the message rate")
    alice.hear("still within the message rate")
    for n in range(200):
        alice.proto.get_file_chunks(file_id(f"h{n}"), 0, 1)
    alice.flush()
    notice = alice.wait_type(proto.NoticeReceived)
    assert notice.code == Reason.RATE_LIMITED


# -- rule breakers ----------------------------------------------------------------------------


def _breaks(client: WireClient, others: WireClient) -> None:
    goodbye = client.wait_type(proto.GoodbyeReceived)
    assert goodbye.code == Reason.PROTOCOL_ERROR
    departed = others.wait_type(proto.MemberDeparted)
    assert (departed.name, departed.code) == (client.proto.username, Reason.PROTOCOL_ERROR)


def test_a_chunk_out_of_order_ends_the_connection(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    fid, chunks = file_id("order"), opaque_chunks("order", 4)
    assert open_upload(alice, fid, chunks).have == 0
    alice.proto.put_file_chunk(fid, 1, chunks[1])  # 0 first
    alice.flush()
    _breaks(alice, bob)
    bob.say("still here")
    bob.hear("still here")


def test_a_running_total_above_stored_size_ends_the_connection(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    fid = file_id("total")
    alice.proto.open_file(fid, 2, FULL + 41)
    alice.flush()
    assert state(alice, fid).code == FileCode.OK
    alice.proto.put_file_chunk(fid, 0, bytes(FULL))
    alice.proto.put_file_chunk(fid, 1, bytes(42))  # one byte more than announced
    alice.flush()
    _breaks(alice, bob)


def test_a_chunk_of_the_wrong_size_ends_the_connection(relays: RelayFactory) -> None:
    relays.start()
    alice, bob = relays.member("alice"), relays.member("bob")
    fid = file_id("runt")
    alice.proto.open_file(fid, 1, 100)
    alice.flush()
    assert state(alice, fid).code == FileCode.OK
    alice.proto._send_sealed(
        proto.FrameType.FILE_PUT, fid + bytes(4) + bytes(proto.MIN_SEALED_CHUNK - 1)
    )
    alice.flush()
    _breaks(alice, bob)


def test_asking_for_more_than_64_chunks_at_once_ends_the_connection(relays: RelayFactory):
    relays.start()
    alice = relays.member("alice")
    bob = relays.member("bob", rcvbuf=4096, serves=False)  # reads nothing meanwhile
    fid, chunks = file_id("greedy"), opaque_chunks("greedy", 90)
    upload(alice, fid, chunks)
    # 90 asked for in one write: the relay writes at most a batch (16) of the first 64 before
    # it reads the second request, so more than 64 are asked for and not received.
    bob.proto.get_file_chunks(fid, 0, 64)
    bob.proto.get_file_chunks(fid, 64, 26)
    bob.flush()
    departed = alice.wait_type(proto.MemberDeparted)
    assert (departed.name, departed.code) == ("bob", Reason.PROTOCOL_ERROR)


# -- restarts ---------------------------------------------------------------------------------


def test_a_restarted_relay_keeps_complete_files_and_uploads_in_progress(
    relays: RelayFactory, tmp_path: Path
) -> None:
    config = dataclasses.replace(BASE)
    secret = relays.secret

    def start() -> RelayThread:
        thread = RelayThread(secret, config)
        thread.relay = Relay(
            secret,
            config,
            history=SqliteHistory(tmp_path / "r.history.sqlite3", room_id=secret.room_id),
            files=SqliteFiles(tmp_path / "r.files.sqlite3", room_id=secret.room_id),
        )
        relays.port = thread.start()
        relays.relays.append(thread)
        return thread

    first = start()
    alice = relays.member("alice")
    done, done_chunks = file_id("done"), opaque_chunks("done", 3, last=77)
    part, part_chunks = file_id("part"), opaque_chunks("part", 5)
    upload(alice, done, done_chunks)
    put_all(alice, part, part_chunks, open_upload(alice, part, part_chunks).have, stop=2)
    first.stop(reason=Reason.RELAY_RESTARTING)
    start()
    bob = relays.member("bob")
    assert download(bob, done, 0, 3) == done_chunks
    alice = relays.member("alice", identity=alice.identity)
    resumed = open_upload(alice, part, part_chunks)
    assert (resumed.code, resumed.have) == (FileCode.OK, 2)
    put_all(alice, part, part_chunks, 2)
    assert download(bob, part, 0, 5) == part_chunks


def test_a_room_without_a_room_file_deletes_its_files_when_it_stops(relays: RelayFactory):
    relay = relays.start()
    alice = relays.member("alice")
    upload(alice, file_id("tmp"), opaque_chunks("tmp", 2))
    store = relay.call(lambda: relay.relay.rooms[relay.relay.secret.room_id].file_store)
    assert isinstance(store, SqliteFiles) and store.temporary
    where = store.path
    assert where is not None and where.exists()
    relay.stop()
    assert not where.exists()


# -- the relay's memory does not grow with a file ------------------------------------------


class SlowReader:
    """A member that downloads by hand: it reads at its own pace, keeps nothing but a hash of
    what came, and can stop reading for a while."""

    def __init__(self, client: WireClient) -> None:
        self.client = client
        self.received = 0
        self.digest = hashlib.sha256()
        self.states: list[proto.FileStateReceived] = []

    def read_some(self, size: int, timeout: float = TIMEOUT) -> None:
        ready, _, _ = select.select([self.client.sock], [], [], timeout)
        assert ready, "the relay sent nothing"
        data = self.client.sock.recv(size)
        assert data, "the relay closed the connection"
        self.client.proto.receive_data(data)
        for event in self.client.proto.events_received():
            if isinstance(event, proto.FileDataReceived):
                assert event.index == self.received
                self.digest.update(event.sealed)
                self.received += 1
            elif isinstance(event, proto.FileStateReceived):
                self.states.append(event)
            elif isinstance(event, proto.GoodbyeReceived | proto.ProtocolViolation):
                raise AssertionError(f"dropped: {event}")
        self.client.flush_quietly()  # PONGs


def test_a_20_mb_download_to_a_slow_reader_stays_within_a_window(relays: RelayFactory) -> None:
    relay = relays.start(max_file_bytes=32 * 1024 * 1024)
    alice = relays.member("alice")
    count = 20 * 1024 * 1024 // FULL + 1  # 328 chunks: 21 MB stored
    fid = file_id("big")
    hashed = hashlib.sha256()
    alice.proto.open_file(fid, count, count * FULL)
    alice.flush()
    assert state(alice, fid).code == FileCode.OK
    chunk = opaque_chunks("big", 2)[0]
    have = sent = 0
    while have < count:  # the same blob each time: the uploader holds one chunk, not 20 MB
        while sent < count and sent - have < proto.MAX_PUTS_AHEAD:
            alice.proto.put_file_chunk(fid, sent, chunk)
            hashed.update(chunk)
            sent += 1
        alice.flush()
        have = state(alice, fid).have
    alice.events.clear()

    bob = relays.member("bob", rcvbuf=16384, serves=False)
    pin_send_buffer(relay, "bob")
    reader = SlowReader(bob)

    def conn() -> int:
        transport = member_of(relay, "bob").transport
        assert transport is not None
        return transport.get_write_buffer_size()

    buffered: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                buffered.append(conn())
            except (StopIteration, AssertionError, RuntimeError):
                return
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    try:
        sampler.start()
        asked = 0
        bob.proto.get_file_chunks(fid, 0, 64)
        bob.flush()
        asked = 64
        # First it does not read at all for a while: the relay must neither buffer the 64
        # chunks asked for (4 MB) nor drop it as a slow reader.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            stop.wait(0.02)
        assert max(buffered) <= BOUND
        while reader.received < count:
            reader.read_some(16384)
            time.sleep(0.0002)  # a slow reader: a little at a time
            if asked - reader.received <= 32 and asked < count:  # half received: ask again
                more = min(32, count - asked)
                bob.proto.get_file_chunks(fid, asked, more)
                bob.flush()
                asked += more
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        stop.set()
        sampler.join(5)
    assert reader.digest.digest() == hashed.digest()
    assert len(buffered) > 50, "too few samples to say anything"
    # What the relay held for bob never passed the window and one chunk (64 asked for at a
    # time is 4 MB; the file is 21 MB), and the whole process's Python allocations (relay,
    # uploader and reader together) stayed far below the file's size.
    assert max(buffered) <= BOUND, max(buffered)
    assert peak < 6 * 1024 * 1024, peak
    bob.proto.get_file_chunks(fid, count, 1)
    bob.flush()
    while not reader.states:
        reader.read_some(65536)
    assert reader.states[-1] == proto.FileStateReceived(file_id=fid, code=FileCode.OK, have=count)


@pytest.mark.parametrize("traffic", ["broadcasts", "replies it provokes"])
def test_a_member_that_stops_reading_is_still_dropped_for_other_traffic(
    relays: RelayFactory, traffic: str
) -> None:
    # While a download waits at its window (asyncio then says nothing more about the buffer),
    # what else comes for the member is held to the usual limit: one that reads nothing is
    # dropped as a slow reader, whether the bytes are broadcasts or PONGs it asked for.
    relay = relays.start(write_buffer_limit=WINDOW + 2 * FULL, message_rate=1e6, message_burst=1e6)
    alice = relays.member("alice")
    bob = relays.member("bob", rcvbuf=4096, serves=False)
    pin_send_buffer(relay, "bob")
    fid, chunks = file_id("stuck"), opaque_chunks("stuck", 20)
    upload(alice, fid, chunks)
    bob.proto.get_file_chunks(fid, 0, 20)
    bob.flush()
    wait_until(lambda: getattr(member_of(relay, "bob").downloads, "paused", False))
    if traffic == "broadcasts":
        alice.say(*["x" * 3900] * 60)  # ~240 KB of chat, which bob never reads
    else:
        for token in range(10_000):  # ~290 KB of PONGs, which bob never reads
            bob.proto.send_ping(token)
        bob.flush_quietly()
    departed = alice.wait_for(
        lambda e: isinstance(e, proto.MemberDeparted) and e.name == "bob", timeout=20
    )
    assert isinstance(departed, proto.MemberDeparted) and departed.code == Reason.SLOW_READER
