"""Owners and admins end to end through the cores: clients check the genesis and every action
the relay passes on, take actions, and a relay cannot forge, reorder or invent one."""

from __future__ import annotations

import pytest

from crypto.genesis import Genesis
from crypto.kdf import derive_room_keys
from crypto.spake2 import Spake2Secret
from net import proto
from net.proto import ActionKind, ActionRefused, Authority
from net.proto._frames import Reason
from tests.net.helpers import Pair, Room, identity, make_client, make_relay

PASSWORD = "the owners' room"


@pytest.fixture(scope="module")
def genesis() -> Genesis:
    return Genesis.create(identity("alice"))


@pytest.fixture(scope="module")
def keys(genesis: Genesis):
    return derive_room_keys(PASSWORD, room_id=genesis.room_id, n=2**10)


@pytest.fixture
def room(genesis: Genesis, keys) -> Room:
    secret = Spake2Secret.from_access_key(keys.access)
    return Room(secret, room_id=genesis.room_id, authority=Authority(genesis))


def join(room: Room, keys, name: str) -> Pair:
    pair = room.connect(make_client(name, keys, room_id=keys.room_id))
    room.pump()
    return pair


def roles(pair: Pair) -> list[proto.RolesChanged]:
    return [e for e in pair.client_events if isinstance(e, proto.RolesChanged)]


def test_the_genesis_names_the_owner_and_actions_reach_everyone(room, keys):
    alice, bob, carol = (join(room, keys, n) for n in ("alice", "bob", "carol"))
    alice_key = identity("alice").signing_public
    bob_key = identity("bob").signing_public
    assert roles(carol)[0] == proto.RolesChanged(owner=alice_key, admins=frozenset(), action=None)
    for pair in (alice, bob, carol):
        pair.take()
    alice.client.take_action(ActionKind.MAKE_ADMIN, bob_key)
    room.pump()
    for pair in (alice, bob, carol):
        (changed,) = roles(pair)
        assert changed.admins == frozenset({bob_key})
        assert changed.action is not None and changed.action.kind is ActionKind.MAKE_ADMIN
    # A newcomer gets the whole log in its WELCOME and checks it.
    dave = join(room, keys, "dave")
    assert roles(dave)[0].admins == frozenset({bob_key})


def test_an_admin_removes_a_member_who_is_disconnected_refused_and_left_out(room, keys):
    alice, bob, carol = (join(room, keys, n) for n in ("alice", "bob", "carol"))
    alice.client.take_action(ActionKind.MAKE_ADMIN, identity("bob").signing_public)
    alice.client.send_messages([("before", alice.client.new_message_id(), 4)])  # carol has it
    room.pump()
    for pair in (alice, bob, carol):
        pair.take()
    bob.client.take_action(ActionKind.REMOVE, identity("carol").signing_public)
    room.pump()
    assert any(
        isinstance(e, proto.GoodbyeReceived) and e.code is Reason.REMOVED
        for e in carol.client_events
    )
    left = [e for e in alice.client_events if isinstance(e, proto.MemberDeparted)]
    assert left == [proto.MemberDeparted(name="carol", code=Reason.REMOVED)]
    assert "carol" not in alice.client.members
    # Carol's identity is refused from now on, under any name.
    again = room.connect(
        make_client("carol2", keys, room_id=keys.room_id, device=identity("carol"))
    )
    assert any(
        isinstance(e, proto.GoodbyeReceived) and e.code is Reason.REMOVED
        for e in again.client_events
    )
    # Alice's next message goes under a fresh key (a new epoch), sealed to bob only.
    before = len(room.addressed)
    alice.client.send_messages([("after carol", alice.client.new_message_id(), 5)])
    room.pump()
    fresh = [a for a in room.addressed[before:] if a.sender == "alice"]
    assert [a.recipient for a in fresh] == [identity("bob").signing_public]
    assert all(a.epoch > 1 for a in fresh)


def test_members_cannot_act_and_the_refusal_is_told(room, keys):
    alice, bob = join(room, keys, "alice"), join(room, keys, "bob")
    with pytest.raises(ActionRefused):  # the client knows the rules itself
        bob.client.take_action(ActionKind.REMOVE, identity("alice").signing_public)
    # A late action (another came first) is refused by the room and told, nothing changes.
    first = alice.client.authority.sign(identity("alice"), ActionKind.MAKE_ADMIN, b"\1" * 32)
    second = alice.client.authority.sign(identity("alice"), ActionKind.MAKE_ADMIN, b"\2" * 32)
    alice.client._send_sealed(proto.FrameType.ACT, first.encode())
    alice.client._send_sealed(proto.FrameType.ACT, second.encode())  # the same seq
    alice.take()
    room.pump()
    notices = [e for e in alice.client_events if isinstance(e, proto.NoticeReceived)]
    assert [n.code for n in notices] == [Reason.ACTION_REFUSED]
    assert alice.client.authority.admins == {b"\1" * 32}


def test_a_relay_cannot_forge_an_action(room, keys):
    join(room, keys, "alice")
    bob = join(room, keys, "bob")
    bob.take()
    # The relay makes bob an admin "signed by alice", without alice's key.
    forged = proto.Action(
        seq=1,
        kind=ActionKind.MAKE_ADMIN,
        actor=identity("alice").signing_public,
        target=identity("bob").signing_public,
        detail="",
        signature=bytes(64),
    )
    room.room.queue(proto.encode_item(proto.ActionItem(action=forged.encode())))
    room.flush()
    bob.shuttle()
    assert any(isinstance(e, proto.ProtocolViolation) for e in bob.client_events)


def test_a_genesis_for_another_room_is_a_violation(genesis, keys):
    other = Genesis.create(identity("mallory"))
    secret = Spake2Secret.from_access_key(keys.access)
    room = Room(secret, room_id=genesis.room_id, authority=Authority(other))
    pair = room.connect(make_client("alice", keys, room_id=keys.room_id))
    assert any(isinstance(e, proto.ProtocolViolation) for e in pair.client_events)


def test_a_room_without_an_owner_has_no_roles_and_refuses_actions(room_keys, relay_secret):
    room = Room(relay_secret)
    pair = room.connect(make_client("alice", room_keys))
    assert roles(pair)[0] == proto.RolesChanged(owner=None, admins=frozenset(), action=None)
    with pytest.raises(ActionRefused):
        pair.client.take_action(ActionKind.REMOVE, b"\1" * 32)


def test_remove_and_change_password_reaches_those_who_stay_and_locks_out_the_old_one(
    room, keys, genesis
):
    alice, bob, carol = (join(room, keys, n) for n in ("alice", "bob", "carol"))
    for pair in (alice, bob, carol):
        pair.take()
    new_keys = derive_room_keys("a brand new passphrase", room_id=genesis.room_id, n=2**10)
    alice.client.change_password(
        "a brand new passphrase", new_keys, remove=identity("carol").signing_public
    )
    room.pump()
    # Bob: the new password came sealed to him, then the relay closed everyone's connection.
    changed = [e for e in bob.client_events if isinstance(e, proto.PasswordChanged)]
    assert changed == [
        proto.PasswordChanged(
            password="a brand new passphrase", actor=identity("alice").signing_public
        )
    ]
    assert isinstance(bob.client_events[-1], proto.GoodbyeReceived)
    assert bob.client_events[-1].code is Reason.PASSWORD_CHANGED
    own = [e for e in alice.client_events if isinstance(e, proto.PasswordChanged)]
    assert [e.password for e in own] == ["a brand new passphrase"]
    # Carol was removed first and never got it (not even sealed: nothing was addressed to her).
    assert not [e for e in carol.client_events if isinstance(e, proto.PasswordChanged)]
    assert any(
        isinstance(e, proto.GoodbyeReceived) and e.code is Reason.REMOVED
        for e in carol.client_events
    )
    # The old password no longer works, whatever the identity; the new one does.
    mallory = Pair(
        make_client("mallory", keys, room_id=keys.room_id),
        make_relay(0x4444, label=b"relay after the change"),
        credentials=room.credentials,
    )
    mallory.handshake()
    assert any(isinstance(e, proto.AuthenticationFailed) for e in mallory.client_events)
    back = join(room, new_keys, "bob")
    again = join(room, new_keys, "alice")
    assert "bob" in again.client.members  # bob's new tag proves the new password to alice
    assert not [e for e in again.client_events if isinstance(e, proto.MemberUnproven)]
    assert back.client.authority is not None
    assert [a.kind for a in back.client.authority.actions] == [
        ActionKind.REMOVE,
        ActionKind.CHANGE_PASSWORD,
    ]


def test_a_password_change_without_its_verifier_is_refused(room, keys):
    alice = join(room, keys, "alice")
    alice.take()
    change = alice.client.authority.sign(identity("alice"), ActionKind.CHANGE_PASSWORD)
    alice.client._send_sealed(proto.FrameType.ACT, change.encode())
    room.pump()
    notices = [e for e in alice.client_events if isinstance(e, proto.NoticeReceived)]
    assert [n.code for n in notices] == [Reason.ACTION_REFUSED]
    assert alice.client.state is proto.ClientState.JOINED
