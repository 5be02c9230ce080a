"""Bounded guessing (docs/PROTOCOL.md 4.4, DESIGN "Security design (v2)" property 3), with the
real :class:`net.client.ChatClient` against a fake relay (``fake_relay.py``) that proves its
own key and counts every key confirmation it receives: one confirmation = one password guess.

* Before any join, whatever the fake relay does after the confirmation (AUTH_FAILED, a cut,
  REFUSED(BUSY), silence until the handshake deadline), one user action — one ``start()`` —
  hands it exactly one guess: the client never tries again by itself.
* After a join with the genuine relay at that address, its pinned key stops the fake relay
  before anything password-dependent is sent: zero guesses, and the person is told.
* A genuine relay that drops the connection is still reconnected to by itself: nothing is at
  stake until the confirmation leaves, and a pinned relay answers.

Every timer runs on the client's injected clock; no test waits on real time.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.kdf import RoomKeys, derive_room_keys
from net.client import TrustStore
from net.client import events as ce
from net.client.trust import relay_address
from net.proto import DEFAULT_ROOM, FrameType
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client_support import (
    CHEAP,
    ClientFactory,
    advance_until,
    is_,
    nth,
    reconnect_after_backoff,
)
from tests.net.fake_relay import FakeRelay, Script
from tests.net.helpers import PASSWORD
from tests.net.proxy import RecordingProxy
from tests.net.relay.support import ManualClock, wait_until

ROOM_ID = bytes(range(48, 64))
HOUR = 3600.0
RELAY_CHANGED = "This is not the room's relay you joined before"
#: How the client ends an attempt after each script, having handed over one guess.
ENDS_WITH = {
    Script.AUTH_FAILED: ce.ErrorKind.WRONG_PASSWORD,
    Script.CUT: ce.ErrorKind.LOGIN_INTERRUPTED,
    Script.BUSY: ce.ErrorKind.LOGIN_INTERRUPTED,
    Script.SILENT: ce.ErrorKind.LOGIN_INTERRUPTED,
}


@pytest.fixture(scope="module")
def room_keys() -> RoomKeys:
    return derive_room_keys(PASSWORD, room_id=ROOM_ID, n=CHEAP)


@pytest.fixture
def secret(room_keys: RoomKeys) -> RoomSecret:
    return RoomSecret.from_room_keys(room_keys)


@pytest.fixture
def clients() -> Iterator[ClientFactory]:
    factory = ClientFactory()
    yield factory
    factory.close()


@pytest.fixture
def relay(secret: RoomSecret) -> Iterator[RelayThread]:
    thread = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, close_timeout=1.0))
    thread.port = thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def proxy(relay: RelayThread) -> Iterator[RecordingProxy]:
    """The room's address as members know it; it leads to the genuine relay until a test
    points it elsewhere."""
    forward = RecordingProxy(("127.0.0.1", relay.port))
    yield forward
    forward.close()


def _one_user_action(clients, port, fake, clock, trust, *, guesses_before):
    """One start() of a new client (the password typed again, as after a failure): play it
    out to its Failed, then show the client is finished. Returns (Failed, events)."""
    client, events = clients(port, "alice", password=PASSWORD, clock=clock, trust=trust)
    if fake.script is Script.SILENT:
        wait_until(lambda: fake.guesses > guesses_before, what="the confirmation")
        clock.advance(client.handshake_timeout)  # the handshake deadline passes, nothing more
        client.wake()
    failed = events.wait_for(is_(ce.Failed))
    client.close()  # returns at once: the worker already stopped after Failed
    assert not client.is_alive()
    # An hour later, on the client's clock, it still has not tried again.
    clock.advance(HOUR)
    client.wake()
    assert [e.attempt for e in events.of(ce.Connecting)] == [1]
    assert not events.of(ce.Disconnected)
    return failed, events


@pytest.mark.parametrize("script", list(Script), ids=lambda s: s.name)
def test_before_any_join_each_start_hands_a_fake_relay_exactly_one_guess(clients, script):
    clock = ManualClock()
    trust = TrustStore()
    with FakeRelay(script, room_id=ROOM_ID) as fake:
        for action in (1, 2, 3):
            failed, _ = _one_user_action(
                clients, fake.port, fake, clock, trust, guesses_before=action - 1
            )
            assert failed.kind is ENDS_WITH[script]
            if failed.kind is ce.ErrorKind.LOGIN_INTERRUPTED:
                assert "does not try again on its own" in failed.message
            assert (fake.connections, fake.guesses) == (action, action)
        # Nothing was pinned: the fake relay was never joined, so it stays a stranger.
        assert trust.relay_key(relay_address("127.0.0.1", fake.port, DEFAULT_ROOM)) is None
        for frames in fake.received():
            assert frames == [FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN, FrameType.CLIENT_PAKE]


def _join_genuine(clients, proxy, secret, clock, trust):
    alice, events = clients(proxy.port, "alice", password=PASSWORD, clock=clock, trust=trust)
    events.wait_for(is_(ce.Joined))
    for room in (DEFAULT_ROOM, secret.room_id):
        assert trust.relay_key(relay_address("127.0.0.1", proxy.port, room)) == secret.relay_key
    return alice, events


@pytest.mark.parametrize("script", list(Script), ids=lambda s: s.name)
def test_after_a_join_the_pinned_key_gives_a_fake_relay_no_guess(
    clients, proxy, secret, tmp_path: Path, script
):
    clock = ManualClock()
    trust_file = tmp_path / "trust.json"
    alice, events = _join_genuine(clients, proxy, secret, clock, TrustStore(trust_file))
    with FakeRelay(script, room_id=secret.room_id) as fake:
        # The genuine relay goes away; an impostor answers at the room's address from now on.
        proxy.target = ("127.0.0.1", fake.port)
        proxy.cut()
        reconnect_after_backoff(clock, alice, events, 1)
        failed = events.wait_for(is_(ce.Failed))
        assert failed.kind is ce.ErrorKind.RELAY_CHANGED
        assert RELAY_CHANGED in failed.message
        assert "Nothing that depends on the password was sent" in failed.message
        assert (fake.connections, fake.guesses) == (1, 0)
        assert fake.received() == [[FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN]]
        clock.advance(HOUR)
        alice.wake()
        assert [e.attempt for e in events.of(ce.Connecting)] == [1, 2]

        # The person tries again (a new client, the pin read back from the file): still
        # nothing, and not even the password is stretched for the impostor's sake.
        _, again_events = clients(
            proxy.port, "alice", password=PASSWORD, clock=clock, trust=TrustStore(trust_file)
        )
        failed = again_events.wait_for(is_(ce.Failed))
        assert failed.kind is ce.ErrorKind.RELAY_CHANGED
        assert RELAY_CHANGED in failed.message
        assert not again_events.of(ce.DerivingKeys)
        assert (fake.connections, fake.guesses) == (2, 0)
        assert all(
            frames == [FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN] for frames in fake.received()
        )


def test_after_a_join_a_fake_relay_posing_as_a_new_room_gets_no_guess_either(
    clients, proxy, secret, tmp_path: Path
):
    # The impostor does not claim the room's id but a new room at the same address (as a
    # recreated room would look). The reconnect asked for the joined room by its id; a new
    # start asks for the address's default room: neither sends anything password-dependent.
    clock = ManualClock()
    trust_file = tmp_path / "trust.json"
    alice, events = _join_genuine(clients, proxy, secret, clock, TrustStore(trust_file))
    with FakeRelay(Script.AUTH_FAILED, room_id=bytes(range(200, 216))) as fake:
        proxy.target = ("127.0.0.1", fake.port)
        proxy.cut()
        reconnect_after_backoff(clock, alice, events, 1)
        failed = events.wait_for(is_(ce.Failed))
        # Not the room asked for: refused as a protocol error, or as a changed relay.
        assert failed.kind in (ce.ErrorKind.PROTOCOL_ERROR, ce.ErrorKind.RELAY_CHANGED)
        _, again_events = clients(
            proxy.port, "alice", password=PASSWORD, clock=clock, trust=TrustStore(trust_file)
        )
        failed = again_events.wait_for(is_(ce.Failed))
        assert failed.kind is ce.ErrorKind.RELAY_CHANGED
        # The password was stretched once, for the genuine room; never for the impostor's.
        assert len(events.of(ce.DerivingKeys)) == 1
        assert not again_events.of(ce.DerivingKeys)
        assert (fake.connections, fake.guesses) == (2, 0)
        assert fake.received() == [[FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN]] * 2


def test_after_the_person_forgets_the_pin_one_start_is_again_one_guess_at_most(
    clients, proxy, secret, tmp_path: Path
):
    clock = ManualClock()
    trust = TrustStore(tmp_path / "trust.json")
    _join_genuine(clients, proxy, secret, clock, trust)
    with FakeRelay(Script.CUT, room_id=secret.room_id) as fake:
        proxy.target = ("127.0.0.1", fake.port)
        proxy.cut()
        # Told the room was recreated, the person drops every pin for the address ...
        assert trust.forget_relays_at("127.0.0.1", proxy.port) == 2
        # ... and the impostor is a stranger again: one user action, one guess, then a stop.
        failed, _ = _one_user_action(clients, proxy.port, fake, clock, trust, guesses_before=0)
        assert failed.kind is ce.ErrorKind.LOGIN_INTERRUPTED
        assert (fake.connections, fake.guesses) == (1, 1)


def test_a_genuine_relay_that_drops_the_connection_is_reconnected_to_by_itself(
    clients, proxy, relay, secret
):
    clock = ManualClock()
    trust = TrustStore()
    alice, events = _join_genuine(clients, proxy, secret, clock, trust)
    for n in (1, 2, 3):
        proxy.cut()
        reconnect_after_backoff(clock, alice, events, n)
        joined = events.wait_for(nth(ce.Joined, n + 1))
        assert joined.reconnected
    assert not events.of(ce.Failed)
    assert proxy.connections == 4  # one attempt per drop: the pinned relay answered each time


def test_a_busy_genuine_relay_is_retried_after_a_drop_nothing_being_at_stake(
    clients, secret, tmp_path: Path
):
    relay = RelayThread(
        # No queue: with the only slot taken, the relay refuses BUSY at once.
        secret,
        RelayConfig(host="127.0.0.1", port=0, max_handshakes=1, max_queued=0, close_timeout=1.0),
    )
    proxy = RecordingProxy(("127.0.0.1", relay.start()))
    holder = None
    try:
        clock = ManualClock()
        alice, events = _join_genuine(clients, proxy, secret, clock, TrustStore())
        # Someone else's stalled handshake takes the relay's only slot; then the line drops.
        holder = socket.create_connection(("127.0.0.1", relay.port))
        holder.sendall(b"\x00")
        wait_until(lambda: relay.stats().handshakes == 1, what="the holder's slot")
        proxy.cut()
        reconnect_after_backoff(clock, alice, events, 1)
        # REFUSED(BUSY) comes before the confirmation: the client is free to try again.
        busy = events.wait_for(nth(ce.Disconnected, 2))
        assert "busy" in busy.reason
        holder.close()
        wait_until(lambda: relay.stats().handshakes == 0, what="the slot to be free")
        advance_until(clock, alice, events, nth(ce.Joined, 2), step=1.0)
        assert not events.of(ce.Failed)
    finally:
        if holder is not None:
            holder.close()
        proxy.close()
        relay.stop()


@pytest.mark.parametrize("script", list(Script), ids=lambda s: s.name)
def test_after_a_join_a_man_in_the_middle_still_gets_one_guess_per_start_at_most(
    clients, proxy, relay, secret, script
):
    # A man in the middle passes the genuine, pinned relay's hello through, so the client
    # goes on and its key confirmation leaves; then it plays its script. Whatever it does, the
    # automatic reconnect that led there is the last one: the person decides what comes next.
    clock = ManualClock()
    trust = TrustStore()
    alice, events = _join_genuine(clients, proxy, secret, clock, trust)
    with FakeRelay(script, room_id=secret.room_id, upstream=("127.0.0.1", relay.port)) as mitm:
        proxy.target = ("127.0.0.1", mitm.port)
        proxy.cut()
        reconnect_after_backoff(clock, alice, events, 1)
        if script is Script.SILENT:
            wait_until(lambda: mitm.guesses == 1, what="the confirmation")
            clock.advance(alice.handshake_timeout)
            alice.wake()
        failed = events.wait_for(is_(ce.Failed))
        assert failed.kind is ENDS_WITH[script]
        clock.advance(HOUR)
        alice.wake()
        assert [e.attempt for e in events.of(ce.Connecting)] == [1, 2]
        assert (mitm.connections, mitm.guesses) == (1, 1)

        # The person connects again: one more start(), one more guess at most.
        failed, _ = _one_user_action(clients, proxy.port, mitm, clock, trust, guesses_before=1)
        assert failed.kind is ENDS_WITH[script]
        assert (mitm.connections, mitm.guesses) == (2, 2)
        for frames in mitm.received():
            assert frames == [FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN, FrameType.CLIENT_PAKE]


def test_a_fake_relay_cannot_reuse_the_genuine_relays_key_without_its_secret(
    clients, proxy, secret
):
    # The impostor copies the genuine relay's public key into its RELAY_HELLO but cannot sign
    # with it: the client rejects the hello before sending anything password-dependent.
    clock = ManualClock()
    alice, events = _join_genuine(clients, proxy, secret, clock, TrustStore())
    with FakeRelay(Script.AUTH_FAILED, room_id=secret.room_id) as fake:
        fake.forge_relay_key(secret.relay_key)
        proxy.target = ("127.0.0.1", fake.port)
        proxy.cut()
        reconnect_after_backoff(clock, alice, events, 1)
        failed = events.wait_for(is_(ce.Failed))
        assert failed.kind is ce.ErrorKind.PROTOCOL_ERROR
        assert fake.guesses == 0
        assert fake.received() == [[FrameType.CLIENT_HELLO, FrameType.CLIENT_OPEN]]
