"""crypto.epoch: sender keys sealed to members (HPKE PSK mode, signed), the ratchet, message
keys, membership tags."""

from __future__ import annotations

import pytest

from crypto import epoch
from crypto.errors import AuthenticationError
from crypto.identity import Identity

from ._reference import flip, hkdf_sha256

ROOM = bytes(range(16))
MEMBER_KEY = bytes(range(32, 64))
ALICE, BOB, CAROL, GHOST = (Identity.generate() for _ in range(4))


def share(
    to: Identity,
    key: bytes,
    *,
    number: int = 3,
    member_key: bytes = MEMBER_KEY,
    owner: Identity = ALICE,
    by: Identity = ALICE,
):
    return epoch.seal_share(
        key,
        distributor=by,
        owner=owner.signing_public,
        epoch=number,
        recipient_signing=to.signing_public,
        recipient_dh=to.dh_public,
        room_id=ROOM,
        member_key=member_key,
    )


def opened(to: Identity, blob: bytes, *, by: Identity = ALICE, member_key: bytes = MEMBER_KEY):
    return epoch.open_share(
        to, blob, distributor=by.signing_public, room_id=ROOM, member_key=member_key
    )


def test_a_member_opens_its_share():
    key = epoch.new_sender_key()
    blob = share(BOB, key)
    assert len(blob) == epoch.SHARE_SIZE
    assert opened(BOB, blob) == epoch.OpenedShare(ALICE.signing_public, 3, key)


def test_a_forwarded_share_names_its_owner_and_is_signed_by_its_distributor():
    key = epoch.new_sender_key()
    blob = share(BOB, key, owner=ALICE, by=CAROL)
    assert opened(BOB, blob, by=CAROL) == epoch.OpenedShare(ALICE.signing_public, 3, key)
    with pytest.raises(AuthenticationError):  # the relay attests the wrong distributor
        opened(BOB, blob, by=ALICE)


def test_new_sender_keys_differ():
    assert len({epoch.new_sender_key() for _ in range(50)}) == 50


def test_another_member_cannot_open_it():
    blob = share(BOB, epoch.new_sender_key())
    with pytest.raises(AuthenticationError):
        opened(CAROL, blob)


def test_a_ghost_without_the_password_gets_nothing_it_can_open():
    # The relay adds a "member" with its own keys; a distributor seals a sender key to it.
    blob = share(GHOST, epoch.new_sender_key())
    for guess in (bytes(32), bytes(range(1, 33))):
        with pytest.raises(AuthenticationError):
            opened(GHOST, blob, member_key=guess)


def test_a_distributor_without_the_password_cannot_hand_out_keys():
    blob = share(BOB, epoch.new_sender_key(), member_key=bytes(32), by=GHOST, owner=GHOST)
    with pytest.raises(AuthenticationError):
        opened(BOB, blob, by=GHOST)


def test_every_byte_of_a_share_counts():
    blob = share(BOB, epoch.new_sender_key())
    for index in range(len(blob)):
        with pytest.raises(AuthenticationError):
            opened(BOB, flip(blob, index))
    for cut in (blob[:-1], blob + b"\0", b""):
        with pytest.raises(AuthenticationError):
            opened(BOB, cut)


def test_a_share_is_bound_to_its_room():
    blob = share(BOB, epoch.new_sender_key())
    with pytest.raises(AuthenticationError):
        epoch.open_share(
            BOB, blob, distributor=ALICE.signing_public, room_id=bytes(16), member_key=MEMBER_KEY
        )


def test_a_share_sealed_for_bob_cannot_be_relabelled_for_carol():
    # The aad holds the recipient's signing key: moving Bob's share into Carol's slot fails
    # even if Carol's dh key was the one sealed to.
    blob = epoch.seal_share(
        epoch.new_sender_key(),
        distributor=ALICE,
        owner=ALICE.signing_public,
        epoch=3,
        recipient_signing=BOB.signing_public,
        recipient_dh=CAROL.dh_public,
        room_id=ROOM,
        member_key=MEMBER_KEY,
    )
    with pytest.raises(AuthenticationError):
        opened(CAROL, blob)


@pytest.mark.parametrize("number", [0, 2**32])
def test_epoch_numbers_start_at_one(number):
    with pytest.raises(ValueError):
        epoch.message_key(bytes(32), room_id=ROOM, signing_key=ALICE.signing_public, epoch=number)


def test_message_key_and_ratchet_known_answers():
    key, signer = bytes(range(32)), ALICE.signing_public
    context = ROOM + signer + (7).to_bytes(4, "big")
    assert epoch.message_key(key, room_id=ROOM, signing_key=signer, epoch=7) == hkdf_sha256(
        key, salt=b"", info=b"SocketChat v2|messages|" + context, length=32
    )
    following = ROOM + signer + (8).to_bytes(4, "big")
    assert epoch.next_sender_key(key, room_id=ROOM, signing_key=signer, epoch=7) == hkdf_sha256(
        key, salt=b"", info=b"SocketChat v2|next sender key|" + following, length=32
    )
    keys = {
        epoch.message_key(key, room_id=ROOM, signing_key=signer, epoch=8),
        epoch.message_key(key, room_id=ROOM, signing_key=signer, epoch=7),
        epoch.message_key(key, room_id=ROOM, signing_key=BOB.signing_public, epoch=7),
        epoch.next_sender_key(key, room_id=ROOM, signing_key=signer, epoch=7),
    }
    assert len(keys) == 4


def test_membership_tags():
    tag = epoch.membership_tag(
        MEMBER_KEY, room_id=ROOM, signing_key=ALICE.signing_public, dh_key=ALICE.dh_public
    )
    epoch.check_membership(
        MEMBER_KEY, tag, room_id=ROOM, signing_key=ALICE.signing_public, dh_key=ALICE.dh_public
    )
    bad = [
        (bytes(32), tag, ALICE.signing_public, ALICE.dh_public),  # no password
        (MEMBER_KEY, flip(tag, 0), ALICE.signing_public, ALICE.dh_public),
        (MEMBER_KEY, tag, BOB.signing_public, ALICE.dh_public),  # another identity
        (MEMBER_KEY, tag, ALICE.signing_public, BOB.dh_public),
    ]
    for key, candidate, signing, dh in bad:
        with pytest.raises(AuthenticationError):
            epoch.check_membership(key, candidate, room_id=ROOM, signing_key=signing, dh_key=dh)
