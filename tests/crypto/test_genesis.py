"""crypto.genesis: a room id bound to its owner's key and the owner's signed settings."""

from __future__ import annotations

import hashlib

import pytest

from crypto.errors import AuthenticationError
from crypto.genesis import Genesis, RoomSettings, room_id_for
from crypto.identity import Identity

from ._reference import ed_sign, flip

OWNER = Identity.from_secret(bytes(range(64)))
MALLORY = Identity.generate()
NONCE = bytes(range(100, 116))


def test_round_trip_and_check():
    genesis = Genesis.create(OWNER, nonce=NONCE)
    decoded = Genesis.decode(genesis.encode())
    assert decoded == genesis
    decoded.check(genesis.room_id)
    assert genesis.settings is RoomSettings.HISTORY_FOR_NEWCOMERS


def test_known_answer_from_the_document():
    genesis = Genesis.create(OWNER, settings=RoomSettings(0), nonce=NONCE)
    room_id = hashlib.sha256(b"SocketChat v2 room id|" + OWNER.signing_public + NONCE).digest()[:16]
    assert genesis.room_id == room_id == room_id_for(OWNER.signing_public, NONCE)
    signed = b"SocketChat v2 signature|room|" + room_id + OWNER.signing_public + b"\x00"
    assert genesis.signature == ed_sign(bytes(range(32)), signed)


def test_another_owner_cannot_claim_the_room():
    genesis = Genesis.create(OWNER, nonce=NONCE)
    forged = Genesis.create(MALLORY, nonce=NONCE)
    with pytest.raises(AuthenticationError):
        forged.check(genesis.room_id)  # another owner key makes another room id


def test_settings_and_signature_are_bound():
    genesis = Genesis.create(OWNER, nonce=NONCE)
    changed = Genesis(
        owner_key=genesis.owner_key,
        nonce=genesis.nonce,
        settings=RoomSettings(0),
        signature=genesis.signature,
    )
    with pytest.raises(AuthenticationError):
        changed.check(genesis.room_id)
    encoded = genesis.encode()
    for index in range(len(encoded)):
        try:
            tampered = Genesis.decode(flip(encoded, index))
        except ValueError:
            continue
        with pytest.raises(AuthenticationError):
            tampered.check(genesis.room_id)


def test_wrong_length():
    with pytest.raises(ValueError):
        Genesis.decode(bytes(10))
