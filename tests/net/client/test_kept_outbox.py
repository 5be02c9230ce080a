"""The outbox and the room's position kept in the device's archive (a real SQLite file).

What a client with an ``archive`` promises: a message is in the archive's outbox when
``send()`` returns and leaves it once the relay confirms it; a new client for the room (the
next run, or a Rejoin after the room closed) sends what was left, with the same ids, and
resumes after the newest recorded position, so nothing is shown twice and nothing is missed.
Real relay on 127.0.0.1, real archive files; the test reads the file through an Archive of
its own, as another process would.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from bench.faultproxy import FaultProxy
from crypto.identity import Identity
from net.client import ChatClient, ClientStopped
from net.client import events as ce
from net.client.archive import Archive, ArchiveKeyError
from net.proto import DEFAULT_ROOM, Reason
from net.relay import RelayConfig, RelayThread
from tests.net.client.test_delivery import _goodbye_everyone, _sync
from tests.net.client_support import Recorder, nth
from tests.net.client_support import is_ as _is
from tests.net.relay.support import wait_until


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / "device" / "history.sqlite3"


def _opener(history: Path, key: bytes):
    return functools.partial(Archive.open, history, key)


def _outgoing(history: Path, key: bytes, room: bytes) -> list[bytes]:
    with Archive.open(history, key) as archive:
        return [m.message_id for m in archive.outgoing(room)]


def _recorded(history: Path, key: bytes, room: bytes):
    with Archive.open(history, key) as archive:
        return archive.latest(room, 1000)


def test_a_message_is_on_disk_when_send_returns_and_goes_out_from_the_next_run(
    relay, proxy, clients, room_keys, history, key
):
    room = room_keys.room_id
    alice_identity = Identity.generate()
    alice, alice_events = clients(
        proxy.port,
        "alice",
        keys=room_keys,
        identity=alice_identity,
        room_id=room,
        archive=_opener(history, key),
    )
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))

    confirmed = alice.send("confirmed at once")
    alice_events.wait_for(_is(ce.MessageStored, message_id=confirmed.message_id))
    wait_until(lambda: _outgoing(history, key, room) == [], what="the confirmed one dropped")

    proxy.lose_to_relay()
    waiting = alice.send("typed before quitting")
    assert _outgoing(history, key, room) == [waiting.message_id]  # on disk already
    alice.close()
    assert alice_events.wait_for(_is(ce.NotSent)) == ce.NotSent(
        messages=(waiting,), reason=alice_events.of(ce.NotSent)[0].reason, kept=True
    )
    assert _outgoing(history, key, room) == [waiting.message_id]  # kept for the next run
    assert "typed before quitting" not in bob_events.texts()

    proxy.lose_to_relay(False)
    _again, again_events = clients(
        relay.port,
        "alice",
        keys=room_keys,
        identity=alice_identity,
        room_id=room,
        archive=_opener(history, key),
    )
    restored = again_events.wait_for(_is(ce.OutboxRestored))
    assert restored.messages == (waiting,)  # same id, same timestamp
    joined = again_events.wait_for(_is(ce.Joined))
    events = again_events.events
    assert events.index(restored) < events.index(joined)
    again_events.wait_for(_is(ce.MessageStored, message_id=waiting.message_id))
    bob_events.wait_for(_is(ce.MessageReceived, message_id=waiting.message_id))
    wait_until(lambda: _outgoing(history, key, room) == [], what="the outbox emptied")
    _sync(bob, bob_events, again_events)
    assert bob_events.texts().count("typed before quitting") == 1
    # alice's first run saw its own first message: the next run was not shown it again.
    assert "confirmed at once" not in again_events.texts()


def test_received_messages_are_recorded_with_positions_and_the_next_run_resumes_after_them(
    relay, clients, room_keys, history, key
):
    room = room_keys.room_id
    identity = Identity.generate()
    alice, alice_events = clients(
        relay.port, "alice", keys=room_keys, identity=identity, archive=_opener(history, key)
    )  # joined by address only: the archive learns the room from the welcome
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    for n in range(3):
        bob.send(f"before {n}")
    alice_events.wait_for(_is(ce.MessageReceived, text="before 2"))
    mine = alice.send("mine")
    alice_events.wait_for(_is(ce.MessageReceived, message_id=mine.message_id))
    alice.close()
    recorded = _recorded(history, key, room)
    assert sorted((m.position, m.text, m.own) for m in recorded) == [
        (1, "before 0", False),
        (2, "before 1", False),
        (3, "before 2", False),
        (4, "mine", True),
    ]
    assert {m.sender for m in recorded} == {"alice", "bob"}

    seen = {"before 0", "before 1", "before 2", "mine"}
    for ask in (DEFAULT_ROOM, room):  # by address again, then as a saved room
        away = [f"away {ask.hex()[:4]} {n}" for n in range(2)]
        for text in away:
            bob.send(text)
        bob_events.wait_for(_is(ce.MessageReceived, text=away[-1]))
        back, back_events = clients(
            relay.port,
            "alice",
            keys=room_keys,
            identity=identity,
            room_id=ask,
            archive=_opener(history, key),
        )
        for text in away:  # locked at first (a new device here), then opened
            back_events.wait_for(_is(ce.MessageReceived, text=text))
        marker = f"back {ask.hex()[:4]}"
        _sync(bob, bob_events, back_events, text=marker)
        # Only what it missed, once: nothing it had recorded is shown again.
        assert back_events.texts() == [*away, marker]
        assert not seen & set(back_events.texts())
        seen |= {*away, marker}
        back.close()
        bob_events.wait_for(nth(ce.MemberLeft, len(seen) // 3))
    with Archive.open(history, key) as archive:
        assert archive.last_position(room) == 10  # 4, then 3 and 3 more
        assert archive.resume_point(room) == 10  # every connection ended with all of it
        assert {m.text for m in archive.latest(room, 100)} == seen


def test_messages_typed_before_the_room_is_known_wait_in_memory(relay, clients, history, key):
    # Asked by address only, with nobody listening: the room never answered, so the archive
    # has no room to keep them under. They are handed back, not kept.
    dead = FaultProxy(("127.0.0.1", 9))  # connections are reset at once
    try:
        alice, events = clients(dead.port, "alice", password="pw", archive=_opener(history, key))
        first = alice.send("typed while connecting")
        failed = events.wait_for(_is(ce.Failed))
        not_sent = events.wait_for(_is(ce.NotSent))
        assert not_sent == ce.NotSent(messages=(first,), reason=failed.message, kept=False)
    finally:
        dead.close()
    with Archive.open(history, key) as archive:
        assert archive.rooms() == []


def test_a_message_typed_before_joining_by_address_is_kept_once_the_room_is_known(
    relay, proxy, room_keys, history, key
):
    room = room_keys.room_id
    events = Recorder()

    def on_event(event: ce.ClientEvent) -> None:
        if isinstance(event, ce.Joined):
            # On the worker, before it sends what waits: the message will go nowhere.
            proxy.lose_to_relay()
        events(event)

    alice = ChatClient(
        host="127.0.0.1",
        port=proxy.port,
        username="alice",
        on_event=on_event,
        identity=Identity.generate(),
        keys=room_keys,
        archive=_opener(history, key),
    )
    try:
        early = alice.send("typed before the room answered")
        assert _outgoing(history, key, room) == []  # the room is not known yet: memory only
        alice.start()
        events.wait_for(_is(ce.Joined))
        assert _outgoing(history, key, room) == [early.message_id]  # kept by then
    finally:
        alice.close()
    assert events.wait_for(_is(ce.NotSent)).kept
    assert _outgoing(history, key, room) == [early.message_id]


def test_after_room_closed_a_new_client_for_the_room_picks_up_position_and_outbox(
    relay, proxy, clients, room_keys, history, key
):
    room = room_keys.room_id
    identity = Identity.generate()
    alice, alice_events = clients(
        proxy.port,
        "alice",
        keys=room_keys,
        identity=identity,
        room_id=room,
        archive=_opener(history, key),
    )
    alice_events.wait_for(_is(ce.Joined))
    bob_identity = Identity.generate()
    bob, bob_events = clients(relay.port, "bob", keys=room_keys, identity=bob_identity)
    bob_events.wait_for(_is(ce.Joined))
    bob.send("seen before the close")
    alice_events.wait_for(_is(ce.MessageReceived, text="seen before the close"))
    proxy.lose_to_relay()
    waiting = alice.send("typed as it closed")
    _goodbye_everyone(relay, Reason.ROOM_CLOSED, "The room was closed.")
    alice_events.wait_for(_is(ce.Failed))
    assert alice_events.wait_for(_is(ce.NotSent)).kept
    proxy.lose_to_relay(False)

    # The host is back (here: the relay never went away); bob rejoins first and talks.
    bob, bob_events = clients(relay.port, "bob", keys=room_keys, identity=bob_identity)
    bob_events.wait_for(_is(ce.Joined))
    bob.send("said while alice was out")
    rejoined, events = clients(
        relay.port,
        "alice",
        keys=room_keys,
        identity=identity,
        room_id=room,
        archive=_opener(history, key),
    )
    events.wait_for(_is(ce.MessageStored, message_id=waiting.message_id))
    events.wait_for(_is(ce.MessageReceived, text="said while alice was out"))
    bob_events.wait_for(_is(ce.MessageReceived, message_id=waiting.message_id))
    events.wait_for(_is(ce.MessageReceived, message_id=waiting.message_id))  # its echo
    # It resumed after what the closed client had recorded: nothing shown twice.
    assert sorted(events.texts()) == ["said while alice was out", "typed as it closed"]
    assert rejoined.pending() == ()


def test_an_archive_that_does_not_open_is_said_once_and_the_client_goes_on_in_memory(
    relay, clients, room_keys, history, key
):
    Archive.open(history, key).close()
    wrong = _opener(history, os.urandom(32))  # another key: the file does not open
    alice, events = clients(
        relay.port, "alice", keys=room_keys, room_id=room_keys.room_id, archive=wrong
    )
    failed = events.wait_for(_is(ce.ArchiveFailed))
    assert "history" in failed.reason
    events.wait_for(_is(ce.Joined))
    sent = alice.send("still goes out")
    events.wait_for(_is(ce.MessageStored, message_id=sent.message_id))
    assert len(events.of(ce.ArchiveFailed)) == 1
    with pytest.raises(ArchiveKeyError):
        Archive.open(history, os.urandom(32))


def test_a_relay_that_started_over_without_its_history_is_resumed_from_its_own_positions(
    secret, clients, room_keys
):
    # A relay without a history file counts from 1 again after a restart. A member that had
    # seen position 4 must not take the new relay's 1 and 2 for what it already has.
    first = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    first.port = first.start()
    second = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    second.port = second.start()
    proxy = FaultProxy(("127.0.0.1", first.port))
    try:
        alice, alice_events = clients(proxy.port, "alice", keys=room_keys)
        alice_events.wait_for(_is(ce.Joined))
        for n in range(4):
            alice.send(f"old {n}")
        alice_events.wait_for(_is(ce.MessageReceived, text="old 3"))

        proxy.target = ("127.0.0.1", second.port)  # the restarted relay, same room and key
        bob, bob_events = clients(second.port, "bob", keys=room_keys)
        bob_events.wait_for(_is(ce.Joined))
        bob.send("new 0")
        bob.send("new 1")
        bob_events.wait_for(_is(ce.MessageReceived, text="new 1"))
        proxy.cut()
        alice_events.wait_for(_is(ce.Disconnected))
        alice.retry_now()
        alice_events.wait_for(nth(ce.Joined, 2))
        alice_events.wait_for(_is(ce.MessageReceived, text="new 1"))
        assert alice.resume_after == 0  # until this connection ends: then the new count

        proxy.cut()  # and once more: now it resumes after the new relay's positions
        alice_events.wait_for(nth(ce.Disconnected, 2))
        assert alice.resume_after == 2
        bob.send("new 2")
        alice.retry_now()
        alice_events.wait_for(_is(ce.MessageReceived, text="new 2"))
        _sync(bob, bob_events, alice_events, text="end")
        from_bob = [t for t in alice_events.texts() if t.startswith("new") or t == "end"]
        assert from_bob == ["new 0", "new 1", "new 2", "end"]
    finally:
        proxy.close()
        first.stop()
        second.stop()


def test_a_message_written_before_start_is_kept_even_if_the_client_never_starts(
    relay, clients, room_keys, history, key
):
    room = room_keys.room_id
    identity = Identity.generate()
    first, first_events = clients(
        relay.port,
        "alice",
        keys=room_keys,
        identity=identity,
        room_id=room,
        archive=_opener(history, key),
        start=False,
    )
    written = first.send("written, then the app quit at once")
    first.close()  # never started: nothing to say, but the message is on disk
    assert first_events.events == []
    assert _outgoing(history, key, room) == [written.message_id]
    with pytest.raises(ClientStopped):
        first.send("after close")

    _, events = clients(
        relay.port,
        "alice",
        keys=room_keys,
        identity=identity,
        room_id=room,
        archive=_opener(history, key),
    )
    assert events.wait_for(_is(ce.OutboxRestored)).messages == (written,)
    events.wait_for(_is(ce.MessageStored, message_id=written.message_id))
