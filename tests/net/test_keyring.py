"""net.proto.Keyring: when a member moves to a new sender key, who gets it, replays remembered."""

from __future__ import annotations

import pytest

from crypto import epoch as sk
from crypto.identity import Identity
from net.proto import Keyring
from net.proto._keyring import (
    MAX_AGE_MS,
    MAX_MESSAGES,
    MAX_PENDING,
    MAX_SENDERS,
    RECENT,
    Recipient,
)

ROOM = bytes(range(16))
MEMBER_KEY = bytes(range(32, 64))
ALICE, BOB, CAROL, DAVE = (Identity.generate() for _ in range(4))


def who(*identities: Identity) -> list[Recipient]:
    return [Recipient(i.signing_public, i.dh_public) for i in identities]


def send(ring: Keyring, *members: Identity, count: int = 1, now_ms: int = 0):
    return ring.prepare_send(
        room_id=ROOM,
        member_key=MEMBER_KEY,
        recipients=lambda: who(*members),
        count=count,
        now_ms=now_ms,
    )


def opened(to: Identity, blob: bytes, by: Identity = ALICE) -> sk.OpenedShare:
    return sk.open_share(
        to, blob, distributor=by.signing_public, room_id=ROOM, member_key=MEMBER_KEY
    )


def test_the_first_message_makes_a_key_and_seals_it_to_everyone_else():
    ring = Keyring(ALICE)
    epoch, key, counter, shares = send(ring, ALICE, BOB, CAROL)
    assert (epoch, counter) == (1, 1)
    assert [recipient for recipient, _ in shares] == [BOB.signing_public, CAROL.signing_public]
    share = opened(BOB, shares[0][1])
    assert (share.owner, share.epoch) == (ALICE.signing_public, 1)
    assert (
        sk.message_key(share.sender_key, room_id=ROOM, signing_key=ALICE.signing_public, epoch=1)
        == key
    )
    assert ring.must_store  # a new epoch is stored before anything sealed under it leaves


def test_nothing_changes_nothing_is_shared_and_counters_go_on():
    ring = Keyring(ALICE)
    send(ring, ALICE, BOB, count=3)
    epoch, _, counter, shares = send(ring, ALICE, BOB)
    assert (epoch, counter, shares) == (1, 4, [])


def test_an_arrival_steps_the_ratchet_and_only_the_newcomer_gets_a_share():
    ring = Keyring(ALICE)
    _, _, _, shares = send(ring, ALICE, BOB)
    bobs = opened(BOB, shares[0][1])
    ring.member_joined(CAROL.signing_public)
    epoch, key, counter, shares = send(ring, ALICE, BOB, CAROL)
    assert (epoch, counter) == (2, 1)
    assert [recipient for recipient, _ in shares] == [CAROL.signing_public]
    carols = opened(CAROL, shares[0][1])
    # Bob follows the ratchet himself; Carol's key cannot be walked back to epoch 1.
    bob_ring = Keyring(BOB)
    bob_ring.remember(ALICE.signing_public, 1, bobs.sender_key, from_owner=True)
    derived, held = bob_ring.sender_key(ALICE.signing_public, 2, room_id=ROOM)
    assert (derived, held) == (carols.sender_key, False)
    assert sk.message_key(derived, room_id=ROOM, signing_key=ALICE.signing_public, epoch=2) == key
    assert carols.sender_key != bobs.sender_key


def test_a_departure_makes_a_fresh_key_for_those_who_stay():
    ring = Keyring(ALICE)
    _, _, _, shares = send(ring, ALICE, BOB, CAROL)
    carols = opened(CAROL, shares[1][1])
    ring.member_left(CAROL.signing_public)
    epoch, key, _, shares = send(ring, ALICE, BOB)
    assert epoch == 2
    assert [recipient for recipient, _ in shares] == [BOB.signing_public]
    # Carol's old key, ratchet or not, opens nothing under the new one.
    carol_ring = Keyring(CAROL)
    carol_ring.remember(ALICE.signing_public, 1, carols.sender_key, from_owner=True)
    guess, _ = carol_ring.sender_key(ALICE.signing_public, 2, room_id=ROOM)
    assert sk.message_key(guess, room_id=ROOM, signing_key=ALICE.signing_public, epoch=2) != key


def test_a_departure_while_we_were_away_counts_too():
    ring = Keyring(ALICE)
    send(ring, ALICE, BOB, CAROL)
    ring.members_now([ALICE.signing_public, BOB.signing_public])  # the relay's list on rejoin
    epoch, _, _, shares = send(ring, ALICE, BOB)
    assert epoch == 2 and [r for r, _ in shares] == [BOB.signing_public]


def test_keys_move_on_after_500_messages_or_a_day():
    ring = Keyring(ALICE)
    send(ring, ALICE, BOB, count=MAX_MESSAGES - 1, now_ms=1000)
    assert send(ring, ALICE, BOB, now_ms=1000)[0] == 1  # the 500th
    assert send(ring, ALICE, BOB, now_ms=1000)[0] == 2  # the 501st goes under a new key
    assert send(ring, ALICE, BOB, now_ms=1000 + MAX_AGE_MS - 1)[0] == 2
    assert send(ring, ALICE, BOB, now_ms=1000 + MAX_AGE_MS)[0] == 3
    assert send(ring, ALICE, BOB, now_ms=0)[0] == 4  # a clock that went back


def test_replays_are_refused_even_after_a_restart():
    ring = Keyring(BOB)
    owner = ALICE.signing_public
    assert ring.fresh_live(owner, 1, 1) and ring.fresh_live(owner, 1, 2)
    assert not ring.fresh_live(owner, 1, 2) and not ring.fresh_live(owner, 1, 1)
    assert ring.fresh_live(owner, 2, 1)
    assert not ring.fresh_live(owner, 1, 3)  # an older epoch is stale, whatever its counter
    restarted = Keyring(BOB, state=ring.state())
    assert not restarted.fresh_live(owner, 2, 1)
    assert restarted.fresh_live(owner, 2, 2)


def test_epochs_are_never_reused_after_a_restart():
    ring = Keyring(ALICE)
    send(ring, ALICE, BOB)
    ring.member_left(BOB.signing_public)
    send(ring, ALICE, CAROL)
    restarted = Keyring(ALICE, state=ring.state())
    assert send(restarted, ALICE, BOB)[0] == 3


@pytest.mark.parametrize(
    "state",
    [{"next_epoch": "3"}, {"next_epoch": 0}, {"accepted": {"zz": [1, 2]}}, {"accepted": []}],
)
def test_a_damaged_state_starts_over_without_crashing(state):
    ring = Keyring(ALICE, state=state)
    assert send(ring, ALICE, BOB)[0] == 1


def test_history_for_newcomers_answers():
    ring = Keyring(ALICE)
    send(ring, ALICE, BOB)
    own = (ALICE.signing_public, 1)
    ring.seen(*own)
    carol_key = sk.new_sender_key()
    ring.remember(CAROL.signing_public, 4, carol_key, from_owner=True)
    ring.seen(CAROL.signing_public, 4)
    ask = [own, (CAROL.signing_public, 4), (BOB.signing_public, 9)]
    present = {ALICE.signing_public, BOB.signing_public, DAVE.signing_public}
    given = ring.answer(DAVE.signing_public, ask, present=present)
    assert [key_id for key_id, _ in given] == [own, (CAROL.signing_public, 4)]
    # Carol is here to answer for herself: nobody else hands out her keys.
    eve = Identity.generate().signing_public
    given = ring.answer(eve, ask, present=present | {CAROL.signing_public, eve})
    assert [key_id for key_id, _ in given] == [own]


def test_without_history_a_newcomer_gets_nothing_from_before_it_came():
    ring = Keyring(ALICE, history_for_newcomers=False)
    send(ring, ALICE, BOB)
    ring.seen(ALICE.signing_public, 1)
    ring.member_joined(DAVE.signing_public)
    assert ring.answer(DAVE.signing_public, [(ALICE.signing_public, 1)], present=set()) == []
    epoch = send(ring, ALICE, BOB, DAVE)[0]
    given = ring.answer(DAVE.signing_public, [(ALICE.signing_public, epoch)], present=set())
    assert [key_id for key_id, _ in given] == [(ALICE.signing_public, epoch)]


def test_old_keys_are_deleted_once_nothing_recent_needs_them():
    ring = Keyring(BOB)
    owner = ALICE.signing_public
    ring.remember(owner, 1, sk.new_sender_key(), from_owner=True)
    ring.seen(owner, 1)
    ring.remember(owner, 2, sk.new_sender_key(), from_owner=True)
    for _ in range(RECENT - 1):
        ring.seen(owner, 2)
    assert ring.sender_key(owner, 1, room_id=ROOM) is not None  # still among the recent
    ring.seen(owner, 2)
    assert ring.sender_key(owner, 1, room_id=ROOM) is None  # gone: nothing recent needs it
    assert ring.sender_key(owner, 2, room_id=ROOM) is not None  # the newest stays


def test_the_ratchet_is_followed_only_so_far():
    ring = Keyring(BOB)
    ring.remember(ALICE.signing_public, 1, sk.new_sender_key(), from_owner=True)
    assert ring.sender_key(ALICE.signing_public, 65, room_id=ROOM) is not None
    assert ring.sender_key(ALICE.signing_public, 66, room_id=ROOM) is None


def test_held_messages_are_bounded_and_released_by_owner():
    ring = Keyring(BOB)
    for n in range(MAX_PENDING + 5):
        ring.hold(n.to_bytes(16, "big"), (ALICE.signing_public, 1), n)
    ring.hold(b"c" * 16, (CAROL.signing_public, 2), "carol's")
    assert ring.pending_count == MAX_PENDING
    assert ring.waiting_for() == [(ALICE.signing_public, 1), (CAROL.signing_public, 2)]
    released = ring.release(ALICE.signing_public)
    assert released[0] == 6 and released[-1] == MAX_PENDING + 4  # the oldest went first
    assert ring.waiting_for() == [(CAROL.signing_public, 2)]


def test_a_member_with_a_low_order_key_gets_nothing_and_stops_nobody():
    ring = Keyring(ALICE)
    _, _, _, shares = ring.prepare_send(
        room_id=ROOM,
        member_key=MEMBER_KEY,
        recipients=lambda: [Recipient(BOB.signing_public, bytes(32)), *who(CAROL)],
        count=1,
        now_ms=0,
    )
    assert [recipient for recipient, _ in shares] == [CAROL.signing_public]


def test_a_key_passed_on_by_another_member_is_a_candidate_until_it_opens_something():
    ring = Keyring(BOB)
    owner, real, false = ALICE.signing_public, sk.new_sender_key(), sk.new_sender_key()
    assert ring.remember(owner, 3, false, from_owner=False)
    assert ring.sender_key(owner, 3, room_id=ROOM) == (false, False)
    assert not ring.remember(owner, 3, sk.new_sender_key(), from_owner=False)  # no overwrite
    assert ring.answer(CAROL.signing_public, [(owner, 3)], present=set()) == []  # not passed on
    ring.forget(owner, 3)  # it opened nothing
    assert ring.sender_key(owner, 3, room_id=ROOM) is None
    ring.remember(owner, 3, false, from_owner=False)
    assert ring.remember(owner, 3, real, from_owner=True)  # the owner's own replaces it
    assert ring.sender_key(owner, 3, room_id=ROOM) == (real, True)
    assert not ring.remember(owner, 3, false, from_owner=False)
    ring.forget(owner, 3)  # a proven key is never forgotten this way
    assert ring.sender_key(owner, 3, room_id=ROOM) == (real, True)


def test_a_candidate_that_opened_a_message_is_confirmed():
    ring = Keyring(BOB)
    owner, key = ALICE.signing_public, sk.new_sender_key()
    ring.remember(owner, 2, key, from_owner=False)
    ring.confirm(owner, 2, key)
    assert ring.sender_key(owner, 2, room_id=ROOM) == (key, True)
    ring.seen(owner, 2)
    assert [k for k, _ in ring.answer(CAROL.signing_public, [(owner, 2)], present=set())] == [
        (owner, 2)
    ]


def test_a_key_is_handed_to_a_member_once_until_it_leaves():
    ring = Keyring(ALICE)
    send(ring, ALICE, BOB)
    own = [(ALICE.signing_public, 1)]
    present = {ALICE.signing_public, BOB.signing_public}
    assert len(ring.answer(BOB.signing_public, own, present=present)) == 1
    assert ring.answer(BOB.signing_public, own, present=present) == []  # asked again: nothing
    ring.member_left(BOB.signing_public)
    assert len(ring.answer(BOB.signing_public, own, present=present)) == 1  # back: a new member


def test_the_room_is_looked_at_only_when_it_changed_and_message_keys_are_derived_once():
    ring = Keyring(ALICE)
    looked = []

    def room():
        looked.append(1)
        return who(BOB)

    def go():
        return ring.prepare_send(
            room_id=ROOM, member_key=MEMBER_KEY, recipients=room, count=1, now_ms=0
        )

    first = go()
    assert len(looked) == 1 and first[3]  # the first key goes to bob
    second = go()
    assert len(looked) == 1 and second[1] == first[1] and second[3] == []  # nothing changed
    ring.member_joined(CAROL.signing_public)
    go()
    assert len(looked) == 2  # an arrival: the room is looked at again
    key = ring._keys[(ALICE.signing_public, first[0])]
    assert ring.message_key(ALICE.signing_public, first[0], key, room_id=ROOM) == first[1]


def test_a_message_held_for_its_key_is_judged_by_what_came_before_it():
    # Bob's (2, 1) waited for its key while his (3, 1) and (3, 2) opened: it is no replay.
    ring = Keyring(ALICE)
    bob = BOB.signing_public
    assert ring.fresh_live(bob, 1, 9)
    floor = ring.accepted_from(bob)  # noted when (2, 1) was held
    assert floor == (1, 9)
    assert ring.fresh_live(bob, 3, 1) and ring.fresh_live(bob, 3, 2)
    assert not ring.fresh_live(bob, 2, 1)  # judged as if it had just arrived: a replay
    assert ring.fresh_held(bob, 2, 1, floor)
    assert ring.accepted_from(bob) == (3, 2)  # the newest stays the mark
    # A copy of something accepted before it arrived is still refused, held or not.
    assert not ring.fresh_held(bob, 1, 9, floor)
    assert not ring.fresh_held(bob, 1, 2, floor)
    # Held from a sender nothing was accepted from: fresh, and now the mark.
    carol = CAROL.signing_public
    assert ring.fresh_held(carol, 4, 4, None)
    assert ring.accepted_from(carol) == (4, 4)


def test_our_own_sealed_messages_keep_our_older_key_among_the_recent():
    # A message of ours whose echo never came may be in the room's history under an older
    # epoch: the key stays while it is among the last RECENT messages, so we can hand it on.
    ring = Keyring(ALICE)
    me = ALICE.signing_public
    send(ring, ALICE, BOB)
    first = ring.own_epoch
    ring.seen(me, first, count=3)  # what the client does when it seals three messages
    ring.member_left(BOB.signing_public)
    send(ring, ALICE, CAROL)
    assert ring.own_epoch == first + 1
    ring.seen(me, first + 1)
    assert ring.answer(CAROL.signing_public, [(me, first)], present=set()) != []
    assert ring.answer(BOB.signing_public, [(me, first)], present=set()) != []
    ring.seen(CAROL.signing_public, 7, count=RECENT)  # a hundred messages later it goes
    assert ring.answer(DAVE.signing_public, [(me, first)], present=set()) == []


def test_past_the_limit_the_oldest_held_messages_go_not_the_last_fetched():
    # A device paging back through missed messages holds the newest first (WELCOME), then
    # older and older pages: past MAX_PENDING the lowest positions go, and WANT asks for the
    # keys of the newest messages last (the ones kept when it is cut to 64).
    ring = Keyring(ALICE)
    bob = BOB.signing_public
    newest = range(MAX_PENDING + 100, MAX_PENDING + 200)
    for position in [*newest, *range(MAX_PENDING + 100)]:  # WELCOME first, then pages
        epoch = 2 if position >= MAX_PENDING + 100 else 1
        ring.hold(position.to_bytes(16, "big"), (bob, epoch), position, rank=position)
    assert ring.pending_count == MAX_PENDING
    released = ring.release(bob)
    assert sorted(released) == list(range(200, MAX_PENDING + 200))  # the newest kept
    for position in (5, 900, 950):
        ring.hold(position.to_bytes(16, "big"), (bob, 9 - position // 100), position, rank=position)
    assert ring.waiting_for() == [(bob, 9), (bob, 0)]  # the newest message's key last


def test_the_senders_remembered_for_replays_are_bounded_held_messages_included():
    ring = Keyring(ALICE)
    for n in range(MAX_SENDERS):
        assert ring.fresh_live(n.to_bytes(32, "big"), 1, 1)
    for n in range(MAX_SENDERS, MAX_SENDERS + 10):  # then messages that waited for their keys
        assert ring.fresh_held(n.to_bytes(32, "big"), 1, 1, None)
    assert len(ring.state()["accepted"]) == MAX_SENDERS
    assert ring.accepted_from((0).to_bytes(32, "big")) is None  # the oldest went first
