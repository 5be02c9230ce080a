"""Rooms with an owner on a running relay, over real sockets: the owner appoints admins, admins
remove members (disconnected with GOODBYE REMOVED, refused from then on under any name, LEFT
REMOVED for the others), actions that break the rules are refused with a NOTICE and change
nothing, and the action log is kept in the room file across restarts — where a tampered one
stops the relay from starting."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.identity import Identity
from crypto.kdf import RoomKeys, derive_room_keys
from net import proto
from net.proto import Action, ActionKind, ActionRefused, Authority, FrameType, Reason, _authority
from net.proto._authority import MAX_ACTIONS, MAX_DETAIL
from net.proto._messages import encode_verifier
from net.relay import Relay, RelayConfig, RoomSecret, create_owned_room
from tests.net.relay.support import RelayFactory, wait_until
from tests.net.wire import WireClient

pytestmark = pytest.mark.timeout(60)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")

PASSWORD = "the owners' relay test room"
ALICE, BOB, CAROL, DAVE = (Identity.generate() for _ in range(4))  # alice owns the room


@pytest.fixture(scope="module")
def owned_room() -> tuple[RoomKeys, RoomSecret]:
    return create_owned_room(PASSWORD, ALICE, n=2**10)


@pytest.fixture
def owned(owned_room) -> Iterator[RelayFactory]:
    keys, secret = owned_room
    factory = RelayFactory(secret, keys)
    yield factory
    factory.close()


def roles(client: WireClient, kind: ActionKind) -> proto.RolesChanged:
    """Wait for the RolesChanged that the action of ``kind`` brings."""
    event = client.wait_for(
        lambda e: (
            isinstance(e, proto.RolesChanged) and e.action is not None and e.action.kind is kind
        )
    )
    assert isinstance(event, proto.RolesChanged)
    return event


def act(client: WireClient, kind: ActionKind, target: Identity) -> None:
    client.proto.take_action(kind, target.signing_public)
    client.flush()


def send_act(client: WireClient, payload: bytes) -> None:
    """An ACT frame with ``payload`` as it is, past the client's own checks."""
    client.proto._send_sealed(FrameType.ACT, payload)
    client.flush()


def rule_breaking(client: WireClient, kind: ActionKind, target: Identity) -> bytes:
    """``client``'s own signature on an action the rules do not allow it (its app would not
    sign it): the next in its room's chain, so that only the rules refuse it."""
    authority = client.proto.authority
    assert authority is not None
    unsigned = Action(
        seq=len(authority.actions) + 1,
        kind=kind,
        actor=client.signing_key,
        target=target.signing_public,
        detail="",
        signature=bytes(64),
    )
    message = _authority._signed(authority.room_id, authority._prev, unsigned)
    signature = client.identity.sign(message, context=_authority._CONTEXT)
    return dataclasses.replace(unsigned, signature=signature).encode()


def refusal(relays: RelayFactory, name: str, identity: Identity) -> proto.GoodbyeReceived:
    client = relays.client(name, identity=identity)
    answer = client.wait_for(lambda e: isinstance(e, proto.GoodbyeReceived | proto.Welcomed))
    assert isinstance(answer, proto.GoodbyeReceived), f"{name!r} was let in"
    client.wait_closed()
    return answer


def notice(client: WireClient) -> proto.NoticeReceived:
    return client.wait_type(proto.NoticeReceived)


def relay_actions(relay) -> list[Action]:
    return relay.call(lambda: list(relay.relay.room.authority.actions))


# -- appointing and removing --------------------------------------------------------------------


def test_the_owner_appoints_an_admin_who_removes_a_member(owned, caplog) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    relay = owned.start()
    alice = owned.member("alice", identity=ALICE)
    bob = owned.member("bob", identity=BOB)
    carol = owned.member("carol", identity=CAROL)
    dave = owned.member("dave", identity=DAVE)
    for client in (alice, bob, carol, dave):
        first = client.wait_type(proto.RolesChanged)  # after the WELCOME
        assert first == proto.RolesChanged(
            owner=ALICE.signing_public, admins=frozenset(), action=None
        )

    act(alice, ActionKind.MAKE_ADMIN, BOB)
    for client in (alice, bob, carol, dave):
        assert roles(client, ActionKind.MAKE_ADMIN).admins == {BOB.signing_public}

    act(bob, ActionKind.REMOVE, CAROL)
    goodbye = carol.wait_type(proto.GoodbyeReceived)
    assert goodbye.code is Reason.REMOVED
    assert goodbye.text == "You were removed from the room."
    carol.wait_closed()
    for client in (alice, bob, dave):
        removal = roles(client, ActionKind.REMOVE)
        assert removal.action is not None and removal.action.target == CAROL.signing_public
        assert removal.admins == {BOB.signing_public}
        left = client.wait_type(proto.MemberDeparted)
        assert left == proto.MemberDeparted(name="carol", code=Reason.REMOVED)
    # The action came before the LEFT, in the order the relay queued them.
    for client in (alice, bob, dave):
        kinds = [
            type(e)
            for e in client.events
            if isinstance(e, proto.MemberDeparted)
            or (isinstance(e, proto.RolesChanged) and e.action is not None)
        ]
        assert kinds == [proto.RolesChanged, proto.RolesChanged, proto.MemberDeparted]
    wait_until(lambda: relay.stats().members == ("alice", "bob", "dave"), what="carol gone")

    # Carol cannot come back: not under her name, nor under another one.
    for name in ("carol", "carol2"):
        again = refusal(owned, name, CAROL)
        assert again.code is Reason.REMOVED
    assert relay.stats().members == ("alice", "bob", "dave")
    # Others still can, and learn who is who from the WELCOME.
    erin = owned.member("erin")
    first = erin.wait_type(proto.RolesChanged)
    assert first.owner == ALICE.signing_public and first.admins == {BOB.signing_public}
    assert erin.proto.authority is not None
    assert erin.proto.authority.removed == {CAROL.signing_public}

    owned.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "socketchat.relay"]
    assert any("user alice" in line and "took room action 1: make admin" in line for line in lines)
    assert any("user bob" in line and "took room action 2: remove" in line for line in lines)
    assert any("user carol" in line and "(removed from the room)" in line for line in lines)


def test_a_removed_member_that_is_away_is_refused_when_it_comes(owned) -> None:
    relay = owned.start()
    alice = owned.member("alice", identity=ALICE)
    act(alice, ActionKind.REMOVE, CAROL)  # carol is not here
    roles(alice, ActionKind.REMOVE)
    assert refusal(owned, "carol", CAROL).code is Reason.REMOVED
    assert relay.stats().members == ("alice",)


def test_the_owner_removes_an_admin(owned) -> None:
    owned.start()
    alice = owned.member("alice", identity=ALICE)
    bob = owned.member("bob", identity=BOB)
    act(alice, ActionKind.MAKE_ADMIN, BOB)
    roles(bob, ActionKind.MAKE_ADMIN)
    act(alice, ActionKind.REMOVE, BOB)
    assert bob.wait_type(proto.GoodbyeReceived).code is Reason.REMOVED
    assert roles(alice, ActionKind.REMOVE).admins == frozenset()


# -- refused actions ------------------------------------------------------------------------------


def test_a_members_action_is_refused_with_a_notice_and_changes_nothing(owned) -> None:
    relay = owned.start()
    alice = owned.member("alice", identity=ALICE)
    dave = owned.member("dave", identity=DAVE)
    with pytest.raises(proto.ActionRefused):  # his app knows the rules and sends nothing
        dave.proto.take_action(ActionKind.REMOVE, ALICE.signing_public)
    broadcasts = relay.stats().broadcasts
    for kind, target in ((ActionKind.REMOVE, ALICE), (ActionKind.MAKE_ADMIN, DAVE)):
        send_act(dave, rule_breaking(dave, kind, target))  # a modified app sends it anyway
        refused = notice(dave)
        assert refused.code is Reason.ACTION_REFUSED
        assert "may not take" in refused.text
    # Signed by alice's key, sent by dave: a relay that checks the sender refuses it too.
    theirs = alice.proto.authority
    assert theirs is not None
    borrowed = theirs.sign(ALICE, ActionKind.MAKE_ADMIN, DAVE.signing_public)
    send_act(dave, borrowed.encode())
    assert "another member" in notice(dave).text
    send_act(dave, b"not an action")  # garbage: refused, not a protocol error
    assert notice(dave).code is Reason.ACTION_REFUSED
    # Nothing changed, nothing was broadcast, and dave is still in the room.
    assert relay_actions(relay) == []
    assert relay.stats().broadcasts == broadcasts
    dave.say("still here")
    alice.hear("still here")
    assert not [e for e in alice.events if isinstance(e, proto.RolesChanged) and e.action]
    assert relay.stats().members == ("alice", "dave")


def test_a_late_action_is_refused_with_a_notice(owned) -> None:
    relay = owned.start()
    alice = owned.member("alice", identity=ALICE)
    authority = alice.proto.authority
    assert authority is not None
    first = authority.sign(ALICE, ActionKind.MAKE_ADMIN, BOB.signing_public)
    rival = authority.sign(ALICE, ActionKind.MAKE_ADMIN, CAROL.signing_public)  # the same seq
    send_act(alice, first.encode())
    send_act(alice, rival.encode())
    assert "out of order" in notice(alice).text
    assert roles(alice, ActionKind.MAKE_ADMIN).admins == {BOB.signing_public}
    assert relay_actions(relay) == [first]


def test_a_room_without_an_owner_refuses_every_action(relays) -> None:
    relays.start()
    alice = relays.member("alice", identity=ALICE)
    assert alice.wait_type(proto.RolesChanged).owner is None
    with pytest.raises(proto.ActionRefused):
        alice.proto.take_action(ActionKind.REMOVE, BOB.signing_public)
    genesis = create_owned_room(PASSWORD, ALICE, n=2**10)[1].genesis
    assert genesis is not None
    borrowed = Authority(genesis).sign(ALICE, ActionKind.REMOVE, BOB.signing_public)
    send_act(alice, borrowed.encode())
    assert "no owner" in notice(alice).text
    alice.say("still here")
    alice.hear("still here")


def test_actions_count_against_the_message_rate(owned) -> None:
    owned.start(message_rate=0.001, message_burst=3)
    dave = owned.member("dave", identity=DAVE)
    for _ in range(4):
        send_act(dave, b"junk")
    codes = []
    while Reason.RATE_LIMITED not in codes:
        codes.append(notice(dave).code)
    assert Reason.ACTION_REFUSED in codes


# -- the room file ------------------------------------------------------------------------------


def test_actions_are_kept_in_the_room_file_across_restarts(owned, owned_room, tmp_path) -> None:
    _, secret = owned_room
    path = tmp_path / "office.room"
    secret.save(path)
    relay = owned.start(secret=RoomSecret.load(path), room_file=path)
    alice = owned.member("alice", identity=ALICE)
    bob = owned.member("bob", identity=BOB)
    owned.member("carol", identity=CAROL)
    act(alice, ActionKind.MAKE_ADMIN, BOB)
    roles(bob, ActionKind.MAKE_ADMIN)
    act(bob, ActionKind.REMOVE, CAROL)
    roles(alice, ActionKind.REMOVE)
    saved = relay_actions(relay)
    wait_until(lambda: len(RoomSecret.load(path).actions) == 2, what="the room file")
    loaded = RoomSecret.load(path)
    assert loaded.actions == tuple(action.encode() for action in saved)
    # Everything else in the file is as it was: the same room, relay key and owner.
    assert loaded.with_actions(()) == secret
    assert sorted(p.name for p in tmp_path.iterdir()) == ["office.room"]  # no temporary left
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    relay.stop()

    owned.start(secret=RoomSecret.load(path), room_file=path)
    assert refusal(owned, "carol", CAROL).code is Reason.REMOVED
    back = owned.member("alice", identity=ALICE, expected_relay_key=secret.relay_key)
    first = back.wait_type(proto.RolesChanged)
    assert first.admins == {BOB.signing_public}
    # And the log goes on where it was.
    act(back, ActionKind.UNMAKE_ADMIN, BOB)
    assert roles(back, ActionKind.UNMAKE_ADMIN).admins == frozenset()
    wait_until(lambda: len(RoomSecret.load(path).actions) == 3, what="the room file")


def test_without_a_room_file_actions_live_in_memory(owned, owned_room) -> None:
    relay = owned.start()
    alice = owned.member("alice", identity=ALICE)
    act(alice, ActionKind.MAKE_ADMIN, BOB)
    roles(alice, ActionKind.MAKE_ADMIN)
    held = relay.call(lambda: relay.relay.secret)
    assert len(held.actions) == 1 and held.relay_key == owned_room[1].relay_key


def test_a_room_file_that_cannot_be_written_is_logged_and_the_room_goes_on(
    owned, owned_room, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="socketchat.relay")
    path = tmp_path / "office.room"
    owned_room[1].save(path)
    gone = tmp_path / "gone" / "office.room"  # its folder was removed: nothing can be written
    owned.start(secret=RoomSecret.load(path), room_file=gone)
    alice = owned.member("alice", identity=ALICE)
    act(alice, ActionKind.MAKE_ADMIN, BOB)
    assert roles(alice, ActionKind.MAKE_ADMIN).admins == {BOB.signing_public}
    wait_until(
        lambda: any(
            f"cannot save the room's actions to {gone}" in r.getMessage() for r in caplog.records
        ),
        what="the warning",
    )
    act(alice, ActionKind.MAKE_ADMIN, CAROL)  # the room goes on, and the next one tries again
    assert roles(alice, ActionKind.MAKE_ADMIN).admins == {BOB.signing_public, CAROL.signing_public}
    wait_until(
        lambda: (
            sum("cannot save the room's actions" in r.getMessage() for r in caplog.records) == 2
        ),
        what="the second warning",
    )


def _tampered_room_file(tmp_path: Path, secret: RoomSecret) -> Path:
    genesis = secret.genesis
    assert genesis is not None
    authority = Authority(genesis)
    actions = []
    for kind, target in ((ActionKind.MAKE_ADMIN, BOB), (ActionKind.REMOVE, CAROL)):
        action = authority.sign(ALICE, kind, target.signing_public)
        authority.apply(action)
        actions.append(action.encode())
    path = tmp_path / "office.room"
    secret.with_actions(actions).save(path)
    document = json.loads(path.read_text())
    # The second action now removes dave instead of carol: well formed, not what alice signed.
    second = bytearray(bytes.fromhex(document["actions"][1]))
    second[4 + 1 + 32 : 4 + 1 + 64] = DAVE.signing_public
    document["actions"][1] = second.hex()
    path.write_text(json.dumps(document))
    return path


def test_a_room_file_with_a_tampered_action_is_refused_at_start(owned_room, tmp_path) -> None:
    path = _tampered_room_file(tmp_path, owned_room[1])
    secret = RoomSecret.load(path)  # the form is right; the chain is not
    with pytest.raises(ValueError) as info:
        Relay(secret, RelayConfig(host="127.0.0.1", port=0), room_file=path)
    message = str(info.value)
    assert str(path) in message and "damaged" in message
    assert "action 2 of 2" in message and "signature does not verify" in message
    assert "Restore it from a backup" in message
    with pytest.raises(ValueError, match="The room is damaged"):  # with no file to name
        Relay(secret)


def test_the_longest_action_log_still_fits_a_welcome(owned_room) -> None:
    # The rules cap the log (1,000 actions, details of 128 bytes at most) so that a WELCOME
    # carrying all of it stays far under the client's frame cap (1 MiB).
    keys, secret = owned_room
    assert secret.genesis is not None
    authority = Authority(secret.genesis)
    for n in range(MAX_ACTIONS):
        detail = f"{n:05d}".ljust(MAX_DETAIL, "x")
        authority.apply(authority.sign(ALICE, ActionKind.RELEASE_NAME, detail=detail))
    with pytest.raises(ActionRefused, match="full"):
        authority.apply(authority.sign(ALICE, ActionKind.RELEASE_NAME, detail="one more"))
    big = secret.with_actions(action.encode() for action in authority.actions)
    factory = RelayFactory(big, keys)
    try:
        factory.start()
        welcomed = factory.client("alice", identity=ALICE).join()
        assert welcomed.your_name == "alice"
    finally:
        factory.close()


# -- changing the password ------------------------------------------------------------------------


def test_a_password_change_needs_its_verifier_and_one_for_another_action_does_not_do(
    owned,
) -> None:
    relay = owned.start()
    alice = owned.member("alice", identity=ALICE)
    authority = alice.proto.authority
    assert authority is not None
    change = authority.sign(ALICE, ActionKind.CHANGE_PASSWORD)
    send_act(alice, change.encode())  # no VERIFIER came before it
    assert "without the new verifier" in notice(alice).text
    alice.proto._send_sealed(FrameType.VERIFIER, encode_verifier(change.seq + 1, bytes(32)))
    send_act(alice, change.encode())  # a verifier for another action number
    assert "without the new verifier" in notice(alice).text
    assert relay_actions(relay) == []
    assert alice.proto.state is proto.ClientState.JOINED  # told, not disconnected


def test_a_password_change_swaps_the_verifier_in_the_room_file_and_closes_everyone(
    owned_room, tmp_path
) -> None:
    keys, secret = owned_room
    path = tmp_path / "room.json"
    secret.save(path)
    factory = RelayFactory(secret, keys)
    try:
        factory.start(room_file=path)
        alice = factory.member("alice", identity=ALICE)
        bob = factory.member("bob", identity=BOB)
        alice.wait_for(lambda e: isinstance(e, proto.MemberArrived))  # she knows bob is here
        new_keys = derive_room_keys("the next passphrase", room_id=keys.room_id, n=2**10)
        alice.proto.change_password("the next passphrase", new_keys)
        alice.flush()
        changed = bob.wait_type(proto.PasswordChanged)
        assert changed.password == "the next passphrase"
        goodbye = bob.wait_type(proto.GoodbyeReceived)
        assert goodbye.code is Reason.PASSWORD_CHANGED
        assert RoomSecret.load(path).access == new_keys.access  # a restart keeps the new one
        assert RoomSecret.load(path).access != keys.access
    finally:
        factory.close()
