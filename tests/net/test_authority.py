"""net.proto._authority: who may do what in a room with an owner, and the signed, chained
actions that change it.

The rules (the module docstring): only the owner makes or unmakes admins and removes an admin;
admins remove members; nobody removes the owner or themselves; a removed admin acts no more;
``seq`` is one more than the last and each action is chained to the one before, so whoever
passes the log on (the relay) can neither forge, reorder nor drop an action from its middle;
a changed byte anywhere, a signature by someone else, an unknown kind and a malformed encoding
are all refused, and a refused action changes nothing.
"""

from __future__ import annotations

import dataclasses

import pytest

from crypto.genesis import Genesis
from net.proto import Action, ActionKind, ActionRefused, Authority, Role, _authority
from tests.net.helpers import identity

OWNER, BOB, CAROL, DAVE = (identity(name) for name in ("alice", "bob", "carol", "dave"))
GENESIS = Genesis.create(OWNER, nonce=bytes(16))


def key(who) -> bytes:
    return who.signing_public


def state(authority: Authority) -> tuple[object, ...]:
    """Everything an action can change, to compare before and after a refusal."""
    return (
        set(authority.admins),
        set(authority.removed),
        list(authority.released),
        list(authority.actions),
        authority._prev,
    )


def take(authority: Authority, actor, kind: ActionKind, target=None, detail: str = "") -> Action:
    """Sign and apply; return the action."""
    action = authority.sign(actor, kind, key(target) if target is not None else bytes(32), detail)
    authority.apply(action)
    return action


def refused(authority: Authority, action: Action, words: str | None = None) -> None:
    before = state(authority)
    with pytest.raises(ActionRefused, match=words):
        authority.apply(action)
    assert state(authority) == before


def forge(authority: Authority, signer, kind: ActionKind, target, *, actor=None) -> Action:
    """An action for ``authority``'s next place, signed by ``signer`` whatever the rules say
    (``sign`` would refuse it): what a rule-breaking client could send."""
    actor = actor if actor is not None else signer
    unsigned = Action(
        seq=len(authority.actions) + 1,
        kind=kind,
        actor=key(actor),
        target=key(target),
        detail="",
        signature=bytes(64),
    )
    message = _authority._signed(authority.room_id, authority._prev, unsigned)
    signature = signer.sign(message, context=_authority._CONTEXT)
    return dataclasses.replace(unsigned, signature=signature)


@pytest.fixture
def room() -> Authority:
    return Authority(GENESIS)


@pytest.fixture
def with_admin(room: Authority) -> Authority:
    take(room, OWNER, ActionKind.MAKE_ADMIN, BOB)
    return room


# -- roles and the rules ----------------------------------------------------------------------


def test_a_new_room_has_its_owner_and_nobody_else(room) -> None:
    assert room.owner == key(OWNER) and room.room_id == GENESIS.room_id
    assert room.role(key(OWNER)) is Role.OWNER
    assert room.role(key(BOB)) is Role.MEMBER
    assert room.admins == set() and room.removed == set() and room.actions == []


def test_the_owner_makes_and_unmakes_admins(room) -> None:
    take(room, OWNER, ActionKind.MAKE_ADMIN, BOB)
    assert room.role(key(BOB)) is Role.ADMIN and room.admins == {key(BOB)}
    take(room, OWNER, ActionKind.UNMAKE_ADMIN, BOB)
    assert room.role(key(BOB)) is Role.MEMBER and room.admins == set()
    # An admin no more: he may not remove anybody.
    assert not room.may(key(BOB), ActionKind.REMOVE, key(CAROL))


def test_only_the_owner_makes_or_unmakes_admins(with_admin) -> None:
    take(with_admin, OWNER, ActionKind.MAKE_ADMIN, CAROL)
    for kind in (ActionKind.MAKE_ADMIN, ActionKind.UNMAKE_ADMIN):
        for actor, target in ((BOB, DAVE), (BOB, CAROL), (DAVE, BOB), (DAVE, DAVE)):
            assert not with_admin.may(key(actor), kind, key(target))
            with pytest.raises(ActionRefused):
                with_admin.sign(actor, kind, key(target))
            refused(with_admin, forge(with_admin, actor, kind, target), "may not take")
    # The owner cannot make or unmake himself either: he is the owner.
    assert not with_admin.may(key(OWNER), ActionKind.MAKE_ADMIN, key(OWNER))
    assert not with_admin.may(key(OWNER), ActionKind.UNMAKE_ADMIN, key(OWNER))


def test_admins_remove_members_but_not_admins_or_the_owner(with_admin) -> None:
    take(with_admin, OWNER, ActionKind.MAKE_ADMIN, CAROL)
    for target in (CAROL, OWNER):
        assert not with_admin.may(key(BOB), ActionKind.REMOVE, key(target))
        refused(with_admin, forge(with_admin, BOB, ActionKind.REMOVE, target), "may not take")
    take(with_admin, BOB, ActionKind.REMOVE, DAVE)
    assert with_admin.removed == {key(DAVE)}


def test_the_owner_removes_an_admin_who_then_is_no_admin(with_admin) -> None:
    take(with_admin, OWNER, ActionKind.REMOVE, BOB)
    assert with_admin.removed == {key(BOB)} and with_admin.admins == set()
    assert with_admin.role(key(BOB)) is Role.MEMBER


def test_nobody_removes_the_owner_or_themselves(with_admin) -> None:
    for actor, target in ((OWNER, OWNER), (BOB, BOB), (BOB, OWNER)):
        assert not with_admin.may(key(actor), ActionKind.REMOVE, key(target))
        with pytest.raises(ActionRefused):
            with_admin.sign(actor, ActionKind.REMOVE, key(target))
        refused(with_admin, forge(with_admin, actor, ActionKind.REMOVE, target))


def test_members_take_no_action_at_all(room) -> None:
    for kind in ActionKind:
        assert not room.may(key(DAVE), kind, key(CAROL))
        with pytest.raises(ActionRefused, match="may not take"):
            room.sign(DAVE, kind, key(CAROL))
        refused(room, forge(room, DAVE, kind, CAROL), "may not take")


def test_a_removed_admin_acts_no_more(with_admin) -> None:
    late = with_admin.sign(BOB, ActionKind.REMOVE, key(DAVE))  # signed while still an admin
    take(with_admin, OWNER, ActionKind.REMOVE, BOB)
    made_again = take(with_admin, OWNER, ActionKind.MAKE_ADMIN, BOB)  # even made admin again
    assert made_again.seq == 3
    assert not with_admin.may(key(BOB), ActionKind.REMOVE, key(DAVE))
    refused(with_admin, late)
    refused(with_admin, forge(with_admin, BOB, ActionKind.REMOVE, DAVE), "may not take")


def test_the_same_identity_is_not_removed_twice(room) -> None:
    take(room, OWNER, ActionKind.REMOVE, CAROL)
    refused(room, forge(room, OWNER, ActionKind.REMOVE, CAROL), "already removed")


def test_admins_release_names_and_the_release_is_kept(with_admin) -> None:
    take(with_admin, BOB, ActionKind.RELEASE_NAME, detail="Zoë")
    assert with_admin.released == ["Zoë"]
    with pytest.raises(ActionRefused):
        with_admin.sign(DAVE, ActionKind.RELEASE_NAME, detail="bob")


def test_sign_makes_the_next_action_without_applying_it(room) -> None:
    action = room.sign(OWNER, ActionKind.MAKE_ADMIN, key(BOB), "trusted")
    assert (action.seq, action.kind, action.actor, action.target, action.detail) == (
        1,
        ActionKind.MAKE_ADMIN,
        key(OWNER),
        key(BOB),
        "trusted",
    )
    assert room.actions == [] and room.admins == set()
    room.apply(action)
    assert room.actions == [action]


def test_a_detail_over_128_bytes_is_refused(room) -> None:
    with pytest.raises(ActionRefused, match="128"):
        room.sign(OWNER, ActionKind.RELEASE_NAME, detail="é" * 64 + "x")  # 129 bytes of UTF-8
    take(room, OWNER, ActionKind.RELEASE_NAME, detail="é" * 64)  # 128: fine


# -- signatures, order and the chain ------------------------------------------------------------


def test_an_action_signed_by_someone_else_is_refused(room) -> None:
    # Bob signs "alice makes bob admin": the actor's key does not verify his signature.
    action = forge(room, BOB, ActionKind.MAKE_ADMIN, BOB, actor=OWNER)
    refused(room, action, "signature does not verify")


def test_a_changed_byte_anywhere_is_refused(room) -> None:
    action = room.sign(OWNER, ActionKind.MAKE_ADMIN, key(BOB), "a detail")
    encoded = action.encode()
    for index in range(len(encoded)):
        for flip in (0x01, 0x80):
            changed = bytearray(encoded)
            changed[index] ^= flip
            before = state(room)
            with pytest.raises(ActionRefused):
                room.apply(Action.decode(bytes(changed)))
            assert state(room) == before, index
    room.apply(Action.decode(encoded))  # the original still applies


def test_seq_must_be_the_next(room) -> None:
    first = room.sign(OWNER, ActionKind.MAKE_ADMIN, key(BOB))
    for seq in (0, 2, 2**32 - 1):
        refused(room, dataclasses.replace(first, seq=seq), "out of order")
    room.apply(first)
    refused(room, first, "out of order")  # the same action again: a replay


def test_a_relay_cannot_reorder_or_drop_from_the_middle() -> None:
    signer = Authority(GENESIS)
    log = [
        take(signer, OWNER, ActionKind.MAKE_ADMIN, BOB),
        take(signer, BOB, ActionKind.REMOVE, CAROL),
        take(signer, OWNER, ActionKind.MAKE_ADMIN, DAVE),
    ]
    for tampered in ([log[1], log[0], log[2]], [log[0], log[2]], [log[1], log[2]]):
        with pytest.raises(ActionRefused):
            Authority(GENESIS).apply_all(tampered)
    # Renumbered to hide the gap, the chain still breaks: the signature covers prev and seq.
    renumbered = dataclasses.replace(log[2], seq=2)
    checker = Authority(GENESIS)
    checker.apply(log[0])
    refused(checker, renumbered, "signature does not verify")
    # Dropping only the newest is what a relay can do (withhold the latest): the rest holds.
    prefix = Authority(GENESIS)
    prefix.apply_all(log[:2])
    assert prefix.removed == {key(CAROL)} and prefix.admins == {key(BOB)}
    whole = Authority(GENESIS)
    whole.apply_all(log)
    assert whole.admins == {key(BOB), key(DAVE)}


def test_an_action_for_another_room_is_refused() -> None:
    other = Authority(Genesis.create(OWNER, nonce=bytes([1]) * 16))  # same owner, another room
    action = other.sign(OWNER, ActionKind.MAKE_ADMIN, key(BOB))
    refused(Authority(GENESIS), action, "signature does not verify")


def test_an_action_signed_after_another_fork_is_refused(room) -> None:
    # Two actions both signed as seq 1; once one is in, the other is late.
    first = room.sign(OWNER, ActionKind.MAKE_ADMIN, key(BOB))
    rival = room.sign(OWNER, ActionKind.MAKE_ADMIN, key(CAROL))
    room.apply(first)
    refused(room, rival, "out of order")
    refused(room, dataclasses.replace(rival, seq=2), "signature does not verify")


def test_a_full_log_takes_no_more(room, monkeypatch) -> None:
    monkeypatch.setattr(_authority, "MAX_ACTIONS", 2)
    take(room, OWNER, ActionKind.MAKE_ADMIN, BOB)
    take(room, OWNER, ActionKind.MAKE_ADMIN, CAROL)
    refused(room, forge(room, OWNER, ActionKind.MAKE_ADMIN, DAVE), "full")


# -- encodings ----------------------------------------------------------------------------------


def test_encode_and_decode_round_trip(room) -> None:
    action = room.sign(OWNER, ActionKind.RELEASE_NAME, bytes(32), "Zoë")
    encoded = action.encode()
    assert len(encoded) == 4 + 1 + 32 + 32 + 1 + len("Zoë".encode()) + 64
    assert Action.decode(encoded) == action


def test_an_unknown_kind_is_refused(room) -> None:
    encoded = bytearray(room.sign(OWNER, ActionKind.MAKE_ADMIN, key(BOB)).encode())
    for kind in (0, 6, 255):
        encoded[4] = kind
        with pytest.raises(ActionRefused, match="unknown kind"):
            Action.decode(bytes(encoded))


def test_truncated_and_oversized_encodings_are_refused(room) -> None:
    encoded = room.sign(OWNER, ActionKind.RELEASE_NAME, bytes(32), "name").encode()
    for bad in (
        b"",
        encoded[:10],
        encoded[: 4 + 1 + 32 + 32 + 1 + 64 - 1],  # shorter than the shortest action
        encoded[:-1],
        encoded + b"\x00",
        encoded + bytes(300),
    ):
        with pytest.raises(ActionRefused):
            Action.decode(bad)
    # The detail length says more than there is, or less.
    longer = bytearray(encoded)
    longer[69] += 1
    shorter = bytearray(encoded)
    shorter[69] -= 1
    for bad in (bytes(longer), bytes(shorter)):
        with pytest.raises(ActionRefused, match="wrong length"):
            Action.decode(bad)


def test_a_detail_that_is_not_utf8_is_refused(room) -> None:
    encoded = bytearray(room.sign(OWNER, ActionKind.RELEASE_NAME, bytes(32), "ab").encode())
    encoded[70] = 0xFF
    with pytest.raises(ActionRefused, match="malformed detail"):
        Action.decode(bytes(encoded))
