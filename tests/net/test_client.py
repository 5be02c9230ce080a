"""The threaded client library against a real relay on 127.0.0.1 (ephemeral ports).

Waiting is on recorded events with a deadline, never on sleeps. The client's timers (handshake
deadline, reconnect backoff, pings) run on an injected clock the test moves (then
``client.wake()``), so no test waits for them in real time. (Guessing against fake relays is in
``test_guessing.py``; trust on first use and key changes in ``test_identities.py``.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from net import proto
from net.client import ChatClient, Trust, TrustStore
from net.client import events as ce
from net.proto import ClientProtocol, Forgery, PendingMessage
from net.proto._frames import FrameType
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client_support import (
    CHEAP,
    TIMEOUT,
    ClientFactory,
    Recorder,
    advance_until,
    nth,
)
from tests.net.client_support import is_ as _is
from tests.net.helpers import PASSWORD
from tests.net.proxy import RecordingProxy
from tests.net.relay.support import ManualClock, wait_until


@pytest.fixture(scope="module")
def room_keys() -> RoomKeys:
    # A fresh room id per module: another room's keys must not open this one.
    return derive_room_keys(PASSWORD, room_id=bytes(range(16, 32)), n=CHEAP)


@pytest.fixture
def secret(room_keys: RoomKeys) -> RoomSecret:
    return RoomSecret.from_room_keys(room_keys)


@pytest.fixture
def relay(secret: RoomSecret) -> Iterator[RelayThread]:
    thread = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    thread.port = thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def clients() -> Iterator[ClientFactory]:
    factory = ClientFactory()
    yield factory
    factory.close()


def test_members_chat_see_presence_and_own_echo(relay, clients, room_keys):
    alice, alice_events = clients(relay.port, "alice", keys=room_keys)
    joined = alice_events.wait_for(_is(ce.Joined, members=("alice",), reconnected=False))
    assert joined.members == (
        ce.Member(
            name="alice",
            signing_key=alice.identity.signing_public,
            dh_key=alice.identity.dh_public,
            trust=Trust.VERIFIED,
        ),
    )
    alice_events.wait_for(_is(ce.AloneInRoom))

    bob, bob_events = clients(relay.port, "bob", password=PASSWORD)
    bob_joined = bob_events.wait_for(_is(ce.Joined))
    assert bob_events.of(ce.DerivingKeys), "bob had only the password: scrypt must run"
    assert bob.keys == room_keys
    # Each sees the other's identity key as the relay lists it, new to this device.
    assert bob_joined.members[0] == ce.Member(
        name="alice",
        signing_key=alice.identity.signing_public,
        dh_key=alice.identity.dh_public,
        trust=Trust.NEW,
    )
    arrived = alice_events.wait_for(_is(ce.MemberJoined, name="bob", members=("alice", "bob")))
    assert arrived.member == ce.Member(
        name="bob",
        signing_key=bob.identity.signing_public,
        dh_key=bob.identity.dh_public,
        trust=Trust.NEW,
    )

    sent = alice.send("hello bob 👋")
    got = bob_events.wait_for(_is(ce.MessageReceived, text="hello bob 👋"))
    assert (got.sender, got.message_id, got.own, got.from_history) == (
        "alice",
        sent.message_id,
        False,
        False,
    )
    # Signed by alice's identity, which bob has seen once already (in the welcome).
    assert (got.sender_key, got.trust) == (alice.identity.signing_public, Trust.KNOWN)
    echo = alice_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    assert echo.own
    # One id and one timestamp, made once by send(): the sender and every member see the same.
    assert got.timestamp_ms == echo.timestamp_ms == sent.timestamp_ms
    assert alice.pending() == ()

    bob.close()
    alice_events.wait_for(_is(ce.MemberLeft, name="bob", reason="left the room"))
    assert len(alice_events.of(ce.AloneInRoom)) == 2


def test_late_joiner_gets_history_once(relay, clients, room_keys):
    alice, alice_events = clients(relay.port, "alice", keys=room_keys)
    alice_events.wait_for(_is(ce.Joined))
    for n in range(3):
        alice.send(f"before {n}")
    alice_events.wait_for(_is(ce.MessageReceived, text="before 2"))

    _, carol_events = clients(relay.port, "Carol", keys=room_keys)
    carol_events.wait_for(_is(ce.MessageReceived, text="before 2"))
    history = carol_events.of(ce.MessageReceived)
    assert [m.text for m in history] == ["before 0", "before 1", "before 2"]
    assert all(m.from_history and not m.own for m in history)


def test_wrong_password_fails_once_and_never_retries(relay, clients):
    _, events = clients(relay.port, "mallory", password="not the password")
    failed = events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.WRONG_PASSWORD
    assert "Wrong room password" in failed.message
    assert len(events.of(ce.Connecting)) == 1


def test_a_name_taken_by_another_identity_is_final_and_ignores_case(relay, clients, room_keys):
    _, first = clients(relay.port, "Alice", keys=room_keys)
    first.wait_for(_is(ce.Joined))
    _, second = clients(relay.port, "aLICE", keys=room_keys)
    failed = second.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.NAME_TAKEN
    assert "belongs to another member of this room" in failed.message
    assert len(second.of(ce.Connecting)) == 1  # final: retrying cannot help


def test_the_name_stays_bound_while_its_holder_is_away(relay, clients, room_keys):
    holder, events = clients(relay.port, "alice", keys=room_keys)
    events.wait_for(_is(ce.Joined))
    holder.close()
    wait_until(lambda: "alice" not in relay.stats().members, what="alice to leave")
    _, other = clients(relay.port, "alice", keys=room_keys)
    assert other.wait_for(_is(ce.Failed)).kind is ce.ErrorKind.NAME_TAKEN
    # The holder's identity gets its name back at any time.
    _, back = clients(relay.port, "alice", keys=room_keys, identity=holder.identity)
    back.wait_for(_is(ce.Joined, your_name="alice"))


def test_the_same_identity_joining_elsewhere_replaces_the_older_connection(
    relay, clients, room_keys
):
    identity = Identity.generate()
    first, first_events = clients(relay.port, "alice", keys=room_keys, identity=identity)
    first_events.wait_for(_is(ce.Joined))
    _, second_events = clients(relay.port, "alice", keys=room_keys, identity=identity)
    second_events.wait_for(_is(ce.Joined, members=("alice",)))
    failed = first_events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.REPLACED
    assert "joined this room again" in failed.message
    assert not first_events.of(ce.Disconnected)  # final: the two windows do not fight
    first.close()


def test_connection_refused_says_what_to_check(clients, room_keys):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, events = clients(port, "alice", keys=room_keys)
    failed = events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.REFUSED
    assert "Is the room running? Is the port right?" in failed.message


def test_unknown_host(clients, room_keys):
    recorder = Recorder()
    client = ChatClient(
        host="no-such-host.invalid",
        port=7777,
        username="alice",
        keys=room_keys,
        on_event=recorder,
        identity=Identity.generate(),
    )
    client.start()
    failed = recorder.wait_for(_is(ce.Failed))
    client.close()
    assert failed.kind is ce.ErrorKind.HOST_NOT_FOUND
    assert "no-such-host.invalid" in failed.message


def test_silent_server_times_out(clients, room_keys):
    clock = ManualClock()
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        silent.settimeout(TIMEOUT)
        client, events = clients(silent.getsockname()[1], "alice", keys=room_keys, clock=clock)
        conn, _ = silent.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            assert conn.recv(100)  # the client's hello: its handshake deadline is running
            clock.advance(client.handshake_timeout)  # the product's 15 s, on the client's clock
            client.wake()
            failed = events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.TIMED_OUT
    assert "did not complete the SocketChat handshake in 15 s" in failed.message
    assert len(events.of(ce.Connecting)) == 1  # a timeout before the first join is not retried


def test_not_a_socketchat_server(clients, room_keys):
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(100)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        threading.Thread(target=answer, daemon=True).start()
        _, events = clients(server.getsockname()[1], "alice", keys=room_keys)
        failed = events.wait_for(_is(ce.Failed))
    assert failed.kind in (ce.ErrorKind.PROTOCOL_ERROR, ce.ErrorKind.NETWORK)


def test_relay_closing_the_room_is_final(relay, clients, room_keys):
    _, events = clients(relay.port, "alice", keys=room_keys)
    events.wait_for(_is(ce.Joined))
    relay.stop()
    failed = events.wait_for(_is(ce.Failed))
    assert failed.kind is ce.ErrorKind.ROOM_CLOSED
    assert not events.of(ce.Disconnected)


def _reconnect_after_the_backoff(relay, clock, client, events, n: int) -> None:
    """The ``n``-th Disconnected arrived: once the relay has let the old connection go, move
    the client's clock by the announced backoff and expect the ``n``-th reconnect."""
    disconnected = events.wait_for(nth(ce.Disconnected, n))
    assert 0.25 <= disconnected.retry_in <= 0.5  # the first retry's backoff, with jitter
    wait_until(lambda: client.username not in relay.stats().members, what="the old connection")
    clock.advance(disconnected.retry_in)
    client.wake()
    joined = events.wait_for(nth(ce.Joined, n + 1))
    assert joined.reconnected
    assert len(events.of(ce.Disconnected)) == n  # one backoff, one attempt: no retry needed


def test_network_loss_reconnects_and_delivers_the_outbox_exactly_once(relay, clients, room_keys):
    clock = ManualClock()
    proxy = RecordingProxy(("127.0.0.1", relay.port))
    try:
        alice, alice_events = clients(proxy.port, "alice", keys=room_keys, clock=clock)
        alice_events.wait_for(_is(ce.Joined))
        bob, bob_events = clients(relay.port, "bob", keys=room_keys)
        alice_events.wait_for(_is(ce.MemberJoined, name="bob"))
        bob_events.wait_for(_is(ce.Joined))

        proxy.cut()
        alice_events.wait_for(_is(ce.Disconnected))
        queued = alice.send("typed while offline")
        # Nothing goes out while the backoff runs: the clock has not moved.
        assert alice.pending() == (queued,)
        _reconnect_after_the_backoff(relay, clock, alice, alice_events, 1)
        bob_events.wait_for(_is(ce.MessageReceived, text="typed while offline"))
        alice_events.wait_for(_is(ce.MessageReceived, message_id=queued.message_id, own=True))

        # Cut again right after a send: the echo may be lost, the message must still arrive once.
        again = alice.send("sent as the line drops")
        proxy.cut()
        _reconnect_after_the_backoff(relay, clock, alice, alice_events, 2)
        alice_events.wait_for(_is(ce.MessageReceived, message_id=again.message_id))
        bob_events.wait_for(_is(ce.MessageReceived, message_id=again.message_id))
        bob.send("sync")  # a marker: everything before it has been fanned out
        bob_events.wait_for(_is(ce.MessageReceived, text="sync"))
        alice_events.wait_for(_is(ce.MessageReceived, text="sync"))
        assert bob_events.texts().count("typed while offline") == 1
        assert bob_events.texts().count("sent as the line drops") == 1
        assert alice_events.texts().count("sent as the line drops") == 1
        assert alice.pending() == ()
    finally:
        proxy.close()


def test_a_relay_that_goes_quiet_is_pinged_then_given_up_on_and_reconnected(
    relay, clients, room_keys
):
    clock = ManualClock()
    proxy = RecordingProxy(("127.0.0.1", relay.port))
    try:
        alice, events = clients(proxy.port, "alice", keys=room_keys, clock=clock)
        events.wait_for(_is(ce.Joined))
        proxy.mute()  # the relay's bytes are lost from now on; the connection stays open

        def pings() -> int:
            return sum(body[0] == FrameType.PING for body in _frames(proxy.captured()[0]))

        assert pings() == 0
        clock.advance(alice.ping_after)  # 25 s of silence: the client asks whether we are there
        alice.wake()
        wait_until(lambda: pings() == 1, what="the client's ping")
        assert not events.of(ce.Disconnected)
        clock.advance(alice.dead_after - alice.ping_after)  # 60 s without a word: give up
        alice.wake()
        disconnected = events.wait_for(_is(ce.Disconnected))
        assert "The room stopped answering (60 s without a word)." in disconnected.reason
        assert pings() == 1  # one ping per silence, not one per wake-up
        _reconnect_after_the_backoff(relay, clock, alice, events, 1)
    finally:
        proxy.close()


def test_wire_carries_no_plaintext_password_or_name(relay, clients, room_keys):
    proxy = RecordingProxy(("127.0.0.1", relay.port))
    try:
        alice, alice_events = clients(proxy.port, "alice-wire", password=PASSWORD)
        alice_events.wait_for(_is(ce.Joined))
        bob, bob_events = clients(relay.port, "bob", keys=room_keys)
        bob_events.wait_for(_is(ce.Joined, members=("alice-wire", "bob")))
        first = alice.send("the same secret text")
        alice_events.wait_for(_is(ce.MessageReceived, message_id=first.message_id))
        second = alice.send("the same secret text")  # after the echo: its own CHAT frame
        alice_events.wait_for(_is(ce.MessageReceived, message_id=second.message_id))
        bob_events.wait_for(_is(ce.MessageReceived, message_id=second.message_id))
        up, down = proxy.captured()
    finally:
        proxy.close()
    wire = up + down
    for secret in (
        b"the same secret text",
        PASSWORD.encode(),
        b"alice-wire",
        b"bob",
        room_keys.member,
        room_keys.access,
        # Who is in the room is not on the wire either: identity keys travel encrypted.
        alice.identity.signing_public,
        alice.identity.dh_public,
        bob.identity.signing_public,
    ):
        assert secret not in wire
    # The same text sent twice crossed the wire as two different CHAT frames.
    chats = [body for body in _frames(up) if body[0] == FrameType.CHAT]
    assert len(chats) == 2
    assert chats[0] != chats[1]
    assert len(chats[0]) == len(chats[1])


def _frames(stream: bytes) -> list[bytes]:
    bodies, offset = [], 0
    while offset + 4 <= len(stream):
        size = int.from_bytes(stream[offset : offset + 4], "big")
        bodies.append(stream[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return bodies


def test_messages_are_checked_before_queueing(relay, clients, room_keys):
    alice, _ = clients(relay.port, "alice", keys=room_keys)
    with pytest.raises(ValueError, match="Type a message"):
        alice.send("   ")
    with pytest.raises(ValueError, match="limit is 4,000 bytes"):
        alice.send("é" * 2001)
    with pytest.raises(ValueError, match="broken character"):
        alice.send("half an emoji \ud83d")
    assert alice.pending() == ()  # none of them was queued


def test_close_from_any_state_stops_the_thread(clients, room_keys):
    with socket.create_server(("127.0.0.1", 0)) as silent:
        client, _ = clients(silent.getsockname()[1], "alice", keys=room_keys)
        client.close(timeout=5)
        assert not client.is_alive()


def test_a_message_sealed_in_another_members_name_is_reported_not_shown(relay, clients, room_keys):
    _, alice_events = clients(relay.port, "alice", keys=room_keys)
    alice_events.wait_for(_is(ce.Joined))
    with _RawMember(relay.port, "mallory", room_keys) as mallory:
        alice_events.wait_for(_is(ce.MemberJoined, name="mallory"))
        # Mallory knows the room key, so she can seal an envelope naming alice as its sender;
        # the relay attests "mallory", and the receivers open with that name.
        mallory.proto.username = "alice"
        forged_id = mallory.say("I am alice, send me the files")
        forged = alice_events.wait_for(_is(ce.ForgedMessage, message_id=forged_id))
        assert forged.claimed_sender == "mallory"
        assert forged.why == Forgery.UNREADABLE.value
        mallory.proto.username = "mallory"
        honest_id = mallory.say("ok, it's mallory")
        alice_events.wait_for(_is(ce.MessageReceived, message_id=honest_id, sender="mallory"))
    assert "I am alice, send me the files" not in alice_events.texts()


class _RawMember:
    """A member driving the protocol core by hand over a blocking socket, so a test can make
    it misbehave (tests/net/wire.py's WireClient predates identities)."""

    def __init__(self, port: int, name: str, keys: RoomKeys) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.proto = ClientProtocol(username=name, identity=Identity.generate(), keys=keys)
        self.proto.initiate()
        self._flush()
        while not any(isinstance(e, proto.Welcomed) for e in self._read()):
            pass

    def _flush(self) -> None:
        self.sock.sendall(self.proto.data_to_send())

    def _read(self) -> list[proto.Event]:
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the relay closed the connection")
        self.proto.receive_data(data)
        events = self.proto.events_received()
        self._flush()
        return events

    def say(self, text: str) -> bytes:
        message = PendingMessage(text, self.proto.new_message_id(), int(time.time() * 1000))
        self.proto.send_messages([message])
        self._flush()
        return message.message_id

    def __enter__(self) -> _RawMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_a_busy_relay_is_retried_before_the_first_join(room_keys, clients, caplog):
    caplog.set_level("INFO", logger="socketchat.relay")
    relay = RelayThread(
        RoomSecret.from_room_keys(room_keys),
        # No queue: the only slot taken, the relay refuses BUSY at once.
        RelayConfig(host="127.0.0.1", port=0, max_handshakes=1, max_queued=0),
    )
    port = relay.start()
    clock = ManualClock()
    try:
        holder = socket.create_connection(("127.0.0.1", port))
        holder.sendall(b"\x00")  # a handshake begun (and stalled) takes the only slot
        wait_until(lambda: relay.stats().handshakes == 1, what="the holder's slot")
        # The handshake deadline is not under test: the clock jumps below, and it must not fire.
        client, events = clients(port, "alice", keys=room_keys, clock=clock, handshake_timeout=1e6)
        wait_until(
            lambda: any("busy" in r.getMessage() for r in caplog.records), what="a busy refusal"
        )
        holder.close()
        wait_until(lambda: relay.stats().handshakes == 0, what="the slot to be free")
        assert not events.of(ce.Joined)  # the worker waits for its clock, not for real time
        # The relay asked for a second's patience: the retry follows once the clock has moved.
        advance_until(clock, client, events, _is(ce.Joined), step=1.0)
        assert [e.attempt for e in events.of(ce.Connecting)] == [1, 2]
        assert not events.of(ce.Failed)
    finally:
        relay.stop()


def _queue_behind_a_stalled_handshake(
    room_keys: RoomKeys, clients, clock: ManualClock, **config
) -> tuple[RelayThread, socket.socket, ChatClient, Recorder]:
    """A relay with one handshake slot, taken by a stalled handshake, and alice queued."""
    relay = RelayThread(
        RoomSecret.from_room_keys(room_keys),
        RelayConfig(host="127.0.0.1", port=0, max_handshakes=1, **config),
    )
    port = relay.start()
    holder = socket.create_connection(("127.0.0.1", port))
    holder.sendall(b"\x00")
    wait_until(lambda: relay.stats().handshakes == 1, what="the holder's slot")
    client, events = clients(port, "alice", keys=room_keys, clock=clock, handshake_timeout=5.0)
    assert events.wait_for(_is(ce.Queued)) == ce.Queued(position=1)
    return relay, holder, client, events


def test_a_queued_client_keeps_its_place_past_its_own_handshake_deadline(room_keys, clients):
    clock = ManualClock()
    relay, holder, client, events = _queue_behind_a_stalled_handshake(room_keys, clients, clock)
    try:
        # Past its own 5 s, within the 30 s the relay promised (plus 5 s for the handshake).
        clock.advance(34.0)
        client.wake()
        holder.close()  # the slot frees: the first in line gets it
        events.wait_for(_is(ce.Joined))
        assert [e.attempt for e in events.of(ce.Connecting)] == [1]  # the same connection
        assert not events.of(ce.Failed) and not events.of(ce.Disconnected)
    finally:
        holder.close()
        relay.stop()


def test_a_queued_promise_extends_the_handshake_deadline_by_a_minute_at_most(room_keys, clients):
    # QUEUED is unauthenticated: whatever wait it claims, the client waits 60 s more at most.
    clock = ManualClock()
    relay, holder, client, events = _queue_behind_a_stalled_handshake(
        room_keys, clients, clock, queue_timeout=3600.0
    )
    try:
        advance_until(clock, client, events, _is(ce.Failed), step=66.0)
        assert clock.now - 1000.0 <= 66.0 * 2  # gave up soon after 60 + 5 s
        assert events.wait_for(_is(ce.Failed)).kind is ce.ErrorKind.TIMED_OUT
    finally:
        holder.close()
        relay.stop()


def test_a_message_over_the_rooms_smaller_limit_is_reported_not_lost(room_keys):
    relay = RelayThread(
        RoomSecret.from_room_keys(room_keys),
        RelayConfig(host="127.0.0.1", port=0, max_message_bytes=100),
    )
    port = relay.start()
    events = Recorder()
    alice = ChatClient(
        host="127.0.0.1",
        port=port,
        username="alice",
        on_event=events,
        keys=room_keys,
        identity=Identity.generate(),
    )
    try:
        # Typed before the room's own limit is known (not yet joined): queued, then refused.
        too_long = alice.send("x" * 101)
        fine = alice.send("x" * 100)
        alice.start()
        joined = events.wait_for(_is(ce.Joined))
        assert joined.max_message_bytes == 100  # the room's real limit reaches the app
        refused = events.wait_for(_is(ce.MessageNotSent, message_id=too_long.message_id))
        assert "at most 100 bytes" in refused.reason
        events.wait_for(_is(ce.MessageReceived, message_id=fine.message_id))
        assert alice.pending() == ()
        # Once joined, send() itself checks the room's limit, not the protocol's default.
        assert alice.max_message_bytes == 100
        with pytest.raises(ValueError, match="limit is 100 bytes"):
            alice.send("x" * 101)
    finally:
        alice.close()
        relay.stop()


def test_a_restarted_device_goes_on_with_new_epochs_and_remembers_what_it_accepted(
    relay, clients, room_keys, tmp_path
):
    # The keyring's state (the next epoch this device may use, the last counter accepted from
    # each sender) is kept in the trust file: a device that restarts never reuses an epoch
    # (its messages would be refused as replays) and still refuses what it accepted before.
    path = tmp_path / "trust.json"
    alice_id = Identity.generate()
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    alice, alice_events = clients(
        relay.port, "alice", keys=room_keys, identity=alice_id, trust=TrustStore(path)
    )
    alice_events.wait_for(_is(ce.Joined))
    bob_events.wait_for(_is(ce.MemberJoined, name="alice"))
    first = alice.send("before the restart")
    bob_events.wait_for(_is(ce.MessageReceived, message_id=first.message_id))
    sent_by_bob = bob.send("bob to alice")
    alice_events.wait_for(_is(ce.MessageReceived, message_id=sent_by_bob.message_id))
    alice.close()
    saved = TrustStore(path).keyring_state(room_keys.room_id)
    assert saved is not None and saved["next_epoch"] == 2
    assert bob.identity.signing_public.hex() in saved["accepted"]

    again, again_events = clients(
        relay.port, "alice", keys=room_keys, identity=alice_id, trust=TrustStore(path)
    )
    again_events.wait_for(_is(ce.Joined))
    second = again.send("after the restart")
    bob_events.wait_for(_is(ce.MessageReceived, message_id=second.message_id))
    assert not bob_events.of(ce.ForgedMessage)  # not refused as a replay
    assert TrustStore(path).keyring_state(room_keys.room_id)["next_epoch"] == 3
