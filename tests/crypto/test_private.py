"""crypto.private: a box only the recipient and the sender open, bound to its room, message
and sender, with one content key for both (the commitment)."""

from __future__ import annotations

import secrets

import pytest

from crypto import private
from crypto.errors import AuthenticationError
from crypto.identity import Identity

from ._reference import flip

ALICE, BOB, CAROL = Identity.generate(), Identity.generate(), Identity.generate()
ROOM, MID = bytes(range(16)), bytes(range(16, 32))


def seal(body: bytes = b"hello bob", **changes: object) -> bytes:
    args: dict[str, object] = dict(
        sender=ALICE,
        recipient_signing=BOB.public.signing_public,
        recipient_dh=BOB.public.dh_public,
        recipient_name="bob",
        room_id=ROOM,
        message_id=MID,
        content_type="text/plain",
        body=body,
    )
    args.update(changes)
    return private.seal_private(**args)  # type: ignore[arg-type]


def open_as(identity: Identity, box: bytes, **changes: object) -> private.PrivateContent:
    args: dict[str, object] = dict(
        identity=identity,
        sender_signing=ALICE.public.signing_public,
        room_id=ROOM,
        message_id=MID,
        box=box,
    )
    args.update(changes)
    return private.open_private(**args)  # type: ignore[arg-type]


def test_the_recipient_and_the_sender_open_it():
    box = seal()
    for reader in (BOB, ALICE):
        content = open_as(reader, box)
        assert content.body == b"hello bob" and content.content_type == "text/plain"
        assert content.recipient_signing == BOB.public.signing_public
        assert content.recipient_name == "bob"


def test_another_member_cannot_open_it():
    with pytest.raises(AuthenticationError):
        open_as(CAROL, seal())


def test_each_box_is_new_and_its_size_is_bounded():
    one, two = seal(), seal()
    assert one != two  # fresh content key and nonces
    assert len(one) <= len(b"hello bob") + private.MAX_OVERHEAD
    long_name = seal(recipient_name="b" * 255, content_type="t" * 255, body=b"")
    assert len(long_name) == private.MAX_OVERHEAD


@pytest.mark.parametrize(
    "change",
    [
        {"room_id": bytes(16)},
        {"message_id": bytes(16)},
        {"sender_signing": CAROL.public.signing_public},  # moved into carol's envelope
    ],
)
def test_bound_to_its_room_message_and_sender(change):
    with pytest.raises(AuthenticationError):
        open_as(BOB, seal(), **change)


def test_every_byte_a_reader_uses_is_checked():
    # Each reads its own slot and everything after the slots; the other's slot is covered by
    # the sender's signature on the envelope around the box, not here.
    box, slot = seal(), private.SLOT_SIZE
    for reader, skipped in ((BOB, range(slot, 2 * slot)), (ALICE, range(slot))):
        for at in range(0, len(box), 5):
            if at in skipped:
                continue
            with pytest.raises(AuthenticationError):
                open_as(reader, flip(box, at))


def test_truncated_and_garbage_boxes():
    box = seal()
    for size in (0, 1, 100, 200, len(box) - 1):
        with pytest.raises(AuthenticationError):
            open_as(BOB, box[:size])
    with pytest.raises(AuthenticationError):
        open_as(BOB, secrets.token_bytes(400))


def test_a_box_naming_another_recipient_is_refused():
    # Sealed to bob's X25519 key but naming carol inside: bob must not take it as his.
    box = seal(recipient_signing=CAROL.public.signing_public)
    with pytest.raises(AuthenticationError):
        open_as(BOB, box)


def test_a_slot_with_another_content_key_fails_the_commitment():
    # A sender who puts a second content key in bob's slot (to show bob another text than it
    # keeps) is caught by the commitment.
    honest, other = seal(b"what alice keeps"), seal(b"what bob would see")
    forged = other[: private.SLOT_SIZE] + honest[private.SLOT_SIZE :]
    with pytest.raises(AuthenticationError):
        open_as(BOB, forged)


def test_bad_arguments_are_our_bugs():
    with pytest.raises(ValueError):
        seal(room_id=b"short")
    with pytest.raises(ValueError):
        seal(recipient_name="x" * 256)
    with pytest.raises(AuthenticationError):  # someone else's key: not a valid X25519 key
        seal(recipient_dh=bytes(32))
