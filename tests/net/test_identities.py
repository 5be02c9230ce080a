"""Trust on first use and key changes, end to end: real relays, real ChatClients, one trust file.

A name is bound to an identity key by the relay, but only for as long as the relay remembers
it: a relay restarted without its names file, or a second relay with the same room secret,
lets another key take a known name. Each device's own records (``TrustStore``) are what
catches that: the member is announced as changed (``IdentityChanged``), its messages carry
``Trust.CHANGED`` until the person accepts the key, and a verified member's change says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from net.client import ChatClient, Trust, TrustStore
from net.client import events as ce
from net.client.trust import relay_address
from net.proto import DEFAULT_ROOM
from net.relay import RelayConfig, RelayThread
from net.relay.roomfile import RoomSecret
from tests.net.client_support import (
    CHEAP,
    ClientFactory,
    Recorder,
    is_,
    nth,
    reconnect_after_backoff,
)
from tests.net.helpers import PASSWORD
from tests.net.proxy import RecordingProxy
from tests.net.relay.support import ManualClock, wait_until


@pytest.fixture(scope="module")
def room_keys() -> RoomKeys:
    return derive_room_keys(PASSWORD, room_id=bytes(range(80, 96)), n=CHEAP)


@pytest.fixture
def secret(room_keys: RoomKeys) -> RoomSecret:
    return RoomSecret.from_room_keys(room_keys)


@pytest.fixture
def relays(secret: RoomSecret) -> Iterator[Callable[[], RelayThread]]:
    """Starts relays for the room: same secret (room id and relay key), no names file, so each
    one binds names afresh."""
    started: list[RelayThread] = []

    def start() -> RelayThread:
        relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, close_timeout=1.0))
        relay.port = relay.start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


@pytest.fixture
def clients() -> Iterator[ClientFactory]:
    factory = ClientFactory()
    yield factory
    factory.close()


def _says(
    client: ChatClient, events: Recorder, text: str, listener: Recorder
) -> ce.MessageReceived:
    """``client`` sends ``text``; return it as ``listener`` received it."""
    sent = client.send(text)
    events.wait_for(is_(ce.MessageReceived, message_id=sent.message_id))
    received: ce.MessageReceived = listener.wait_for(
        is_(ce.MessageReceived, message_id=sent.message_id)
    )
    return received


class _Room:
    """alice, connected through a proxy to whichever relay now serves the room; relays are
    replaced under her as after a restart that lost the names file."""

    def __init__(
        self, relays: Callable[[], RelayThread], clients: ClientFactory, trust_file: Path
    ) -> None:
        self.trust_file = trust_file
        self.relays = relays
        self.clients = clients
        self.relay = relays()
        self.proxy = RecordingProxy(("127.0.0.1", self.relay.port))
        self.clock = ManualClock()
        self.alice, self.events = clients(
            self.proxy.port,
            "alice",
            password=PASSWORD,
            clock=self.clock,
            trust=TrustStore(trust_file),
        )
        self.events.wait_for(is_(ce.Joined))
        self.restarts = 0

    def member(self, name: str, keys: RoomKeys) -> tuple[ChatClient, Recorder]:
        """``name`` joins the current relay with a new identity; alice sees it arrive."""
        client, events = self.clients(self.relay.port, name, keys=keys)
        events.wait_for(is_(ce.Joined))
        key = client.identity.signing_public
        self.events.wait_for(
            lambda e: isinstance(e, ce.MemberJoined) and e.member.signing_key == key
        )
        return client, events

    def restart_without_names(self) -> None:
        old, self.relay = self.relay, self.relays()
        self.proxy.target = ("127.0.0.1", self.relay.port)
        self.proxy.cut()
        old.stop()
        self.restarts += 1
        reconnect_after_backoff(self.clock, self.alice, self.events, self.restarts)
        joined = self.events.wait_for(nth(ce.Joined, self.restarts + 1))
        assert joined.reconnected

    def close(self) -> None:
        self.proxy.close()


@pytest.fixture
def room(relays, clients, tmp_path: Path) -> Iterator[_Room]:
    shared = _Room(relays, clients, tmp_path / "trust.json")
    yield shared
    shared.close()


def test_a_name_back_with_another_key_is_changed_until_accepted_then_verified(room, room_keys):
    bob, bob_events = room.member("bob", room_keys)
    arrived = room.events.of(ce.MemberJoined)[-1]
    assert arrived.member.trust is Trust.NEW
    first = _says(bob, bob_events, "hello, it's bob", room.events)
    assert (first.sender_key, first.trust) == (bob.identity.signing_public, Trust.KNOWN)
    bob.close()
    room.events.wait_for(is_(ce.MemberLeft, name="bob"))

    room.restart_without_names()
    assert not room.events.of(ce.IdentityChanged)  # the relay kept its key: nothing to say
    other, other_events = room.member("bob", room_keys)  # another device takes the name
    (changed,) = room.events.of(ce.IdentityChanged)
    assert changed == ce.IdentityChanged(
        name="bob",
        old_key=bob.identity.signing_public,
        new_key=other.identity.signing_public,
        was_verified=False,
    )
    assert room.events.of(ce.MemberJoined)[-1].member.trust is Trust.CHANGED
    assert [m.trust for m in room.alice.members if m.name == "bob"] == [Trust.CHANGED]
    # Every message is marked, however many; the warning is not repeated for each.
    for text in ("it's me, new laptop", "really"):
        heard = _says(other, other_events, text, room.events)
        assert (heard.sender_key, heard.trust) == (other.identity.signing_public, Trust.CHANGED)
    assert len(room.events.of(ce.IdentityChanged)) == 1

    room.alice.accept_key("bob", other.identity.signing_public)
    assert _says(other, other_events, "accepted?", room.events).trust is Trust.KNOWN
    room.alice.mark_verified("bob", other.identity.signing_public)
    assert _says(other, other_events, "verified?", room.events).trust is Trust.VERIFIED


def test_a_verified_members_key_change_says_it_was_verified(room, room_keys):
    bob, _ = room.member("bob", room_keys)
    room.alice.mark_verified("bob", bob.identity.signing_public)
    bob.close()
    room.events.wait_for(is_(ce.MemberLeft, name="bob"))
    room.restart_without_names()
    other, other_events = room.member("bob", room_keys)
    (changed,) = room.events.of(ce.IdentityChanged)
    assert changed.was_verified
    assert (changed.old_key, changed.new_key) == (
        bob.identity.signing_public,
        other.identity.signing_public,
    )
    assert _says(other, other_events, "trust me", room.events).trust is Trust.CHANGED
    # Accepting a key is not verifying it: the verified mark does not carry over.
    room.alice.accept_key("bob", other.identity.signing_public)
    assert _says(other, other_events, "thanks", room.events).trust is Trust.KNOWN


def test_history_from_the_changed_key_is_marked_too(room, room_keys):
    bob, _ = room.member("bob", room_keys)
    bob.close()
    room.events.wait_for(is_(ce.MemberLeft, name="bob"))
    room.restart_without_names()
    other, other_events = room.member("bob", room_keys)
    sent = other.send("said while you were away")
    other_events.wait_for(is_(ce.MessageReceived, message_id=sent.message_id))
    other.close()
    room.events.wait_for(is_(ce.MemberLeft, name="bob"))
    # A second device of alice's, same trust file, arrives later: the message is history and
    # its sender is no longer a member, but the device remembers bob's first key.
    late, late_events = room.clients(
        room.relay.port, "alice2", keys=room_keys, trust=TrustStore(room.trust_file)
    )
    heard = late_events.wait_for(is_(ce.MessageReceived, message_id=sent.message_id))
    assert heard.from_history
    assert heard.trust is Trust.CHANGED
    late_events.wait_for(is_(ce.IdentityChanged, name="bob"))
    late.close()


def test_pins_and_first_seen_keys_persist_across_clients(relays, clients, room_keys, tmp_path):
    relay = relays()
    path = tmp_path / "trust.json"
    identity = Identity.generate()
    bob, _ = clients(relay.port, "bob", keys=room_keys)
    first, first_events = clients(
        relay.port, "alice", password=PASSWORD, identity=identity, trust=TrustStore(path)
    )
    joined = first_events.wait_for(is_(ce.Joined))
    assert [(m.name, m.trust) for m in joined.members] == [
        ("bob", Trust.NEW),
        ("alice", Trust.VERIFIED),
    ]
    first.close()
    wait_until(lambda: "alice" not in relay.stats().members, what="alice to leave")

    # The next run of the app: a new client, the records read back from the file.
    again, again_events = clients(
        relay.port,
        "alice",
        password=PASSWORD,
        identity=identity,
        trust=TrustStore(path),
        start=False,
    )
    assert again.expected_relay_key() == relay.relay.secret.relay_key  # pinned before connecting
    again.start()
    joined = again_events.wait_for(is_(ce.Joined))
    assert [(m.name, m.trust) for m in joined.members] == [
        ("bob", Trust.KNOWN),
        ("alice", Trust.VERIFIED),
    ]
    again.mark_verified("bob", bob.identity.signing_public)
    again.close()
    reread = TrustStore(path)
    assert reread.status(room_keys.room_id, "bob", bob.identity.signing_public) is Trust.VERIFIED
    for room in (DEFAULT_ROOM, room_keys.room_id):
        assert reread.relay_key(relay_address("127.0.0.1", relay.port, room)) == (
            relay.relay.secret.relay_key
        )


def test_a_second_relay_with_the_same_secret_is_the_same_room_to_the_records(
    relays, clients, room_keys, tmp_path
):
    path = tmp_path / "trust.json"
    first = relays()
    bob, bob_events = clients(first.port, "bob", keys=room_keys)
    bob_events.wait_for(is_(ce.Joined))  # first: the member lists below have bob first
    alice, alice_events = clients(first.port, "alice", password=PASSWORD, trust=TrustStore(path))
    alice_events.wait_for(is_(ce.Joined, members=("bob", "alice")))
    alice.close()

    # Elsewhere, a relay with the same room secret, where "bob" is someone else's name.
    second = relays()
    other, other_events = clients(second.port, "bob", keys=room_keys)
    other_events.wait_for(is_(ce.Joined))
    _, again_events = clients(
        second.port, "alice", password=PASSWORD, identity=alice.identity, trust=TrustStore(path)
    )
    changed = again_events.wait_for(is_(ce.IdentityChanged, name="bob"))
    assert (changed.old_key, changed.new_key) == (
        bob.identity.signing_public,
        other.identity.signing_public,
    )
    joined = again_events.wait_for(is_(ce.Joined))
    assert [(m.name, m.trust) for m in joined.members] == [
        ("bob", Trust.CHANGED),
        ("alice", Trust.VERIFIED),
    ]
