"""crypto.epoch: epoch keys sealed to members (HPKE PSK mode), message keys, membership tags."""

from __future__ import annotations

import pytest

from crypto import epoch
from crypto.errors import AuthenticationError
from crypto.identity import Identity

from ._reference import flip, hkdf_sha256

ROOM = bytes(range(16))
MEMBER_KEY = bytes(range(32, 64))
ALICE, BOB, GHOST = Identity.generate(), Identity.generate(), Identity.generate()


def share(to: Identity, key: bytes, *, epoch_number: int = 3, member_key: bytes = MEMBER_KEY):
    return epoch.seal_share(
        key,
        recipient_signing=to.signing_public,
        recipient_dh=to.dh_public,
        room_id=ROOM,
        epoch=epoch_number,
        member_key=member_key,
    )


def test_a_member_opens_its_share():
    key = epoch.new_epoch_key()
    sealed = share(ALICE, key)
    assert len(sealed) == epoch.SEALED_SHARE_SIZE
    assert epoch.open_share(ALICE, sealed, room_id=ROOM, epoch=3, member_key=MEMBER_KEY) == key


def test_new_epoch_keys_differ():
    assert len({epoch.new_epoch_key() for _ in range(50)}) == 50


def test_another_member_cannot_open_it():
    sealed = share(ALICE, epoch.new_epoch_key())
    with pytest.raises(AuthenticationError):
        epoch.open_share(BOB, sealed, room_id=ROOM, epoch=3, member_key=MEMBER_KEY)


def test_a_ghost_without_the_password_gets_nothing_it_can_open():
    # The relay adds a "member" with its own keys; a distributor seals the epoch key to it.
    sealed = share(GHOST, epoch.new_epoch_key())
    for guess in (bytes(32), bytes(range(1, 33))):
        with pytest.raises(AuthenticationError):
            epoch.open_share(GHOST, sealed, room_id=ROOM, epoch=3, member_key=guess)


def test_a_share_is_bound_to_its_room_and_epoch_and_every_byte():
    sealed = share(ALICE, epoch.new_epoch_key())
    for kwargs in ({"room_id": bytes(16), "epoch": 3}, {"room_id": ROOM, "epoch": 4}):
        with pytest.raises(AuthenticationError):
            epoch.open_share(ALICE, sealed, member_key=MEMBER_KEY, **kwargs)
    for index in range(len(sealed)):
        with pytest.raises(AuthenticationError):
            epoch.open_share(
                ALICE, flip(sealed, index), room_id=ROOM, epoch=3, member_key=MEMBER_KEY
            )


def test_a_share_sealed_for_alice_cannot_be_relabelled_for_bob():
    # The aad is the recipient's signing key: moving Alice's share into Bob's slot fails even
    # if Bob's dh key were swapped in.
    sealed = epoch.seal_share(
        epoch.new_epoch_key(),
        recipient_signing=BOB.signing_public,
        recipient_dh=ALICE.dh_public,
        room_id=ROOM,
        epoch=3,
        member_key=MEMBER_KEY,
    )
    with pytest.raises(AuthenticationError):
        epoch.open_share(ALICE, sealed, room_id=ROOM, epoch=3, member_key=MEMBER_KEY)


@pytest.mark.parametrize("number", [0, 2**32])
def test_epoch_numbers_start_at_one(number):
    with pytest.raises(ValueError):
        epoch.message_key(bytes(32), room_id=ROOM, epoch=number)


def test_message_key_known_answer():
    key = bytes(range(32))
    info = b"SocketChat v2|messages|" + ROOM + (7).to_bytes(4, "big")
    assert epoch.message_key(key, room_id=ROOM, epoch=7) == hkdf_sha256(
        key, salt=b"", info=info, length=32
    )
    assert epoch.message_key(key, room_id=ROOM, epoch=8) != epoch.message_key(
        key, room_id=ROOM, epoch=7
    )


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
