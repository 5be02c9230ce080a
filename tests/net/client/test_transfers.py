"""Files sent and saved with the real client library through a real relay on 127.0.0.1.

Each test checks a promise of ``ChatClient.send_file`` / ``download`` / ``cancel_transfer``
(net.client.transfers): the file arrives whole and checked, a dropped connection resumes
where the relay got to (upload) or where the ``.part`` ends (download), a cancel or a failure
leaves nothing behind, a tampered chunk or a wrong hash is refused (CORRUPT, no file), and
nothing is ever written over an existing file or through a link. Waiting is on events.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crypto.identity import Identity
from net.client import ChatClient, _transfer_upload
from net.client import events as ce
from net.client import transfers as transfers_module
from net.client._transfer_upload import Upload
from net.client.events import TransferError
from net.proto import CHUNK_SIZE, FileOffer
from net.relay import RelayConfig, RelayThread
from tests.net.client_support import CHEAP, Recorder, nth
from tests.net.client_support import is_ as _is
from tests.net.proxy import RecordingProxy
from tests.net.relay.support import ManualClock, wait_until

MB = 1_000_000


@pytest.fixture(autouse=True)
def every_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chunk reports progress (not ten a second), so a hook can act after the first;
    test_progress_is_reported_at_most_ten_times_a_second keeps the real pace."""
    monkeypatch.setattr(transfers_module, "PROGRESS_EVERY", 0.0)


def _moved(event: ce.ClientEvent) -> bool:
    """Progress past the start: the relay holds (or this device wrote) a first chunk."""
    return isinstance(event, ce.TransferProgress) and event.done_bytes > 0


class Hooked(Recorder):
    """A Recorder that runs ``action`` once, on the client's worker thread, as the first event
    matching ``when`` is delivered: before the worker goes on (mute a proxy mid-transfer)."""

    def __init__(self) -> None:
        super().__init__()
        self._hooks: list[tuple[Callable[[ce.ClientEvent], bool], Callable[[], object]]] = []

    def on(self, when: Callable[[ce.ClientEvent], bool], action: Callable[[], object]) -> None:
        self._hooks.append((when, action))

    def __call__(self, event: ce.ClientEvent) -> None:
        super().__call__(event)
        for hook in list(self._hooks):
            if hook[0](event):
                self._hooks.remove(hook)
                hook[1]()


def _file(folder: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = folder / name
    path.write_bytes(data)
    return path, data


def _offer(events: Recorder, name: str | None = None) -> ce.MessageReceived:
    def match(event: ce.ClientEvent) -> bool:
        return (
            isinstance(event, ce.MessageReceived)
            and isinstance(event.content, ce.FileContent)
            and (name is None or event.content.offer.name == name)
        )

    return events.wait_for(match)


def _ended(events: Recorder, transfer_id: bytes) -> ce.TransferFinished | ce.TransferFailed:
    return events.wait_for(
        lambda e: (
            isinstance(e, ce.TransferFinished | ce.TransferFailed) and e.transfer_id == transfer_id
        )
    )


def _progress(transfer_id: bytes) -> Callable[[ce.ClientEvent], bool]:
    return lambda e: (
        isinstance(e, ce.TransferProgress) and e.transfer_id == transfer_id and e.done_bytes > 0
    )


def _member(clients, port: int, name: str, room_keys) -> tuple[ChatClient, Hooked]:
    """A started client with a Hooked recorder, closed (and checked) by ``clients``."""
    events = Hooked()
    client = ChatClient(
        host="127.0.0.1",
        port=port,
        username=name,
        on_event=events,
        keys=room_keys,
        identity=Identity.generate(),
        kdf_cost=CHEAP,
    )
    clients.made.append(client)
    client.start()
    events.wait_for(_is(ce.Joined))
    return client, events


def _room(clients, room_keys, alice_port: int, bob_port: int):
    """alice and bob joined, each on its own port (the relay, or a proxy in front of it)."""
    alice, alice_events = _member(clients, alice_port, "alice", room_keys)
    bob, bob_events = _member(clients, bob_port, "bob", room_keys)
    return alice, alice_events, bob, bob_events


def _send(alice, alice_events, path: Path) -> tuple[bytes, ce.TransferFinished]:
    transfer_id = alice.send_file(path)
    done = _ended(alice_events, transfer_id)
    assert isinstance(done, ce.TransferFinished), done
    return transfer_id, done


def _save(
    bob, bob_events, message_id: bytes, dest: Path
) -> ce.TransferFinished | ce.TransferFailed:
    return _ended(bob_events, bob.download(message_id, dest))


def test_a_file_of_many_chunks_arrives_whole_and_checked(relay, clients, room_keys, tmp_path):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    path, data = _file(tmp_path, "report.pdf", 3 * MB + 123)  # 47 chunks, the last one short
    transfer_id, done = _send(alice, alice_events, path)
    assert done.path == path and done.upload and done.name == "report.pdf"
    # The offer follows the path of every message: stored, then echoed.
    alice_events.wait_for(_is(ce.MessageStored, message_id=done.message_id))
    echo = _offer(alice_events)
    assert echo.own and echo.message_id == done.message_id
    progress = [e for e in alice_events.of(ce.TransferProgress) if e.transfer_id == transfer_id]
    assert progress and all(e.total_bytes == len(data) and e.upload for e in progress)
    assert progress[-1].done_bytes == len(data)

    received = _offer(bob_events)
    offer = received.content.offer
    assert (offer.name, offer.size, offer.media_type) == (
        "report.pdf",
        len(data),
        "application/pdf",
    )
    assert offer.sha256 == hashlib.sha256(data).digest()
    assert received.text == "report.pdf" and received.message_id == done.message_id
    dest = tmp_path / "saved" / "report.pdf"
    dest.parent.mkdir()
    saved = _save(bob, bob_events, received.message_id, dest)
    assert isinstance(saved, ce.TransferFinished) and saved.path == dest and not saved.upload
    assert dest.read_bytes() == data
    assert os.listdir(dest.parent) == ["report.pdf"]  # no .part left
    assert not os.stat(dest).st_mode & 0o111  # never executable


def test_an_empty_file_and_a_one_byte_file_go_too(relay, clients, room_keys, tmp_path):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    for name, size in (("empty.txt", 0), ("one.txt", 1)):
        path, data = _file(tmp_path, name, size)
        _send(alice, alice_events, path)
        received = _offer(bob_events, name)
        dest = tmp_path / f"got-{name}"
        assert isinstance(_save(bob, bob_events, received.message_id, dest), ce.TransferFinished)
        assert dest.read_bytes() == data


def test_an_upload_resumes_where_the_relay_got_to_after_the_connection_drops(
    relay, clients, room_keys, tmp_path
):
    proxy = RecordingProxy(("127.0.0.1", relay.port))
    try:
        alice, alice_events, bob, bob_events = _room(clients, room_keys, proxy.port, relay.port)
        path, data = _file(tmp_path, "video.mp4", 40 * CHUNK_SIZE)
        # As soon as the relay confirms a first chunk, its answers stop reaching alice: she
        # sends up to 16 chunks ahead and waits; the relay stores them all.
        alice_events.on(_moved, proxy.mute)
        transfer_id = alice.send_file(path)
        alice_events.wait_for(_progress(transfer_id))
        # At least the first chunk confirmed, then 16 ahead: all stored, none confirmed to
        # alice; she waits for answers that do not come.
        held = _settled(lambda: _chunks_held(relay))
        assert 17 <= held < 40
        proxy.cut()
        alice_events.wait_for(nth(ce.Disconnected, 1))
        wait_until(lambda: "alice" not in relay.stats().members, what="the old connection")
        alice.retry_now()
        done = _ended(alice_events, transfer_id)
        assert isinstance(done, ce.TransferFinished), done
        # Resumed from the relay's count, not from the start: the file's size crossed the
        # proxy once (sealing, framing and two handshakes add well under a chunk), not the
        # file plus the 17 chunks held again.
        assert len(proxy.captured()[0]) < len(data) + CHUNK_SIZE
        received = _offer(bob_events)
        dest = tmp_path / "got.mp4"
        assert isinstance(_save(bob, bob_events, received.message_id, dest), ce.TransferFinished)
        assert dest.read_bytes() == data
    finally:
        proxy.close()


def test_a_download_resumes_from_its_part_file_after_the_connection_drops(
    relay, clients, room_keys, tmp_path
):
    proxy = RecordingProxy(("127.0.0.1", relay.port))
    try:
        alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, proxy.port)
        path, data = _file(tmp_path, "archive.zip", 150 * CHUNK_SIZE + 7)
        _send(alice, alice_events, path)
        received = _offer(bob_events)
        dest = tmp_path / "got.zip"
        part = tmp_path / "got.zip.part"
        bob_events.on(_moved, proxy.mute)
        transfer_id = bob.download(received.message_id, dest)
        bob_events.wait_for(_progress(transfer_id))
        proxy.cut()
        bob_events.wait_for(nth(ce.Disconnected, 1))
        written = part.stat().st_size
        assert 0 < written < len(data) and written % CHUNK_SIZE == 0
        assert not dest.exists()
        wait_until(lambda: "bob" not in relay.stats().members, what="the old connection")
        bob.retry_now()
        done = _ended(bob_events, transfer_id)
        # Resumed after what the .part holds (it is appended to, never rewritten: a restart
        # from chunk 0 would not match the file's hash).
        assert isinstance(done, ce.TransferFinished), done
        assert dest.read_bytes() == data and not part.exists()
    finally:
        proxy.close()


def test_cancelling_an_upload_sends_no_offer_and_frees_the_relay(
    relay, clients, room_keys, tmp_path
):
    alice, alice_events, _bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    path, _ = _file(tmp_path, "big.bin", 200 * CHUNK_SIZE)
    transfer_id = None

    def cancel() -> None:
        assert transfer_id is not None
        alice.cancel_transfer(transfer_id)

    alice_events.on(_moved, cancel)
    transfer_id = alice.send_file(path)
    failed = _ended(alice_events, transfer_id)
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.CANCELLED
    assert failed.upload and failed.detail
    alice.cancel_transfer(transfer_id)  # ended already: nothing happens
    wait_until(lambda: _files_held(relay) == 0, what="the relay dropping the upload")
    alice.send("after the cancel")
    bob_events.wait_for(_is(ce.MessageReceived, text="after the cancel"))
    assert not [
        e for e in bob_events.of(ce.MessageReceived) if isinstance(e.content, ce.FileContent)
    ]
    events_after = [
        e for e in alice_events.events if getattr(e, "transfer_id", None) == transfer_id
    ]
    assert events_after[-1] is failed  # nothing about it after its last event


def test_cancelling_a_download_deletes_the_part_and_it_can_start_again(
    relay, clients, room_keys, tmp_path
):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    path, data = _file(tmp_path, "big.bin", 300 * CHUNK_SIZE)
    _send(alice, alice_events, path)
    received = _offer(bob_events)
    dest = tmp_path / "got.bin"
    first = None

    def cancel() -> None:
        assert first is not None
        bob.cancel_transfer(first)

    bob_events.on(_moved, cancel)
    first = bob.download(received.message_id, dest)
    failed = _ended(bob_events, first)
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.CANCELLED
    assert not failed.upload
    assert not dest.exists() and not (tmp_path / "got.bin.part").exists()
    # At once, on the same connection, while chunks asked for the first may still come.
    again = _save(bob, bob_events, received.message_id, dest)
    assert isinstance(again, ce.TransferFinished), again
    assert dest.read_bytes() == data


def _settled(measure: Callable[[], int], quiet: float = 0.3) -> int:
    """``measure``'s value once it has not changed for ``quiet`` seconds (at most 10 s)."""
    deadline = time.monotonic() + 10
    value, since = measure(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = measure()
        if now != value:
            value, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return value
    raise AssertionError(f"still changing after 10 s: {value}")


def _chunks_held(relay: RelayThread) -> int:
    """How many chunks the relay's rooms keep, over every file."""

    def count() -> int:
        stores = [room.file_store for room in relay.relay._rooms.values()]
        return sum(f.have for store in stores if store is not None for f in store.files())

    return relay.call(count)


def _files_held(relay: RelayThread) -> int:
    """How many files the relay's rooms keep (complete or not)."""

    def count() -> int:
        stores = [room.file_store for room in relay.relay._rooms.values()]
        return sum(len(store) for store in stores if store is not None)

    return relay.call(count)


def test_a_file_over_the_rooms_limit_or_in_a_room_without_files_is_refused_at_once(
    secret, clients, room_keys, tmp_path
):
    small = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, max_file_bytes=2 * MB))
    small.port = small.start()
    try:
        alice, events = clients(small.port, "alice", keys=room_keys)
        events.wait_for(_is(ce.Joined))
        assert alice.max_file_bytes == 2 * MB
        path, _ = _file(tmp_path, "large.iso", 2 * MB)  # over it once sealed (40 B a chunk)
        with pytest.raises(ValueError, match="too large for this room"):
            alice.send_file(path)
        fits, _ = _file(tmp_path, "fits.bin", 2 * MB - 40 * 32)
        done = _ended(events, alice.send_file(fits))
        assert isinstance(done, ce.TransferFinished)
    finally:
        small.stop()
    closed = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, max_file_bytes=0))
    closed.port = closed.start()
    try:
        bob, events = clients(closed.port, "bob", keys=room_keys)
        events.wait_for(_is(ce.Joined))
        assert bob.max_file_bytes == 0
        with pytest.raises(ValueError, match="does not keep files"):
            bob.send_file(fits)
    finally:
        closed.stop()


def test_what_cannot_be_sent_is_refused_at_once_in_words(relay, clients, room_keys, tmp_path):
    alice, events = clients(relay.port, "alice", keys=room_keys, start=False)
    with pytest.raises(ValueError, match="once the room is joined"):
        alice.send_file(tmp_path)
    alice.start()
    events.wait_for(_is(ce.Joined))
    with pytest.raises(ValueError, match="no file named"):
        alice.send_file(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="is a folder"):
        alice.send_file(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        alice.send_file(tmp_path / "pipe")  # refused, and opening it did not hang
    with pytest.raises(ValueError, match="not a file this device has seen"):
        alice.download(b"\1" * 16, tmp_path / "x")
    with pytest.raises(ValueError, match="not in the room"):
        alice.send_file(tmp_path / "pipe", private_to=b"\2" * 32)
    alice.close()
    with pytest.raises(ValueError):
        alice.send_file(tmp_path / "missing.txt")


def test_a_tampered_chunk_fails_as_corrupt_and_leaves_no_file(
    relay, clients, room_keys, tmp_path, monkeypatch
):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    sealed = _transfer_upload.seal_chunk

    def altered(**fields: Any) -> bytes:
        data = bytearray(sealed(**fields))
        if fields["index"] == 5:
            data[100] ^= 1  # as a relay that flips a bit of what it stores would serve it
        return bytes(data)

    monkeypatch.setattr(_transfer_upload, "seal_chunk", altered)
    path, _ = _file(tmp_path, "photo.jpg", 20 * CHUNK_SIZE)
    _send(alice, alice_events, path)
    received = _offer(bob_events)
    dest = tmp_path / "got.jpg"
    failed = _save(bob, bob_events, received.message_id, dest)
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.CORRUPT
    assert not dest.exists() and not (tmp_path / "got.jpg.part").exists()


def test_a_wrong_hash_in_the_offer_fails_as_corrupt_and_leaves_no_file(
    relay, clients, room_keys, tmp_path, monkeypatch
):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    honest = Upload.offer

    def lying(self: Upload) -> FileOffer:
        offer = honest(self)
        return FileOffer(
            file_id=offer.file_id,
            file_key=offer.file_key,
            size=offer.size,
            sha256=hashlib.sha256(b"another file").digest(),
            name=offer.name,
            media_type=offer.media_type,
        )

    monkeypatch.setattr(Upload, "offer", lying)
    path, _ = _file(tmp_path, "notes.txt", 5 * CHUNK_SIZE)
    _send(alice, alice_events, path)
    received = _offer(bob_events)
    dest = tmp_path / "got.txt"
    failed = _save(bob, bob_events, received.message_id, dest)
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.CORRUPT
    assert "hash" in failed.detail
    assert not dest.exists() and not (tmp_path / "got.txt.part").exists()


def test_an_existing_file_or_link_is_never_written_over_or_through(
    relay, clients, room_keys, tmp_path
):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    path, data = _file(tmp_path, "doc.txt", 10 * CHUNK_SIZE)
    _send(alice, alice_events, path)
    message_id = _offer(bob_events).message_id
    mine = tmp_path / "mine.txt"
    mine.write_bytes(b"my own file")
    with pytest.raises(ValueError, match="exists already"):
        bob.download(message_id, mine)
    # A link where the .part would go: refused, and its target untouched.
    target = tmp_path / "target.txt"
    target.write_bytes(b"target")
    (tmp_path / "linked.txt.part").symlink_to(target)
    with pytest.raises(ValueError, match="exists already"):
        bob.download(message_id, tmp_path / "linked.txt")
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="exists already"):
        bob.download(message_id, dangling)
    assert not (tmp_path / "nowhere").exists()
    # A file that appears at the destination while the download runs is kept; the download
    # fails rather than replace it.
    late = tmp_path / "late.txt"
    bob_events.on(
        lambda e: _moved(e) and not e.upload,
        lambda: late.write_bytes(b"came first"),
    )
    failed = _save(bob, bob_events, message_id, late)
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.IO
    assert late.read_bytes() == b"came first" and not (tmp_path / "late.txt.part").exists()
    assert mine.read_bytes() == b"my own file" and target.read_bytes() == b"target"
    ok = _save(bob, bob_events, message_id, tmp_path / "ok.txt")
    assert isinstance(ok, ce.TransferFinished) and (tmp_path / "ok.txt").read_bytes() == data


def test_a_file_that_changes_while_it_is_sent_fails_and_offers_nothing(
    relay, clients, room_keys, tmp_path
):
    alice, alice_events = _member(clients, relay.port, "alice", room_keys)
    path, _ = _file(tmp_path, "log.txt", 100 * CHUNK_SIZE)

    def grow() -> None:
        with path.open("ab") as log:
            log.write(b"one more line\n")

    alice_events.on(_moved, grow)
    failed = _ended(alice_events, alice.send_file(path))
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.IO
    assert "changed" in failed.detail
    wait_until(lambda: _files_held(relay) == 0, what="the relay dropping the upload")


def test_closing_the_client_stops_its_transfers_and_removes_the_part(
    relay, clients, room_keys, tmp_path
):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    path, _ = _file(tmp_path, "big.bin", 400 * CHUNK_SIZE)
    _send(alice, alice_events, path)
    received = _offer(bob_events)
    bob_events.on(_moved, lambda: None)
    transfer_id = bob.download(received.message_id, tmp_path / "got.bin")
    upload_id = bob.send_file(path)
    bob.close()
    for tid in (transfer_id, upload_id):
        failed = _ended(bob_events, tid)
        assert isinstance(failed, ce.TransferFailed), failed
        assert failed.reason in (TransferError.STOPPED,)
    assert not (tmp_path / "got.bin").exists() and not (tmp_path / "got.bin.part").exists()


def test_progress_is_reported_at_most_ten_times_a_second(
    relay, clients, room_keys, tmp_path, monkeypatch
):
    monkeypatch.setattr(transfers_module, "PROGRESS_EVERY", 0.1)
    clock = ManualClock()  # held still: no 0.1 s ever passes
    alice, events = clients(relay.port, "alice", keys=room_keys, clock=clock)
    events.wait_for(_is(ce.Joined))
    path, data = _file(tmp_path, "many.bin", 30 * CHUNK_SIZE)
    transfer_id = alice.send_file(path)
    assert isinstance(_ended(events, transfer_id), ce.TransferFinished)
    progress = [e.done_bytes for e in events.of(ce.TransferProgress)]
    assert progress == [0, len(data)]  # the start, and the end (always said)


def test_a_file_sent_privately_reaches_only_its_recipient(relay, clients, room_keys, tmp_path):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    carol, carol_events = _member(clients, relay.port, "carol", room_keys)
    alice_events.wait_for(_is(ce.MemberJoined, name="carol"))
    path, data = _file(tmp_path, "for bob.txt", 3 * CHUNK_SIZE)
    transfer_id = alice.send_file(path, private_to=bob.identity.signing_public)
    done = _ended(alice_events, transfer_id)
    assert isinstance(done, ce.TransferFinished), done
    received = _offer(bob_events)
    assert received.private_with == alice.identity.signing_public
    assert received.content.offer.name == "for bob.txt"
    own = _offer(alice_events)
    assert own.private_with == bob.identity.signing_public and own.own
    dest = tmp_path / "got.txt"
    assert isinstance(_save(bob, bob_events, received.message_id, dest), ce.TransferFinished)
    assert dest.read_bytes() == data
    alice.send("after the private file")
    carol_events.wait_for(_is(ce.MessageReceived, text="after the private file"))
    assert [e.text for e in carol_events.of(ce.MessageReceived)] == ["after the private file"]
    with pytest.raises(ValueError, match="not a file this device has seen"):
        carol.download(received.message_id, tmp_path / "carol.txt")


def test_a_file_the_relay_no_longer_holds_fails_as_gone(secret, clients, room_keys, tmp_path):
    small = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, max_file_bytes=3 * MB))
    small.port = small.start()
    try:
        alice, alice_events, bob, bob_events = _room(clients, room_keys, small.port, small.port)
        first, _ = _file(tmp_path, "first.bin", 2 * MB)
        second, _ = _file(tmp_path, "second.bin", 2 * MB)
        _send(alice, alice_events, first)
        old = _offer(bob_events, "first.bin")
        _send(alice, alice_events, second)  # the room keeps 3 MB: the first file makes room
        _offer(bob_events, "second.bin")
        dest = tmp_path / "got.bin"
        failed = _save(bob, bob_events, old.message_id, dest)
        assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.GONE
        assert not dest.exists() and not (tmp_path / "got.bin.part").exists()
    finally:
        small.stop()


def test_a_relay_that_serves_an_altered_chunk_leaves_no_file(relay, clients, room_keys, tmp_path):
    alice, alice_events, bob, bob_events = _room(clients, room_keys, relay.port, relay.port)
    path, _ = _file(tmp_path, "contract.pdf", 12 * CHUNK_SIZE)
    _send(alice, alice_events, path)
    received = _offer(bob_events)
    file_id = received.content.offer.file_id

    def alter() -> None:  # on the relay's loop: flip a bit of chunk 7 where it is stored
        (store,) = [r.file_store for r in relay.relay._rooms.values() if r.file_store]
        stored = store.read(file_id, 7)
        altered = bytearray(stored)
        altered[500] ^= 0x40
        store._db.execute("UPDATE chunks SET data = ? WHERE data = ?", (bytes(altered), stored))

    relay.call(alter)
    dest = tmp_path / "got.pdf"
    failed = _save(bob, bob_events, received.message_id, dest)
    assert isinstance(failed, ce.TransferFailed) and failed.reason is TransferError.CORRUPT
    assert "altered" in failed.detail
    assert not dest.exists() and not (tmp_path / "got.pdf.part").exists()
