"""The room setting "New members can read recent history", chosen when the room is created
and signed into its genesis (PROTOCOL.md 5.4, 5.5).

Off, a newcomer never receives a key that opens a message sent before it joined — not by
asking, not from a member who was away when it came — while everything sent after it joined
opens; members who were there keep reading what they saw. On (and in a room without an
owner), newcomers read the recent history, as before.
"""

from __future__ import annotations

import pytest

from crypto.genesis import Genesis, RoomSettings
from crypto.identity import Identity
from crypto.kdf import derive_room_keys
from crypto.spake2 import Spake2Secret
from net import proto
from net.client import events as ce
from net.proto import Authority, FrameType, Keyring
from net.proto._keyring import Recipient
from net.proto._replay import RecentIds
from net.relay import RelayConfig, RelayThread, create_owned_room
from tests.net.client_support import CHEAP, ClientFactory, is_
from tests.net.helpers import Pair, Room, identity, make_client

PASSWORD = "the room that keeps its past"
ALICE, BOB, CAROL = (identity(name).signing_public for name in ("alice", "bob", "carol"))


def room_with(settings: RoomSettings) -> tuple[Room, object]:
    genesis = Genesis.create(identity("alice"), settings=settings)
    keys = derive_room_keys(PASSWORD, room_id=genesis.room_id, n=2**10)
    secret = Spake2Secret.from_access_key(keys.access)
    return Room(secret, room_id=genesis.room_id, authority=Authority(genesis)), keys


@pytest.fixture(scope="module")
def quiet_genesis() -> Genesis:
    return Genesis.create(identity("alice"), settings=RoomSettings(0))


@pytest.fixture(scope="module")
def quiet_keys(quiet_genesis: Genesis):
    return derive_room_keys(PASSWORD, room_id=quiet_genesis.room_id, n=2**10)


@pytest.fixture
def quiet(quiet_genesis: Genesis, quiet_keys) -> Room:
    """A room whose new members see only what is sent after they join."""
    secret = Spake2Secret.from_access_key(quiet_keys.access)
    return Room(secret, room_id=quiet_genesis.room_id, authority=Authority(quiet_genesis))


def join(
    room: Room,
    keys,
    name: str,
    *,
    keyring: Keyring | None = None,
    seen_ids: RecentIds | None = None,
    label: bytes | None = None,
) -> Pair:
    client = make_client(
        name, keys, room_id=keys.room_id, keyring=keyring, seen_ids=seen_ids, label=label
    )
    pair = room.connect(client)
    room.pump()
    return pair


def say(room: Room, pair: Pair, text: str) -> None:
    pair.client.send_messages([(text, pair.client.new_message_id(), 5)])
    room.pump()


def welcomed(pair: Pair) -> proto.Welcomed:
    (welcome,) = [e for e in pair.client_events if isinstance(e, proto.Welcomed)]
    return welcome


def opened(pair: Pair) -> list[str]:
    """The texts ``pair`` could read, history and live."""
    texts = [e.text for e in pair.client_events if isinstance(e, proto.ChatOpened)]
    for event in pair.client_events:
        if isinstance(event, proto.Welcomed):
            texts += [h.text for h in event.history if isinstance(h, proto.ChatOpened)]
    return texts


def locked(pair: Pair) -> list[proto.ChatLocked]:
    found = [e for e in pair.client_events if isinstance(e, proto.ChatLocked)]
    for event in pair.client_events:
        if isinstance(event, proto.Welcomed):
            found += [h for h in event.history if isinstance(h, proto.ChatLocked)]
    return found


def key_ids_to(room: Room, recipient: bytes) -> set[tuple[bytes, int]]:
    """(owner, epoch) of every share any member addressed to ``recipient``."""
    return {(a.owner, a.epoch) for a in room.shares_to(recipient)}


def test_a_newcomer_never_gets_a_key_from_before_it_joined_even_when_it_asks(quiet, quiet_keys):
    alice, bob = join(quiet, quiet_keys, "alice"), join(quiet, quiet_keys, "bob")
    say(quiet, alice, "alice before")
    say(quiet, bob, "bob before")
    before = {(ALICE, alice.client.keyring.own_epoch), (BOB, bob.client.keyring.own_epoch)}

    carol = join(quiet, quiet_keys, "carol")
    assert welcomed(carol).history_for_newcomers is False
    assert carol.client.keyring.history_for_newcomers is False
    # The history comes (members who reconnect need it) but stays locked, and says why.
    assert [(e.sender, e.from_history, e.withheld) for e in locked(carol)] == [
        ("alice", True, True),
        ("bob", True, True),
    ]
    assert FrameType.WANT not in carol.sent_by_client()  # nothing to ask for: nobody would give
    # A client that asks anyway (it ignores the room's setting) gets nothing from before.
    carol.client.keyring.history_for_newcomers = True
    carol.client._ask_for_keys(again=True)  # as on an arrival: carol asks everyone
    quiet.pump()
    assert FrameType.WANT in carol.sent_by_client()
    assert not key_ids_to(quiet, CAROL) & before
    assert "alice before" not in opened(carol) and "bob before" not in opened(carol)

    # What is sent after she joined opens.
    say(quiet, alice, "alice after")
    say(quiet, bob, "bob after")
    assert opened(carol) == ["alice after", "bob after"]
    assert not key_ids_to(quiet, CAROL) & before


def test_a_member_away_when_the_newcomer_came_gives_it_nothing_from_before(quiet, quiet_keys):
    alice, _bob = join(quiet, quiet_keys, "alice"), join(quiet, quiet_keys, "bob")
    say(quiet, alice, "before carol")
    first_epoch = alice.client.keyring.own_epoch
    quiet.disconnect("alice")
    quiet.pump()
    carol = join(quiet, quiet_keys, "carol")
    carol.client.keyring.history_for_newcomers = True  # asks whoever comes, whatever the room
    # Alice comes back (same device, same keys): carol is new to her, not an old member.
    alice = join(
        quiet,
        quiet_keys,
        "alice",
        keyring=alice.client.keyring,
        seen_ids=alice.client.seen_ids,
        label=b"alice again",
    )
    assert FrameType.WANT in carol.sent_by_client()
    assert (ALICE, first_epoch) not in key_ids_to(quiet, CAROL)
    assert "before carol" not in opened(carol)
    say(quiet, alice, "after carol")
    assert opened(carol) == ["after carol"]


def test_members_who_were_there_still_read_what_they_saw_after_reconnecting(quiet, quiet_keys):
    alice, bob = join(quiet, quiet_keys, "alice"), join(quiet, quiet_keys, "bob")
    say(quiet, alice, "seen by bob")
    quiet.disconnect("bob")
    quiet.pump()
    say(quiet, alice, "while bob was away")
    # Bob's device comes back with its sender keys (a fresh seen-list, so history is shown).
    bob = join(
        quiet,
        quiet_keys,
        "bob",
        keyring=bob.client.keyring,
        seen_ids=RecentIds(),
        label=b"bob again",
    )
    history = welcomed(bob).history
    assert [h.text for h in history if isinstance(h, proto.ChatOpened)] == ["seen by bob"]
    # Alice moved to a key bob never had when he left: to her he is a newcomer again.
    assert [(e.sender, e.withheld) for e in locked(bob)] == [("alice", True)]
    say(quiet, alice, "back again")
    assert "back again" in opened(bob)


def test_with_history_for_newcomers_the_newcomer_reads_what_came_before():
    room, keys = room_with(RoomSettings.HISTORY_FOR_NEWCOMERS)
    alice, bob = join(room, keys, "alice"), join(room, keys, "bob")
    say(room, alice, "alice before")
    say(room, bob, "bob before")
    carol = join(room, keys, "carol")
    assert welcomed(carol).history_for_newcomers is True
    assert carol.client.keyring.history_for_newcomers is True
    assert sorted(opened(carol)) == ["alice before", "bob before"]
    assert not any(e.withheld for e in locked(carol))


def test_a_room_without_an_owner_has_no_setting_and_shares_history(room_keys):
    room = Room(Spake2Secret.from_access_key(room_keys.access))
    alice = join(room, room_keys, "alice")
    say(room, alice, "before")
    bob = join(room, room_keys, "bob")
    assert welcomed(bob).history_for_newcomers is None
    assert bob.client.keyring.history_for_newcomers is True
    assert opened(bob) == ["before"]


# -- the keyring's part -----------------------------------------------------------------------


def _send(ring: Keyring, *members: Identity) -> int:
    recipients = [Recipient(m.signing_public, m.dh_public) for m in members]
    return ring.prepare_send(
        room_id=bytes(16),
        member_key=bytes(32),
        recipients=lambda: recipients,
        count=1,
        now_ms=0,
    )[0]


def test_without_history_only_live_messages_make_the_keyring_ask():
    ring = Keyring(identity("carol"), history_for_newcomers=False)
    ring.hold(b"h" * 16, (ALICE, 1), "earlier", from_history=True)
    ring.hold(b"l" * 16, (BOB, 3), "live")
    assert ring.waiting_for() == [(BOB, 3)]
    assert ring.withheld(from_history=True) and not ring.withheld(from_history=False)
    # A live message under the same key as an earlier one: worth asking for.
    ring.hold(b"m" * 16, (ALICE, 1), "live too")
    assert ring.waiting_for() == [(BOB, 3), (ALICE, 1)]
    ring.history_for_newcomers = True
    assert not ring.withheld(from_history=True)


def test_without_history_a_member_met_after_a_reconnect_gets_none_of_the_epochs_before():
    ring = Keyring(identity("alice"), history_for_newcomers=False)
    epoch = _send(ring, identity("alice"), identity("bob"))
    ring.seen(ALICE, epoch)
    # Our connection dropped; back, the relay lists carol, who came meanwhile.
    ring.members_now([ALICE, BOB, CAROL])
    assert ring.answer(CAROL, [(ALICE, epoch)], present={ALICE, BOB, CAROL}) == []
    later = _send(ring, identity("alice"), identity("bob"), identity("carol"))
    assert later > epoch
    given = ring.answer(CAROL, [(ALICE, epoch), (ALICE, later)], present=set())
    assert [key_id for key_id, _ in given] == [(ALICE, later)]


# -- through the client library, against a real relay ----------------------------------------


@pytest.fixture
def clients():
    factory = ClientFactory()
    yield factory
    factory.close()


@pytest.mark.parametrize("history", [True, False])
def test_the_client_says_the_setting_and_why_earlier_messages_stay_locked(clients, history):
    owner = Identity.generate()
    settings = RoomSettings.HISTORY_FOR_NEWCOMERS if history else RoomSettings(0)
    keys, secret = create_owned_room(PASSWORD, owner, settings=settings, n=CHEAP)
    relay = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0))
    port = relay.start()
    try:
        alice, alice_events = clients(port, "alice", keys=keys, identity=owner)
        assert alice_events.wait_for(is_(ce.Joined)).history_for_newcomers is history
        alice.send("from before bob came")
        alice_events.wait_for(is_(ce.MessageReceived, own=True))
        _bob, bob_events = clients(port, "bob", password=PASSWORD)
        assert bob_events.wait_for(is_(ce.Joined)).history_for_newcomers is history
        if history:
            bob_events.wait_for(is_(ce.MessageReceived, text="from before bob came"))
        else:
            withheld = bob_events.wait_for(is_(ce.MessageLocked, sender="alice"))
            assert withheld.from_history and withheld.withheld
        # Once her app has heard of bob (a message sent before that, in the moment he came,
        # is under a key that also opens earlier ones: he would not get it).
        alice_events.wait_for(is_(ce.MemberJoined, name="bob"))
        alice.send("after bob came")
        bob_events.wait_for(is_(ce.MessageReceived, text="after bob came"))
        assert ("from before bob came" in bob_events.texts()) is history
    finally:
        relay.stop()
